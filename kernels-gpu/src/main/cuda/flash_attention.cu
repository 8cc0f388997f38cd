// Flash attention for prefill (n > 1 queries) over the paged KV cache: causal, GQA, sliding window,
// chunked, sinks, soft-cap; every KvType (F32, F16, BF16, Q8_0). Same semantics as attention.cu's
// kernel and the CPU backend: score = (q . k) * scale, then soft-cap, then the masks; the softmax may
// include one sink logit per head; keys below firstLive are never read.
//
// A block takes FA_BQ consecutive queries of one head (8 warps, FA_QPW queries a warp) and walks their
// keys KT at a time: the key and value rows of the tile are read through the block table, decoded to
// fp32 into shared memory once, and used by all the block's queries (so the cache is read n / FA_BQ
// times per head instead of n times). Each warp keeps an online softmax per query; a lane owns keys
// lane, lane + 32, ... of the tile for the scores and output dimensions lane, lane + 32, ... for the
// weighted sum of values. CUDA cores, fp32 throughout (tensor cores: a later step).
#include "common.cuh"
#include "flash_attention.cuh"

namespace isthmus {

namespace {

constexpr int FA_WARPS = 8;
constexpr int FA_QPW = 4;                   // queries a warp
constexpr int FA_BQ = FA_WARPS * FA_QPW;    // queries a block
constexpr int FA_THREADS = FA_WARPS * 32;

__device__ __forceinline__ int fa_row_offset_key(int g, int r, int T) {
    return g * T + r;
}

// Element i of an encoded KV row.
__device__ __forceinline__ float fa_elem(int type, const uint8_t *row, int i) {
    switch (type) {
        case KV_F32: return reinterpret_cast<const float *>(row)[i];
        case KV_F16: return __half2float(__ushort_as_half(reinterpret_cast<const unsigned short *>(row)[i]));
        case KV_BF16: return bf16_to_float(reinterpret_cast<const unsigned short *>(row)[i]);
        default: {
            const uint8_t *blk = row + 34LL * (i >> 5);
            return (float) (int8_t) blk[2 + (i & 31)] * ld_f16(blk);
        }
    }
}

// The first key position query position p may read.
__device__ __forceinline__ int fa_first_key(int p, int window, int chunk, int firstLive) {
    int from = firstLive;
    if (window > 0) from = max(from, p - window + 1);
    if (chunk > 0) from = max(from, p / chunk * chunk);
    return from;
}

// DPL: output dimensions a lane owns (headDim <= 32 * DPL); KT: keys a tile.
template <int DPL, int KT>
__global__ void __launch_bounds__(FA_THREADS) flash_attention_kernel(
        const float *q, float *out, int n, int heads, int kvHeads, int headDim, float scale, int window, int chunk,
        float softCap, const float *sinks, int firstPosition, int firstLive, const uint8_t *pool, int type,
        const int *table, int T, long long blockBytes, long long rowBytes) {
    constexpr int KPL = (KT + 31) / 32;  // keys a lane scores
    extern __shared__ __align__(16) float fa_smem[];
    const int hd4 = (headDim + 3) & ~3;
    const int ld = hd4 + 4;              // row stride: 16-byte rows, conflict-free float4 reads across rows
    float *qs = fa_smem;                 // [FA_BQ][ld]
    float *ks = qs + FA_BQ * ld;         // [KT][ld]
    float *vs = ks + KT * ld;            // [KT][ld]
    float *ps = vs + KT * ld;            // [FA_BQ][KT]

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int h = blockIdx.y;
    const int g = h / (heads / kvHeads);
    const int qt0 = blockIdx.x * FA_BQ;
    const int qCount = min(FA_BQ, n - qt0);
    const int pFirst = firstPosition + qt0;
    const int pLast = pFirst + qCount - 1;
    const int kStart = fa_first_key(pFirst, window, chunk, firstLive);  // non-decreasing in p

    // Queries (zeros past n and past headDim).
    for (int e = tid; e < FA_BQ * ld; e += FA_THREADS) {
        const int r = e / ld;
        const int i = e % ld;
        float v = 0.f;
        if (r < qCount && i < headDim) v = q[((long long) (qt0 + r) * heads + h) * headDim + i];
        qs[e] = v;
    }

    // This warp's queries.
    int pos[FA_QPW];
    int from[FA_QPW];
    float runMax[FA_QPW];
    float runSum[FA_QPW];
    float acc[FA_QPW][DPL];
#pragma unroll
    for (int a = 0; a < FA_QPW; a++) {
        const int r = warp * FA_QPW + a;
        pos[a] = r < qCount ? pFirst + r : -1;  // -1: no query (never valid)
        from[a] = r < qCount ? fa_first_key(pFirst + r, window, chunk, firstLive) : 0;
        runMax[a] = -INFINITY;
        runSum[a] = 0.f;
#pragma unroll
        for (int m = 0; m < DPL; m++) acc[a][m] = 0.f;
    }

    for (int k0 = kStart; k0 <= pLast; k0 += KT) {
        __syncthreads();  // the previous tile's ks/vs (and, first time, nothing) are no longer read
        for (int e = tid; e < KT * hd4; e += FA_THREADS) {
            const int j = e / hd4;
            const int i = e % hd4;
            const int kp = k0 + j;
            float kv = 0.f;
            float vv = 0.f;
            if (kp <= pLast && i < headDim) {
                const long long base = (long long) table[kp / T] * blockBytes;
                const int r = kp % T;
                kv = fa_elem(type, pool + base + (long long) fa_row_offset_key(g, r, T) * rowBytes, i);
                vv = fa_elem(type, pool + base + ((long long) (kvHeads + g) * T + r) * rowBytes, i);
            }
            ks[j * ld + i] = kv;
            vs[j * ld + i] = vv;
        }
        __syncthreads();

        // Scores of this lane's keys for the warp's queries.
        float sc[FA_QPW][KPL];
#pragma unroll
        for (int a = 0; a < FA_QPW; a++)
#pragma unroll
            for (int b = 0; b < KPL; b++) sc[a][b] = 0.f;
        const float *q0 = qs + warp * FA_QPW * ld;
        for (int i = 0; i < hd4; i += 4) {
            float4 qv[FA_QPW];
#pragma unroll
            for (int a = 0; a < FA_QPW; a++) qv[a] = *reinterpret_cast<const float4 *>(q0 + a * ld + i);
#pragma unroll
            for (int b = 0; b < KPL; b++) {
                const int j = lane + 32 * b;
                if (KT % 32 == 0 || j < KT) {
                    const float4 kv = *reinterpret_cast<const float4 *>(ks + j * ld + i);
#pragma unroll
                    for (int a = 0; a < FA_QPW; a++) {
                        sc[a][b] += qv[a].x * kv.x + qv[a].y * kv.y + qv[a].z * kv.z + qv[a].w * kv.w;
                    }
                }
            }
        }

        // Online softmax per query; the weights go to this warp's rows of ps.
#pragma unroll
        for (int a = 0; a < FA_QPW; a++) {
            float s[KPL];
            float tileMax = -INFINITY;
#pragma unroll
            for (int b = 0; b < KPL; b++) {
                const int j = lane + 32 * b;
                const int kp = k0 + j;
                const bool valid = (KT % 32 == 0 || j < KT) && kp >= from[a] && kp <= pos[a];
                float v = sc[a][b] * scale;
                if (softCap > 0.f) v = (float) ((double) softCap * tanh((double) (v / softCap)));
                s[b] = valid ? v : -INFINITY;
                tileMax = fmaxf(tileMax, s[b]);
            }
            tileMax = warp_max(tileMax);
            const float newMax = fmaxf(runMax[a], tileMax);
            // newMax is -inf only while this query has seen no valid key: nothing to rescale or add.
            const float corr = newMax == -INFINITY ? 1.f : expf(runMax[a] - newMax);
            float sum = 0.f;
            float *prow = ps + (warp * FA_QPW + a) * KT;
#pragma unroll
            for (int b = 0; b < KPL; b++) {
                const int j = lane + 32 * b;
                const float e = s[b] == -INFINITY ? 0.f : expf(s[b] - newMax);
                sum += e;
                if (KT % 32 == 0 || j < KT) prow[j] = e;
            }
            runSum[a] = runSum[a] * corr + warp_sum(sum);
            runMax[a] = newMax;
#pragma unroll
            for (int m = 0; m < DPL; m++) acc[a][m] *= corr;
        }
        __syncwarp();

        // Weighted values: keys of the tile in order, this lane's output dimensions.
        const int kCount = min(KT, pLast - k0 + 1);
        const float *p0 = ps + warp * FA_QPW * KT;
        for (int j = 0; j < kCount; j++) {
            float pw[FA_QPW];
#pragma unroll
            for (int a = 0; a < FA_QPW; a++) pw[a] = p0[a * KT + j];
            const float *vrow = vs + j * ld;
#pragma unroll
            for (int m = 0; m < DPL; m++) {
                const int d = lane + 32 * m;
                const float v = d < hd4 ? vrow[d] : 0.f;  // zeros in [headDim, hd4)
#pragma unroll
                for (int a = 0; a < FA_QPW; a++) acc[a][m] += pw[a] * v;
            }
        }
        __syncwarp();  // ps rows are rewritten by the next tile
    }

#pragma unroll
    for (int a = 0; a < FA_QPW; a++) {
        if (pos[a] < 0) continue;
        float norm = runSum[a];
        float outScale = 1.f;
        if (sinks != nullptr) {
            const float sink = sinks[h];
            const float m = fmaxf(runMax[a], sink);
            outScale = expf(runMax[a] - m);
            norm = runSum[a] * outScale + expf(sink - m);
        }
        const float inv = outScale / norm;
        float *o = out + ((long long) (qt0 + warp * FA_QPW + a) * heads + h) * headDim;
#pragma unroll
        for (int m = 0; m < DPL; m++) {
            const int d = lane + 32 * m;
            if (d < headDim) o[d] = acc[a][m] * inv;
        }
    }
}

template <int DPL, int KT>
int launch_fa(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads, int headDim, float scale,
              int window, int chunk, float softCap, const float *sinks, int firstPosition, int firstLive,
              const void *pool, int kvType, const int *table, int T, long long blockBytes, long long rowBytes) {
    const int ld = ((headDim + 3) & ~3) + 4;
    const size_t shared = (size_t) ((FA_BQ + 2 * KT) * ld + FA_BQ * KT) * sizeof(float);
    cudaError_t e = cudaFuncSetAttribute(flash_attention_kernel<DPL, KT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int) shared);
    if (e != cudaSuccess) return (int) e;
    dim3 grid((n + FA_BQ - 1) / FA_BQ, heads);
    flash_attention_kernel<DPL, KT><<<grid, FA_THREADS, shared, s>>>(
            q, out, n, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks, firstPosition, firstLive,
            static_cast<const uint8_t *>(pool), kvType, table, T, blockBytes, rowBytes);
    return launched();
}

}  // namespace

int flash_attention(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads, int headDim,
                    float scale, int window, int chunk, float softCap, const float *sinks, int firstPosition,
                    int firstLive, const void *pool, int kvType, const int *blockTable, int tokensPerBlock,
                    long long blockBytes, long long rowBytes) {
    if (n <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 || headDim > FA_MAX_HEAD_DIM ||
        heads > 65535 || kvType < 0 || kvType > 3 || tokensPerBlock <= 0 || (kvType == KV_Q8_0 && headDim % 32 != 0)) {
        return (int) cudaErrorInvalidValue;
    }
#define FA(D, K) launch_fa<D, K>(s, q, out, n, heads, kvHeads, headDim, scale, window, chunk, softCap, sinks, \
                                 firstPosition, firstLive, pool, kvType, blockTable, tokensPerBlock, blockBytes, rowBytes)
    if (headDim <= 32) return FA(1, 64);
    if (headDim <= 64) return FA(2, 64);
    if (headDim <= 128) return FA(4, 64);
    if (headDim <= 256) return FA(8, 32);
    return FA(16, 16);
#undef FA
}

}  // namespace isthmus
