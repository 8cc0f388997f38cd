// Tensor-core GEMM for prefill: y[n][rows] = x[n][cols] · W[rows][cols]^T, W read in place in its GGUF
// block format. Used by isthmus_matmul for n >= TC_MIN_TOKENS and every weight type but F32.
//
// A block computes 128 tokens x 128 weight rows with 8 warps (2 along tokens x 4 along rows, a warp
// 64 tokens x 32 rows = 4 x 4 mma.sync.m16n8k16 tiles, fp32 accumulators). The reduction goes 32
// values a step: each thread converts 16 values of one token (x, fp32 -> 16-bit) and dequantises 16
// values of one weight row into shared memory; two buffers, so the next step's global loads and
// dequantisation overlap this step's MMAs with one barrier a step.
//
// The 16-bit type of both operands is chosen per weight type so that the weight is exact or nearly so:
//   F16 weights: f16 (exact); BF16 and MXFP4 weights: bf16 (exact, and bf16 keeps x's range);
//   Q8_0, Q4_0, Q4_K, Q5_K, Q6_K: f16 (values are small products of a scale and an integer; f16 keeps
//   11 significant bits of them, bf16 only 8).
// x is rounded to the same type: f16 keeps 11 bits (relative error <= 2^-11) but overflows beyond
// +-65504 (the product is then inf, visibly); bf16 keeps 8 bits and fp32's range. See docs/CUDA.md.
#include <cstdlib>

#include "common.cuh"
#include "gemm_tc.cuh"

namespace isthmus {

namespace {

constexpr int TC_BM = 128;        // tokens a block
constexpr int TC_BN = 128;        // weight rows a block
constexpr int TC_BK = 32;         // reduction values a step
constexpr int TC_LD = TC_BK + 8;  // shared row stride in 16-bit elements (80 bytes: conflict-free fragment loads)
constexpr int TC_THREADS = 256;

// Two 16-bit values packed low-first into one 32-bit word, for either operand type.
template <bool BF>
__device__ __forceinline__ unsigned int pack2(float a, float b) {
    if (BF) {
        __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
        return *reinterpret_cast<unsigned int *>(&h);
    } else {
        __half2 h = __floats2half2_rn(a, b);
        return *reinterpret_cast<unsigned int *>(&h);
    }
}

// Values [32c + 16h, 32c + 16h + 16) of a weight row of block type T (h = 0 or 1), as floats.
// Float types are handled by the caller (raw copies); the layouts are those of dequant32 in common.cuh.
template <int T>
__device__ __forceinline__ void dequant16(const uint8_t *row, int c, int h, float (&out)[16]) {
    if (T == T_Q8_0) {
        const uint8_t *p = row + 34LL * c;
        const float d = ld_f16(p);
        const unsigned short *q = reinterpret_cast<const unsigned short *>(p + 2 + 16 * h);  // 2-byte aligned
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const unsigned short v = q[i];
            out[2 * i] = (float) (int8_t) (v & 0xFF) * d;
            out[2 * i + 1] = (float) (int8_t) (v >> 8) * d;
        }
    } else if (T == T_Q4_0) {
        const uint8_t *p = row + 18LL * c;
        const float d = ld_f16(p);
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int q = p[2 + j];
            out[j] = (float) ((h ? (q >> 4) : (q & 0xF)) - 8) * d;
        }
    } else if (T == T_MXFP4) {
        const uint8_t *p = row + 17LL * c;
        const float d = e8m0_half(p[0]);
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int e = h ? (p[1 + j] >> 4) : (p[1 + j] & 0xF);
            // E2M1 times two: 0, 1, 2, 3, 4, 6, 8, 12 for magnitudes 0..7; bit 3 is the sign.
            const int m = e & 7;
            const int v = m < 4 ? m : (2 + (m & 1)) << ((m >> 1) - 1);
            out[j] = (float) ((e & 8) ? -v : v) * d;
        }
    } else if (T == T_Q4_K || T == T_Q5_K) {
        const int sb = c >> 3;
        const int g = c & 7;
        const uint8_t *p = row + (T == T_Q4_K ? 144LL : 176LL) * sb;
        const float d = ld_f16(p);
        const float dmin = ld_f16(p + 2);
        int s, m;
        k_scale_min(p + 4, g, s, m);
        const float dl = d * (float) s;
        const float ml = dmin * (float) m;
        const int cc = g >> 1;
        const bool high = (g & 1) != 0;
        const uint8_t *qs = p + (T == T_Q4_K ? 16 : 48) + 32 * cc;
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int l = 16 * h + i;
            int q = high ? (qs[l] >> 4) : (qs[l] & 0xF);
            if (T == T_Q5_K) {
                q |= ((p[16 + l] >> (2 * cc + (high ? 1 : 0))) & 1) << 4;
            }
            out[i] = dl * (float) q - ml;
        }
    } else if (T == T_Q6_K) {
        const int sb = c >> 3;
        const int g = c & 7;
        const uint8_t *p = row + 210LL * sb;
        const float d = ld_f16(p + 208);
        const int hh = g >> 2;
        const int k = g & 3;
        const uint8_t *ql = p + 64 * hh + ((k & 1) ? 32 : 0);
        const uint8_t *qh = p + 128 + 32 * hh;
        const int8_t *sc = reinterpret_cast<const int8_t *>(p + 192 + 8 * hh);
        const float dl = d * (float) sc[h + 2 * k];  // l / 16 == h for every l of this half
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int l = 16 * h + i;
            const int lo = (k < 2) ? (ql[l] & 0xF) : (ql[l] >> 4);
            const int q = (lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
            out[i] = dl * (float) q;
        }
    }
}

// 16 weight values [k0, k0 + 16) of weight row r as 8 packed 16-bit pairs (zeros past rows or cols).
template <int T, bool BF>
__device__ __forceinline__ void load_w16(const uint8_t *__restrict__ w, int rows, int cols, long long rb, int r,
                                         int k0, bool vec, unsigned int (&out)[8]) {
    if (r >= rows) {
#pragma unroll
        for (int i = 0; i < 8; i++) out[i] = 0u;
        return;
    }
    const uint8_t *row = w + (long long) r * rb;
    if (T == T_F16 || T == T_BF16) {
        // The operand type is the weight's own type: copy the bits.
        const unsigned short *e = reinterpret_cast<const unsigned short *>(row);
        if (vec && k0 + 16 <= cols) {  // cols % 8 == 0 and 16-byte aligned rows: two 16-byte loads
            const uint4 a = *reinterpret_cast<const uint4 *>(e + k0);
            const uint4 b = *reinterpret_cast<const uint4 *>(e + k0 + 8);
            out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
            out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int k = k0 + 2 * i;
                const unsigned int lo = k < cols ? e[k] : 0u;
                const unsigned int hi = k + 1 < cols ? e[k + 1] : 0u;
                out[i] = lo | (hi << 16);
            }
        }
    } else {
        float v[16];
        dequant16<T>(row, k0 >> 5, (k0 >> 4) & 1, v);
#pragma unroll
        for (int i = 0; i < 8; i++) out[i] = pack2<BF>(v[2 * i], v[2 * i + 1]);
    }
}

// 16 values [k0, k0 + 16) of token t of x, as floats (zeros past n or cols).
__device__ __forceinline__ void load_x16(const float *__restrict__ x, int n, int cols, int t, int k0, bool vec,
                                         float (&out)[16]) {
    if (t >= n) {
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = 0.f;
        return;
    }
    const float *e = x + (long long) t * cols + k0;
    if (vec && k0 + 16 <= cols) {  // cols % 16 == 0 and 16-byte aligned x
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const float4 f = reinterpret_cast<const float4 *>(e)[i];
            out[4 * i] = f.x; out[4 * i + 1] = f.y; out[4 * i + 2] = f.z; out[4 * i + 3] = f.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < 16; i++) out[i] = k0 + i < cols ? e[i] : 0.f;
    }
}

template <bool BF>
__device__ __forceinline__ void mma16816(float (&d)[4], const unsigned int (&a)[4], unsigned int b0, unsigned int b1) {
    if (BF) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

template <int T, bool BF>
__global__ void __launch_bounds__(TC_THREADS) gemm_tc_kernel(const uint8_t *__restrict__ w, int rows, int cols,
                                                             const float *__restrict__ x, float *__restrict__ y,
                                                             int n) {
    // [buffer][tokens | weight rows][TC_LD] 16-bit values, addressed as 32-bit words.
    __shared__ __align__(16) unsigned short xs[2][TC_BM][TC_LD];
    __shared__ __align__(16) unsigned short ws[2][TC_BN][TC_LD];

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;  // mma groupID
    const int q = lane & 3;   // mma thread in group
    const int wm = (warp >> 2) * 64;  // warp's first token in the block tile
    const int wn = (warp & 3) * 32;   // warp's first weight row in the block tile
    const int r0 = blockIdx.x * TC_BN;
    const int t0 = blockIdx.y * TC_BM;
    const long long rb = row_bytes<T>(cols);
    // split-K (gridDim.z > 1, for grids too small to fill the GPU): this block's reduction steps;
    // its partial sums are added into y (zeroed by the launcher) atomically
    const int allSteps = (cols + TC_BK - 1) / TC_BK;
    const int per = (allSteps + gridDim.z - 1) / gridDim.z;
    const int first = blockIdx.z * per;
    const int steps = min(allSteps, first + per) - first;
    if (steps <= 0) return;
    const bool split = gridDim.z > 1;

    // This thread's share of each step's loads: 16 values of token ld_row and of weight row ld_row.
    const int ld_row = tid >> 1;
    const int ld_k = (tid & 1) * 16;
    const bool xvec = (cols % 16 == 0) && ((reinterpret_cast<uintptr_t>(x) & 15) == 0);
    const bool wvec = (T == T_F16 || T == T_BF16) && (cols % 8 == 0) && ((reinterpret_cast<uintptr_t>(w) & 15) == 0);

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

    float xr[16];
    unsigned int wr[8];
    load_x16(x, n, cols, t0 + ld_row, first * TC_BK + ld_k, xvec, xr);
    load_w16<T, BF>(w, rows, cols, rb, r0 + ld_row, first * TC_BK + ld_k, wvec, wr);

    for (int s = 0; s < steps; s++) {
        const int buf = s & 1;
        {  // store the registers of step s into buffer buf
            uint4 *xd = reinterpret_cast<uint4 *>(&xs[buf][ld_row][ld_k]);
            xd[0] = make_uint4(pack2<BF>(xr[0], xr[1]), pack2<BF>(xr[2], xr[3]), pack2<BF>(xr[4], xr[5]),
                               pack2<BF>(xr[6], xr[7]));
            xd[1] = make_uint4(pack2<BF>(xr[8], xr[9]), pack2<BF>(xr[10], xr[11]), pack2<BF>(xr[12], xr[13]),
                               pack2<BF>(xr[14], xr[15]));
            uint4 *wd = reinterpret_cast<uint4 *>(&ws[buf][ld_row][ld_k]);
            wd[0] = make_uint4(wr[0], wr[1], wr[2], wr[3]);
            wd[1] = make_uint4(wr[4], wr[5], wr[6], wr[7]);
        }
        // Buffer buf was last read in step s - 2; the barrier of step s - 1 orders that before these stores,
        // and this barrier orders them before the reads below.
        __syncthreads();
        if (s + 1 < steps) {  // the next step's loads are in flight while this step's MMAs run
            const int k0 = (first + s + 1) * TC_BK + ld_k;
            load_x16(x, n, cols, t0 + ld_row, k0, xvec, xr);
            load_w16<T, BF>(w, rows, cols, rb, r0 + ld_row, k0, wvec, wr);
        }
#pragma unroll
        for (int kk = 0; kk < TC_BK; kk += 16) {
            unsigned int a[4][4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int m = wm + 16 * i + g;
                a[i][0] = *reinterpret_cast<const unsigned int *>(&xs[buf][m][kk + 2 * q]);
                a[i][1] = *reinterpret_cast<const unsigned int *>(&xs[buf][m + 8][kk + 2 * q]);
                a[i][2] = *reinterpret_cast<const unsigned int *>(&xs[buf][m][kk + 2 * q + 8]);
                a[i][3] = *reinterpret_cast<const unsigned int *>(&xs[buf][m + 8][kk + 2 * q + 8]);
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int nn = wn + 8 * j + g;
                const unsigned int b0 = *reinterpret_cast<const unsigned int *>(&ws[buf][nn][kk + 2 * q]);
                const unsigned int b1 = *reinterpret_cast<const unsigned int *>(&ws[buf][nn][kk + 2 * q + 8]);
#pragma unroll
                for (int i = 0; i < 4; i++) mma16816<BF>(acc[i][j], a[i], b0, b1);
            }
        }
    }

    // acc[i][j]: tokens wm + 16i + g (+8 for elements 2, 3), weight rows wn + 8j + 2q (+1 for odd elements).
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int t = t0 + wm + 16 * i + g + 8 * half;
            if (t >= n) continue;
            float *yt = y + (long long) t * rows;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int r = r0 + wn + 8 * j + 2 * q;
                if (split) {
                    if (r < rows) atomicAdd(yt + r, acc[i][j][2 * half]);
                    if (r + 1 < rows) atomicAdd(yt + r + 1, acc[i][j][2 * half + 1]);
                } else {
                    if (r < rows) yt[r] = acc[i][j][2 * half];
                    if (r + 1 < rows) yt[r + 1] = acc[i][j][2 * half + 1];
                }
            }
        }
    }
}

// Split-K factor: 1 when the output tiles fill the multiprocessors; otherwise enough splits to fill them,
// at most 8 and keeping at least 8 reduction steps a split. ISTHMUS_GEMM_SPLITK=0 turns it off.
int tc_splits(int tiles, int steps) {
    static int enabled = -1;
    if (enabled < 0) {
        const char *e = getenv("ISTHMUS_GEMM_SPLITK");
        enabled = (e != nullptr && e[0] == '0') ? 0 : 1;
    }
    const int sms = sm_count();
    if (!enabled || tiles >= sms) return 1;
    int z = (sms + tiles - 1) / tiles;
    z = min(z, 8);
    z = min(z, max(1, steps / 8));
    return max(1, z);
}

template <int T, bool BF>
int launch_tc(cudaStream_t s, const void *w, int rows, int cols, const float *x, float *y, int n) {
    dim3 grid((rows + TC_BN - 1) / TC_BN, (n + TC_BM - 1) / TC_BM);
    grid.z = tc_splits((int) (grid.x * grid.y), (cols + TC_BK - 1) / TC_BK);
    if (grid.z > 1) {
        const cudaError_t e = cudaMemsetAsync(y, 0, (size_t) n * rows * sizeof(float), s);
        if (e != cudaSuccess) return (int) e;
    }
    gemm_tc_kernel<T, BF><<<grid, TC_THREADS, 0, s>>>(static_cast<const uint8_t *>(w), rows, cols, x, y, n);
    return launched();
}

}  // namespace

int gemm_tc(cudaStream_t s, int type, const void *w, int rows, int cols, const float *x, float *y, int n) {
    if (rows <= 0 || cols <= 0 || n <= 0 || (n + TC_BM - 1) / TC_BM > 65535) return (int) cudaErrorInvalidValue;
    switch (type) {
        case T_F16: return launch_tc<T_F16, false>(s, w, rows, cols, x, y, n);
        case T_BF16: return launch_tc<T_BF16, true>(s, w, rows, cols, x, y, n);
        case T_MXFP4: return launch_tc<T_MXFP4, true>(s, w, rows, cols, x, y, n);
        case T_Q8_0: return launch_tc<T_Q8_0, false>(s, w, rows, cols, x, y, n);
        case T_Q4_0: return launch_tc<T_Q4_0, false>(s, w, rows, cols, x, y, n);
        case T_Q4_K: return launch_tc<T_Q4_K, false>(s, w, rows, cols, x, y, n);
        case T_Q5_K: return launch_tc<T_Q5_K, false>(s, w, rows, cols, x, y, n);
        case T_Q6_K: return launch_tc<T_Q6_K, false>(s, w, rows, cols, x, y, n);
        default: return (int) cudaErrorInvalidValue;
    }
}

bool gemm_tc_supports(int type) {
    return type == T_F16 || type == T_BF16 || type == T_MXFP4 || type == T_Q8_0 || type == T_Q4_0 ||
           type == T_Q4_K || type == T_Q5_K || type == T_Q6_K;
}

}  // namespace isthmus
