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
                kv = kv_elem(type, pool + base + (long long) fa_row_offset_key(g, r, T) * rowBytes, i);
                vv = kv_elem(type, pool + base + ((long long) (kvHeads + g) * T + r) * rowBytes, i);
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

// ---- Tensor-core variant for F16 caches (head dims 64 and 128) ----
// A block takes TA_BQ = 64 queries of one head (4 warps x 16); keys TA_KT = 64 a tile, K stored [key][dim] and V
// transposed [dim][key] in shared memory as the cache's own f16 bits. S = Q K^T and O += P V run on
// mma.sync.m16n8k16 (f16 x f16 -> fp32). To keep fp32-level accuracy, the fp32 operands (q, and the softmax
// weights p) are split into two f16 parts, x = hi + lo with hi = f16(x), lo = f16(x - hi) (relative error about
// 2^-22), and each product is the sum of two MMAs; the cache's f16 keys and values are exact. Masks, scale,
// soft-cap, sinks and firstLive as the kernel above; softmax state per query row in each quad of lanes.
constexpr int TA_WARPS = 4;
constexpr int TA_BQ = TA_WARPS * 16;
constexpr int TA_KT = 64;
constexpr int TA_THREADS = TA_WARPS * 32;

__device__ __forceinline__ unsigned int ta_ld32(const unsigned short *p) {
    return *reinterpret_cast<const unsigned int *>(p);
}

__device__ __forceinline__ void ta_mma(float (&d)[4], const unsigned int (&a)[4], unsigned int b0, unsigned int b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// (x, y) as the f16 pairs hi and lo with x ~ hi.x + lo.x, y ~ hi.y + lo.y.
__device__ __forceinline__ void ta_split(float x, float y, unsigned int &hi, unsigned int &lo) {
    const __half2 h = __floats2half2_rn(x, y);
    const __half2 l = __floats2half2_rn(x - __low2float(h), y - __high2float(h));
    hi = *reinterpret_cast<const unsigned int *>(&h);
    lo = *reinterpret_cast<const unsigned int *>(&l);
}

template <int D>
__global__ void __launch_bounds__(TA_THREADS) flash_tc_f16_kernel(
        const float *q, float *out, int n, int heads, int kvHeads, float scale, int window, int chunk,
        float softCap, const float *sinks, int firstPosition, int firstLive, const uint8_t *pool, const int *table,
        int T, long long blockBytes, long long rowBytes) {
    constexpr int LD = D + 8;        // row stride of Q and K in halves: conflict-free fragment loads
    constexpr int LDT = TA_KT + 8;   // row stride of V^T
    constexpr int CPR = D / 8;       // 16-byte chunks a cache row
    constexpr int NT = D / 8;        // output n-tiles
    extern __shared__ __align__(16) unsigned short ta_smem[];
    unsigned short *qh = ta_smem;             // [TA_BQ][LD]
    unsigned short *ql = qh + TA_BQ * LD;     // [TA_BQ][LD]
    unsigned short *ks = ql + TA_BQ * LD;     // [TA_KT][LD]
    unsigned short *vt = ks + TA_KT * LD;     // [D][LDT]

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;
    const int tq = lane & 3;
    const int h = blockIdx.y;
    const int kvh = h / (heads / kvHeads);
    const int qt0 = blockIdx.x * TA_BQ;
    const int qCount = min(TA_BQ, n - qt0);
    const int pFirst = firstPosition + qt0;
    const int pLast = pFirst + qCount - 1;
    const int kStart = fa_first_key(pFirst, window, chunk, firstLive);

    for (int e = tid; e < TA_BQ * D; e += TA_THREADS) {
        const int r = e / D;
        const int i = e % D;
        const float v = r < qCount ? q[((long long) (qt0 + r) * heads + h) * D + i] : 0.f;
        const __half hi = __float2half_rn(v);
        qh[r * LD + i] = __half_as_ushort(hi);
        ql[r * LD + i] = __half_as_ushort(__float2half_rn(v - __half2float(hi)));
    }

    // This thread's two query rows: 16 warp + g and 16 warp + g + 8 (elements 0, 1 and 2, 3 of each tile).
    int pos[2];
    int from[2];
    float m[2];
    float l[2];
#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        const int r = 16 * warp + g + 8 * hf;
        pos[hf] = r < qCount ? pFirst + r : -1;
        from[hf] = r < qCount ? fa_first_key(pFirst + r, window, chunk, firstLive) : 0;
        m[hf] = -INFINITY;
        l[hf] = 0.f;
    }
    float o[NT][4];
#pragma unroll
    for (int t = 0; t < NT; t++)
#pragma unroll
        for (int e = 0; e < 4; e++) o[t][e] = 0.f;

    for (int k0 = kStart; k0 <= pLast; k0 += TA_KT) {
        __syncthreads();  // the previous tile is no longer read
        for (int e = tid; e < TA_KT * CPR; e += TA_THREADS) {
            const int j = e % TA_KT;  // consecutive threads take consecutive keys: conflict-free V^T stores
            const int c = e / TA_KT;
            const int kp = k0 + j;
            uint4 kv = make_uint4(0, 0, 0, 0);
            uint4 vv = make_uint4(0, 0, 0, 0);
            if (kp <= pLast) {
                const long long base = (long long) table[kp / T] * blockBytes;
                const int r = kp % T;
                kv = *reinterpret_cast<const uint4 *>(pool + base + ((long long) kvh * T + r) * rowBytes + 16 * c);
                vv = *reinterpret_cast<const uint4 *>(pool + base + ((long long) (kvHeads + kvh) * T + r) * rowBytes +
                                                      16 * c);
            }
            *reinterpret_cast<uint4 *>(&ks[j * LD + 8 * c]) = kv;
            const unsigned int vw[4] = {vv.x, vv.y, vv.z, vv.w};
#pragma unroll
            for (int t = 0; t < 4; t++) {
                vt[(8 * c + 2 * t) * LDT + j] = (unsigned short) (vw[t] & 0xFFFF);
                vt[(8 * c + 2 * t + 1) * LDT + j] = (unsigned short) (vw[t] >> 16);
            }
        }
        __syncthreads();

        // S = Q K^T: 16 queries x 64 keys for this warp.
        float sc[8][4];
#pragma unroll
        for (int t = 0; t < 8; t++)
#pragma unroll
            for (int e = 0; e < 4; e++) sc[t][e] = 0.f;
        const int r0 = 16 * warp + g;
#pragma unroll
        for (int kk = 0; kk < D; kk += 16) {
            const unsigned int ah[4] = {ta_ld32(qh + r0 * LD + kk + 2 * tq), ta_ld32(qh + (r0 + 8) * LD + kk + 2 * tq),
                                        ta_ld32(qh + r0 * LD + kk + 2 * tq + 8),
                                        ta_ld32(qh + (r0 + 8) * LD + kk + 2 * tq + 8)};
            const unsigned int al[4] = {ta_ld32(ql + r0 * LD + kk + 2 * tq), ta_ld32(ql + (r0 + 8) * LD + kk + 2 * tq),
                                        ta_ld32(ql + r0 * LD + kk + 2 * tq + 8),
                                        ta_ld32(ql + (r0 + 8) * LD + kk + 2 * tq + 8)};
#pragma unroll
            for (int t = 0; t < 8; t++) {
                const unsigned int b0 = ta_ld32(ks + (8 * t + g) * LD + kk + 2 * tq);
                const unsigned int b1 = ta_ld32(ks + (8 * t + g) * LD + kk + 2 * tq + 8);
                ta_mma(sc[t], ah, b0, b1);
                ta_mma(sc[t], al, b0, b1);
            }
        }

        // Online softmax per row; sc becomes the weights p.
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            float tileMax = -INFINITY;
#pragma unroll
            for (int t = 0; t < 8; t++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int kp = k0 + 8 * t + 2 * tq + e;
                    const bool valid = pos[hf] >= 0 && kp >= from[hf] && kp <= pos[hf];
                    float v = sc[t][2 * hf + e] * scale;
                    if (softCap > 0.f) v = (float) ((double) softCap * tanh((double) (v / softCap)));
                    v = valid ? v : -INFINITY;
                    sc[t][2 * hf + e] = v;
                    tileMax = fmaxf(tileMax, v);
                }
            }
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 2));
            const float newMax = fmaxf(m[hf], tileMax);
            const float corr = newMax == -INFINITY ? 1.f : expf(m[hf] - newMax);
            float sum = 0.f;
#pragma unroll
            for (int t = 0; t < 8; t++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const float v = sc[t][2 * hf + e];
                    const float p = v == -INFINITY ? 0.f : expf(v - newMax);
                    sc[t][2 * hf + e] = p;
                    sum += p;
                }
            }
            l[hf] = l[hf] * corr + sum;  // this lane's part of the row sum; the quad is summed at the end
            m[hf] = newMax;
#pragma unroll
            for (int t = 0; t < NT; t++) {
                o[t][2 * hf] *= corr;
                o[t][2 * hf + 1] *= corr;
            }
        }

        // O += P V, 16 keys a step; P's accumulator layout is the A-fragment layout of the next MMA.
#pragma unroll
        for (int kq = 0; kq < TA_KT / 16; kq++) {
            unsigned int ph[4], pl[4];
            ta_split(sc[2 * kq][0], sc[2 * kq][1], ph[0], pl[0]);
            ta_split(sc[2 * kq][2], sc[2 * kq][3], ph[1], pl[1]);
            ta_split(sc[2 * kq + 1][0], sc[2 * kq + 1][1], ph[2], pl[2]);
            ta_split(sc[2 * kq + 1][2], sc[2 * kq + 1][3], ph[3], pl[3]);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                const unsigned int b0 = ta_ld32(vt + (8 * t + g) * LDT + 16 * kq + 2 * tq);
                const unsigned int b1 = ta_ld32(vt + (8 * t + g) * LDT + 16 * kq + 2 * tq + 8);
                ta_mma(o[t], ph, b0, b1);
                ta_mma(o[t], pl, b0, b1);
            }
        }
    }

#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        float sum = l[hf];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (pos[hf] < 0) continue;
        float norm = sum;
        float outScale = 1.f;
        if (sinks != nullptr) {
            const float sink = sinks[h];
            const float mx = fmaxf(m[hf], sink);
            outScale = expf(m[hf] - mx);
            norm = sum * outScale + expf(sink - mx);
        }
        const float inv = outScale / norm;
        float *orow = out + ((long long) (qt0 + 16 * warp + g + 8 * hf) * heads + h) * D;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            orow[8 * t + 2 * tq] = o[t][2 * hf] * inv;
            orow[8 * t + 2 * tq + 1] = o[t][2 * hf + 1] * inv;
        }
    }
}

template <int D>
int launch_tc_f16(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads, float scale, int window,
                  int chunk, float softCap, const float *sinks, int firstPosition, int firstLive, const void *pool,
                  const int *table, int T, long long blockBytes, long long rowBytes) {
    const size_t shared = (size_t) (2 * TA_BQ * (D + 8) + TA_KT * (D + 8) + D * (TA_KT + 8)) * sizeof(unsigned short);
    cudaError_t e = cudaFuncSetAttribute(flash_tc_f16_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int) shared);
    if (e != cudaSuccess) return (int) e;
    dim3 grid((n + TA_BQ - 1) / TA_BQ, heads);
    flash_tc_f16_kernel<D><<<grid, TA_THREADS, shared, s>>>(q, out, n, heads, kvHeads, scale, window, chunk, softCap,
                                                             sinks, firstPosition, firstLive,
                                                             static_cast<const uint8_t *>(pool), table, T, blockBytes,
                                                             rowBytes);
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
    // F16 caches with head dim 64 or 128 and 16-byte aligned rows: the tensor-core kernel.
    if (kvType == KV_F16 && (headDim == 64 || headDim == 128) && (reinterpret_cast<uintptr_t>(pool) & 15) == 0 &&
        blockBytes % 16 == 0 && rowBytes % 16 == 0) {
        return headDim == 64 ? launch_tc_f16<64>(s, q, out, n, heads, kvHeads, scale, window, chunk, softCap, sinks,
                                                 firstPosition, firstLive, pool, blockTable, tokensPerBlock, blockBytes,
                                                 rowBytes)
                             : launch_tc_f16<128>(s, q, out, n, heads, kvHeads, scale, window, chunk, softCap, sinks,
                                                  firstPosition, firstLive, pool, blockTable, tokensPerBlock,
                                                  blockBytes, rowBytes);
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
