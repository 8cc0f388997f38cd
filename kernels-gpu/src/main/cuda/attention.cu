// The paged KV cache on the device: storing keys/values (encoded as the pool's KvType) and causal
// attention over them. The pool layout is dev.isthmus.memory.kv.KvBlockPool's: a block of one layer
// holds, for T tokens, kvHeads runs of T key rows then kvHeads runs of T value rows; row r of head g
// of a block b is at b*blockBytes + (g*T + r)*rowBytes (keys) or ((kvHeads + g)*T + r)*rowBytes
// (values). The caller passes the layer's block table (physical block per logical block).
#include "common.cuh"
#include "flash_attention.cuh"

namespace isthmus {

constexpr int ATT_THREADS = 128;
constexpr int ATT_MAX_DIMS = 4;  // dims a thread accumulates: headDim <= ATT_THREADS * ATT_MAX_DIMS

__device__ __forceinline__ long long key_offset(const int *table, int j, int g, int T, long long blockBytes,
                                                long long rowBytes) {
    return (long long) table[j / T] * blockBytes + ((long long) g * T + j % T) * rowBytes;
}

__device__ __forceinline__ long long value_offset(const int *table, int j, int g, int kvHeads, int T,
                                                  long long blockBytes, long long rowBytes) {
    return (long long) table[j / T] * blockBytes + ((long long) (kvHeads + g) * T + j % T) * rowBytes;
}

// Round to bfloat16, nearest even; NaN stays a quiet NaN of the same sign (as KvCodec.floatToBf16).
__device__ __forceinline__ unsigned short float_to_bf16(float f) {
    unsigned int bits = __float_as_uint(f);
    if (isnan(f)) return (unsigned short) ((bits >> 16) | 0x40);
    unsigned int rounded = bits + 0x7FFF + ((bits >> 16) & 1);
    return (unsigned short) (rounded >> 16);
}

// One block a (token, KV head): encodes that token's key and value rows. blockDim.x is a multiple of 32.
__global__ void store_kv_kernel(int type, uint8_t *pool, const float *k, const float *v, int kvHeads, int headDim,
                                int firstPosition, const int *table, int T, long long blockBytes,
                                long long rowBytes, const int *dyn) {
    if (dyn != nullptr) firstPosition = dyn[0];  // a replayed graph reads the step's position here
    const int t = blockIdx.x / kvHeads;
    const int g = blockIdx.x % kvHeads;
    const int j = firstPosition + t;
    const long long src = ((long long) t * kvHeads + g) * headDim;
    for (int which = 0; which < 2; which++) {
        const float *in = (which == 0 ? k : v) + src;
        uint8_t *row = pool + (which == 0 ? key_offset(table, j, g, T, blockBytes, rowBytes)
                                          : value_offset(table, j, g, kvHeads, T, blockBytes, rowBytes));
        if (type == KV_Q8_0) {
            // One warp a 32-value block, as KvCodec's encodeQ8Block.
            const int lane = threadIdx.x & 31;
            for (int b = threadIdx.x >> 5; b < headDim / 32; b += blockDim.x >> 5) {
                const float x = in[32 * b + lane];
                const float amax = warp_max(fabsf(x));
                const float d = amax / 127.0f;
                unsigned short dh = __half_as_ushort(__float2half_rn(d));
                float d16 = __half2float(__ushort_as_half(dh));
                if (d16 > d && dh > 0) {
                    dh--;
                    d16 = __half2float(__ushort_as_half(dh));
                }
                uint8_t *blk = row + 34LL * b;
                if (lane == 0) {
                    blk[0] = (uint8_t) (dh & 0xFF);
                    blk[1] = (uint8_t) (dh >> 8);
                }
                const bool zero = d16 == 0.f || isinf(d16);
                const float q = zero ? 0.f : x / d16;
                int qi = (int) copysignf(floorf(fabsf(q) + 0.5f), q);
                if (q == 0.f) qi = 0;
                qi = max(-127, min(127, qi));
                blk[2 + lane] = (uint8_t) (int8_t) qi;
            }
        } else {
            for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
                const float x = in[i];
                if (type == KV_F32) {
                    reinterpret_cast<float *>(row)[i] = x;
                } else if (type == KV_F16) {
                    reinterpret_cast<unsigned short *>(row)[i] = __half_as_ushort(__float2half_rn(x));
                } else {
                    reinterpret_cast<unsigned short *>(row)[i] = float_to_bf16(x);
                }
            }
        }
    }
}

// The first, plain attention kernel, one block a (query token, head), kept as the fp32 reference of the
// prefill check and benchmark (kernels-gpu/bench): the backend itself uses flash_attention.cu for
// several queries and attention_decode_kernel below for one. Keys are taken ATT_THREADS at a time (one a
// thread for the scores), with an online softmax across tiles; each thread accumulates up to
// ATT_MAX_DIMS output dimensions (d = tid + ATT_THREADS * k), reading value rows coalesced.
__global__ void __launch_bounds__(ATT_THREADS) attention_kernel(
        const float *q, float *out, int heads, int kvHeads, int headDim, float scale, int window, int chunk,
        float softCap, const float *sinks, int firstPosition, int firstLive, const uint8_t *pool, int type,
        const int *table, int T, long long blockBytes, long long rowBytes) {
    extern __shared__ float smem[];
    float *qs = smem;                 // headDim
    float *ps = smem + headDim;       // ATT_THREADS scores / weights
    __shared__ float scratch[32];
    const int t = blockIdx.x;
    const int h = blockIdx.y;
    const int g = h / (heads / kvHeads);
    const int p = firstPosition + t;
    int from = 0;
    if (window > 0) from = max(from, p - window + 1);
    if (chunk > 0) from = max(from, p / chunk * chunk);
    from = max(from, firstLive);
    const long long qBase = ((long long) t * heads + h) * headDim;
    for (int i = threadIdx.x; i < headDim; i += ATT_THREADS) qs[i] = q[qBase + i];
    __syncthreads();

    float runMax = -INFINITY;
    float runSum = 0.f;
    float acc[ATT_MAX_DIMS];
#pragma unroll
    for (int k = 0; k < ATT_MAX_DIMS; k++) acc[k] = 0.f;

    for (int j0 = from; j0 <= p; j0 += ATT_THREADS) {
        const int j = j0 + threadIdx.x;
        float s = -INFINITY;
        if (j <= p) {
            const uint8_t *krow = pool + key_offset(table, j, g, T, blockBytes, rowBytes);
            float dot = 0.f;
            for (int i = 0; i < headDim; i++) dot += qs[i] * kv_elem(type, krow, i);
            s = dot * scale;
            if (softCap > 0.f) s = (float) ((double) softCap * tanh((double) (s / softCap)));
        }
        const float tileMax = block_max(s, scratch);
        const float newMax = fmaxf(runMax, tileMax);
        const float corr = expf(runMax - newMax);  // 0 on the first tile
        const float e = j <= p ? expf(s - newMax) : 0.f;
        ps[threadIdx.x] = e;
        const float tileSum = block_sum(e, scratch);  // ends with a barrier: ps is complete
        runSum = runSum * corr + tileSum;
        runMax = newMax;
        const int count = min(ATT_THREADS, p - j0 + 1);
#pragma unroll
        for (int k = 0; k < ATT_MAX_DIMS; k++) {
            const int d = threadIdx.x + ATT_THREADS * k;
            if (d < headDim) {
                float a = acc[k] * corr;
                for (int jj = 0; jj < count; jj++) {
                    const uint8_t *vrow = pool + value_offset(table, j0 + jj, g, kvHeads, T, blockBytes, rowBytes);
                    a += ps[jj] * kv_elem(type, vrow, d);
                }
                acc[k] = a;
            }
        }
        __syncthreads();  // ps is rewritten by the next tile
    }
    float norm = runSum;
    float outScale = 1.f;
    if (sinks != nullptr) {
        const float sink = sinks[h];
        const float m = fmaxf(runMax, sink);
        outScale = expf(runMax - m);
        norm = runSum * outScale + expf(sink - m);
    }
    const float inv = outScale / norm;
#pragma unroll
    for (int k = 0; k < ATT_MAX_DIMS; k++) {
        const int d = threadIdx.x + ATT_THREADS * k;
        if (d < headDim) out[qBase + d] = acc[k] * inv;
    }
}

// One block a head: merges the splits of attention_decode_kernel (one query) as one online softmax would
// have, then the sink as the single-block kernels do.
__global__ void __launch_bounds__(ATT_THREADS) attention_combine_kernel(const float *part, float *out, int headDim,
                                                                        int splits, const float *sinks) {
    const int h = blockIdx.x;
    const float *base = part + (long long) h * splits * (headDim + 2);
    float m = -INFINITY;
    for (int s = 0; s < splits; s++) m = fmaxf(m, base[(long long) s * (headDim + 2) + headDim]);
    float sum = 0.f;
    for (int s = 0; s < splits; s++) {
        const float *ps = base + (long long) s * (headDim + 2);
        if (ps[headDim + 1] > 0.f) sum += ps[headDim + 1] * expf(ps[headDim] - m);
    }
    float norm = sum;
    float outScale = 1.f;
    if (sinks != nullptr) {
        const float sink = sinks[h];
        const float mm = fmaxf(m, sink);
        outScale = expf(m - mm);
        norm = sum * outScale + expf(sink - mm);
    }
    const float inv = outScale / norm;
    for (int d = threadIdx.x; d < headDim; d += ATT_THREADS) {
        float o = 0.f;
        for (int s = 0; s < splits; s++) {
            const float *ps = base + (long long) s * (headDim + 2);
            if (ps[headDim + 1] > 0.f) o += ps[d] * expf(ps[headDim] - m);
        }
        out[(long long) h * headDim + d] = o * inv;
    }
}

// Splits for one query over `heads` heads: about two blocks per multiprocessor, at most
// ATT_MAX_SPLITS; 1 (no scratch needed) when the heads alone fill the GPU or there is no scratch.
constexpr int ATT_MAX_SPLITS = 16;
constexpr int ATT_SPLIT_MAX_HEADS = 128;
inline int decode_splits(int heads, const float *scratch) {
    if (scratch == nullptr || heads > ATT_SPLIT_MAX_HEADS) return 1;
    return max(1, min(ATT_MAX_SPLITS, 264 / heads));
}

// ---- decode: one query ----
//
// One block of DEC_WARPS warps a head. Warp w takes DEC_KEYS consecutive keys at a time (keys
// from + w*DEC_KEYS, then DEC_WARPS*DEC_KEYS further on), loading the key and value rows of all of them
// before using any (so several rows are in flight per warp instead of one load after another); lane l
// holds dimensions [l*DPL, l*DPL + DPL) of q, of each row (consecutive lanes read consecutive bytes)
// and of its output accumulator. Each warp keeps its own online softmax (max, sum, accumulator); the
// warps are merged in shared memory at the end, with the sinks as in attention_kernel.
constexpr int DEC_WARPS = 8;

template <int KV>
__device__ __forceinline__ float kv_at(const uint8_t *row, int i) {
    if (KV == KV_F32) return reinterpret_cast<const float *>(row)[i];
    if (KV == KV_F16) return __half2float(__ushort_as_half(reinterpret_cast<const unsigned short *>(row)[i]));
    if (KV == KV_BF16) return bf16_to_float(reinterpret_cast<const unsigned short *>(row)[i]);
    const uint8_t *blk = row + 34LL * (i >> 5);
    return (float) (int8_t) blk[2 + (i & 31)] * ld_f16(blk);
}

template <int KV, int DPL>
__global__ void __launch_bounds__(DEC_WARPS * 32) attention_decode_kernel(
        const float *q, float *out, int heads, int kvHeads, int headDim, float scale, int window, int chunk,
        float softCap, const float *sinks, int p, int firstLive, const uint8_t *pool, const int *table, int T,
        long long blockBytes, long long rowBytes, const int *dyn, int splits, float *part) {
    if (dyn != nullptr) {  // a replayed graph reads the step's position and first live key here
        p = dyn[0];
        firstLive = dyn[1];
    }
    constexpr int KEYS = DPL >= 16 ? 2 : 4;
    extern __shared__ float wacc[];  // DEC_WARPS * headDim
    __shared__ float wm[DEC_WARPS];
    __shared__ float wl[DEC_WARPS];
    const int h = blockIdx.x;
    const int split = blockIdx.y;
    const int g = h / (heads / kvHeads);
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    int from = 0;
    if (window > 0) from = max(from, p - window + 1);
    if (chunk > 0) from = max(from, p / chunk * chunk);
    from = max(from, firstLive);
    if (splits > 1) {  // this block's share of the keys: from .. p (empty for the tail of a short context)
        const int per = (p - from + 1 + splits - 1) / splits;
        from += split * per;
        p = min(p, from + per - 1);
    }
    const int d0 = lane * DPL;
    float qv[DPL];
    float acc[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) {
        qv[i] = d0 + i < headDim ? q[(long long) h * headDim + d0 + i] : 0.f;
        acc[i] = 0.f;
    }
    float m = -INFINITY;
    float l = 0.f;
    for (int j0 = from + warp * KEYS; j0 <= p; j0 += DEC_WARPS * KEYS) {
        float kr[KEYS][DPL];
        float vr[KEYS][DPL];
#pragma unroll
        for (int k = 0; k < KEYS; k++) {
            const int j = min(j0 + k, p);  // past p: re-read key p, weighted 0 below
            const uint8_t *krow = pool + key_offset(table, j, g, T, blockBytes, rowBytes);
            const uint8_t *vrow = pool + value_offset(table, j, g, kvHeads, T, blockBytes, rowBytes);
#pragma unroll
            for (int i = 0; i < DPL; i++) {
                const bool in = d0 + i < headDim;
                kr[k][i] = in ? kv_at<KV>(krow, d0 + i) : 0.f;
                vr[k][i] = in ? kv_at<KV>(vrow, d0 + i) : 0.f;
            }
        }
        float sc[KEYS];
        float bm = -INFINITY;
#pragma unroll
        for (int k = 0; k < KEYS; k++) {
            float dot = 0.f;
#pragma unroll
            for (int i = 0; i < DPL; i++) dot += qv[i] * kr[k][i];
            float sk = warp_sum(dot) * scale;
            if (softCap > 0.f) sk = (float) ((double) softCap * tanh((double) (sk / softCap)));
            sc[k] = j0 + k <= p ? sk : -INFINITY;
            bm = fmaxf(bm, sc[k]);
        }
        const float nm = fmaxf(m, bm);  // finite: key j0 <= p is real
        const float corr = expf(m - nm);  // 0 on the warp's first step
        l *= corr;
#pragma unroll
        for (int i = 0; i < DPL; i++) acc[i] *= corr;
#pragma unroll
        for (int k = 0; k < KEYS; k++) {
            const float e = expf(sc[k] - nm);  // 0 for keys past p
            l += e;
#pragma unroll
            for (int i = 0; i < DPL; i++) acc[i] += e * vr[k][i];
        }
        m = nm;
    }
    if (lane == 0) {
        wm[warp] = m;
        wl[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < DPL; i++) {
        if (d0 + i < headDim) wacc[warp * headDim + d0 + i] = acc[i];
    }
    __syncthreads();
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) mx = fmaxf(mx, wm[w]);
    float f[DEC_WARPS];
    float sum = 0.f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) {
        f[w] = wm[w] == -INFINITY ? 0.f : expf(wm[w] - mx);  // a warp without keys adds nothing
        sum += wl[w] * f[w];
    }
    if (part != nullptr) {  // one split of several: unnormalised output, max and sum for the combine kernel
        float *mine = part + ((long long) h * splits + split) * (headDim + 2);
        for (int d = threadIdx.x; d < headDim; d += DEC_WARPS * 32) {
            float o = 0.f;
#pragma unroll
            for (int w = 0; w < DEC_WARPS; w++) o += wacc[w * headDim + d] * f[w];
            mine[d] = o;
        }
        if (threadIdx.x == 0) {
            mine[headDim] = mx;
            mine[headDim + 1] = sum;
        }
        return;
    }
    float norm = sum;
    float outScale = 1.f;
    if (sinks != nullptr) {
        const float sink = sinks[h];
        const float mm = fmaxf(mx, sink);
        outScale = expf(mx - mm);
        norm = sum * outScale + expf(sink - mm);
    }
    const float inv = outScale / norm;
    for (int d = threadIdx.x; d < headDim; d += DEC_WARPS * 32) {
        float o = 0.f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++) o += wacc[w * headDim + d] * f[w];
        out[(long long) h * headDim + d] = o * inv;
    }
}

template <int KV>
int launch_attention_decode(cudaStream_t s, const float *q, float *out, int heads, int kvHeads, int headDim,
                            float scale, int window, int chunk, float softCap, const float *sinks, int p, int firstLive,
                            const uint8_t *pool, const int *table, int T, long long blockBytes, long long rowBytes,
                            const int *dyn, float *scratch) {
    const size_t shared = (size_t) DEC_WARPS * headDim * sizeof(float);
    const int splits = decode_splits(heads, scratch);
    float *part = splits > 1 ? scratch : nullptr;
    const dim3 grid(heads, splits);
#define DEC(DPL)                                                                                                  \
    attention_decode_kernel<KV, DPL><<<grid, DEC_WARPS * 32, shared, s>>>(q, out, heads, kvHeads, headDim, scale, \
                                                                          window, chunk, softCap, sinks, p,      \
                                                                          firstLive, pool, table, T, blockBytes, \
                                                                          rowBytes, dyn, splits, part)
    if (headDim <= 32) {
        DEC(1);
    } else if (headDim <= 64) {
        DEC(2);
    } else if (headDim <= 128) {
        DEC(4);
    } else if (headDim <= 256) {
        DEC(8);
    } else {
        DEC(16);
    }
#undef DEC
    if (splits > 1) {
        const cudaError_t e = cudaPeekAtLastError();
        if (e != cudaSuccess) return launched();
        attention_combine_kernel<<<heads, ATT_THREADS, 0, s>>>(scratch, out, headDim, splits, sinks);
    }
    return launched();
}

// One query over any KV type (attention_decode_kernel).
int decode_attention(cudaStream_t s, const float *q, float *out, int heads, int kvHeads, int headDim, float scale,
                     int window, int chunk, float softCap, const float *sinks, int p, int firstLive,
                     const uint8_t *pool, int kvType, const int *table, int T, long long blockBytes,
                     long long rowBytes, const int *dyn, float *scratch) {
#define DECODE(KV)                                                                                                 \
    launch_attention_decode<KV>(s, q, out, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks, p,       \
                                firstLive, pool, table, T, blockBytes, rowBytes, dyn, scratch)
    switch (kvType) {
        case KV_F32: return DECODE(KV_F32);
        case KV_F16: return DECODE(KV_F16);
        case KV_BF16: return DECODE(KV_BF16);
        default: return DECODE(KV_Q8_0);
    }
#undef DECODE
}

}  // namespace isthmus

using namespace isthmus;

extern "C" int isthmus_store_kv(cudaStream_t s, int kvType, void *pool, const float *k, const float *v, int n,
                                int kvHeads, int headDim, int firstPosition, const int *blockTable, int tokensPerBlock,
                                long long blockBytes, long long rowBytes) {
    if (n <= 0 || kvHeads <= 0 || headDim <= 0 || tokensPerBlock <= 0 || kvType < 0 || kvType > 3 ||
        (kvType == KV_Q8_0 && headDim % 32 != 0) || (long long) n * kvHeads > 0x7fffffffLL) {
        return (int) cudaErrorInvalidValue;
    }
    store_kv_kernel<<<n * kvHeads, 128, 0, s>>>(kvType, static_cast<uint8_t *>(pool), k, v, kvHeads, headDim,
                                                firstPosition, blockTable, tokensPerBlock, blockBytes, rowBytes,
                                                nullptr);
    return launched();
}

extern "C" int isthmus_store_kv_dyn(cudaStream_t s, int kvType, void *pool, const float *k, const float *v,
                                    int kvHeads, int headDim, const int *dyn, const int *blockTable,
                                    int tokensPerBlock, long long blockBytes, long long rowBytes) {
    if (dyn == nullptr || kvHeads <= 0 || headDim <= 0 || tokensPerBlock <= 0 || kvType < 0 || kvType > 3 ||
        (kvType == KV_Q8_0 && headDim % 32 != 0)) {
        return (int) cudaErrorInvalidValue;
    }
    store_kv_kernel<<<kvHeads, 128, 0, s>>>(kvType, static_cast<uint8_t *>(pool), k, v, kvHeads, headDim, 0,
                                            blockTable, tokensPerBlock, blockBytes, rowBytes, dyn);
    return launched();
}

extern "C" int isthmus_attention(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads,
                                 int headDim, float scale, int window, int chunk, float softCap, const float *sinks,
                                 int firstPosition, int firstLive, const void *pool, int kvType, const int *blockTable,
                                 int tokensPerBlock, long long blockBytes, long long rowBytes, float *scratch) {
    if (n <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 ||
        headDim > ATT_THREADS * ATT_MAX_DIMS || heads > 65535 || kvType < 0 || kvType > 3 || tokensPerBlock <= 0 ||
        (kvType == KV_Q8_0 && headDim % 32 != 0)) {
        return (int) cudaErrorInvalidValue;
    }
    if (n > 1) {  // prefill: query tiles share each key/value tile (flash_attention.cu)
        return flash_attention(s, q, out, n, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks,
                               firstPosition, firstLive, pool, kvType, blockTable, tokensPerBlock, blockBytes, rowBytes);
    }
    return decode_attention(s, q, out, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks, firstPosition,
                            firstLive, static_cast<const uint8_t *>(pool), kvType, blockTable, tokensPerBlock,
                            blockBytes, rowBytes, nullptr, scratch);
}

extern "C" int isthmus_attention_dyn(cudaStream_t s, const float *q, float *out, int heads, int kvHeads, int headDim,
                                     float scale, int window, int chunk, float softCap, const float *sinks,
                                     const int *dyn, const void *pool, int kvType, const int *blockTable,
                                     int tokensPerBlock, long long blockBytes, long long rowBytes, float *scratch) {
    if (dyn == nullptr || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 ||
        headDim > ATT_THREADS * ATT_MAX_DIMS || heads > 65535 || kvType < 0 || kvType > 3 || tokensPerBlock <= 0 ||
        (kvType == KV_Q8_0 && headDim % 32 != 0)) {
        return (int) cudaErrorInvalidValue;
    }
    return decode_attention(s, q, out, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks, 0, 0,
                            static_cast<const uint8_t *>(pool), kvType, blockTable, tokensPerBlock, blockBytes,
                            rowBytes, dyn, scratch);
}
