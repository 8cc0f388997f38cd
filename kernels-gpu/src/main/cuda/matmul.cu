// Matrix products with weights in their GGUF block formats, read in place, and embedding lookup.
//   n == 1: matvec: the unit kernels of matvec.cuh (16-byte loads, several rows a group sharing x)
//           whenever the alignments allow; otherwise (x not 16-byte aligned, float rows not a whole
//           number of units) the general kernels below, one warp per output row.
//   n >= TC_MIN_TOKENS (all types but F32): the tensor-core GEMM of gemm_tc.cu.
//   other n > 1 (and F32 weights): a plain shared-memory tiled GEMM in fp32 (64 weight rows x 32 tokens a
//           block, 32 values of the reduction a step), dequantising the weight tile on the fly.
#include "common.cuh"
#include "matvec.cuh"
#include "gemm_tc.cuh"

namespace isthmus {

constexpr int MV_WARPS = 8;

template <int T>
__global__ void matvec_float(const uint8_t *__restrict__ w, int rows, int cols, const float *__restrict__ x,
                             float *__restrict__ y) {
    const int r = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const uint8_t *row = w + (long long) r * row_bytes<T>(cols);
    float acc = 0.f;
    for (int i = lane; i < cols; i += 32) {
        float v;
        if (T == T_F32) {
            v = reinterpret_cast<const float *>(row)[i];
        } else if (T == T_F16) {
            v = __half2float(__ushort_as_half(reinterpret_cast<const unsigned short *>(row)[i]));
        } else {
            v = bf16_to_float(reinterpret_cast<const unsigned short *>(row)[i]);
        }
        acc += v * x[i];
    }
    acc = warp_sum(acc);
    if (lane == 0) y[r] = acc;
}

template <int T>
__global__ void matvec_blocks(const uint8_t *__restrict__ w, int rows, int cols, const float *__restrict__ x,
                              float *__restrict__ y) {
    const int r = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const uint8_t *row = w + (long long) r * row_bytes<T>(cols);
    const int chunks = cols / 32;
    float acc = 0.f;
    for (int c = lane; c < chunks; c += 32) {
        float v[32];
        dequant32<T>(row, c, cols, v);
        const float *xc = x + 32 * c;
#pragma unroll
        for (int i = 0; i < 32; i++) acc += v[i] * xc[i];
    }
    acc = warp_sum(acc);
    if (lane == 0) y[r] = acc;
}

constexpr int BM = 64;  // weight rows a block
constexpr int BN = 32;  // tokens a block
constexpr int BK = 32;  // reduction step (one dequant32 chunk)
constexpr int GEMM_THREADS = 256;

template <int T>
__global__ void __launch_bounds__(GEMM_THREADS) gemm_tiled(const uint8_t *__restrict__ w, int rows, int cols,
                                                          const float *__restrict__ x, float *__restrict__ y, int n) {
    __shared__ float ws[BM][BK + 1];
    __shared__ float xs[BN][BK + 1];
    const int tid = threadIdx.x;
    const int r0 = blockIdx.x * BM;
    const int t0 = blockIdx.y * BN;
    const long long rb = row_bytes<T>(cols);
    const int chunks = (cols + BK - 1) / BK;
    const int rr = tid % BM;         // this thread's weight row in the tile
    const int tt = (tid / BM) * 8;   // and its first of 8 tokens
    float acc[8];
#pragma unroll
    for (int j = 0; j < 8; j++) acc[j] = 0.f;
    for (int c = 0; c < chunks; c++) {
        if (tid < BM) {
            float v[32];
            if (r0 + tid < rows) {
                dequant32<T>(w + (long long) (r0 + tid) * rb, c, cols, v);
            } else {
#pragma unroll
                for (int i = 0; i < 32; i++) v[i] = 0.f;
            }
#pragma unroll
            for (int i = 0; i < 32; i++) ws[tid][i] = v[i];
        }
        for (int e = tid; e < BN * BK; e += GEMM_THREADS) {
            const int tok = e / BK;
            const int k = e % BK;
            const int col = c * BK + k;
            xs[tok][k] = (t0 + tok < n && col < cols) ? x[(long long) (t0 + tok) * cols + col] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; k++) {
            const float wv = ws[rr][k];
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] += wv * xs[tt + j][k];
        }
        __syncthreads();
    }
    if (r0 + rr < rows) {
#pragma unroll
        for (int j = 0; j < 8; j++) {
            if (t0 + tt + j < n) y[(long long) (t0 + tt + j) * rows + r0 + rr] = acc[j];
        }
    }
}

template <int T>
int launch_matmul(cudaStream_t s, const void *w, int rows, int cols, const float *x, float *y, int n) {
    const uint8_t *wb = static_cast<const uint8_t *>(w);
    if (n == 1) {
        if (launch_matvec_units<T>(s, wb, rows, cols, x, y, sm_count())) return launched();
        dim3 grid((rows + MV_WARPS - 1) / MV_WARPS);
        if (T == T_F32 || T == T_F16 || T == T_BF16) {
            matvec_float<T><<<grid, MV_WARPS * 32, 0, s>>>(wb, rows, cols, x, y);
        } else {
            matvec_blocks<T><<<grid, MV_WARPS * 32, 0, s>>>(wb, rows, cols, x, y);
        }
    } else if (n >= TC_MIN_TOKENS && T != T_F32) {
        return gemm_tc(s, T, w, rows, cols, x, y, n);  // tensor cores (gemm_tc.cu)
    } else {
        dim3 grid((rows + BM - 1) / BM, (n + BN - 1) / BN);
        gemm_tiled<T><<<grid, GEMM_THREADS, 0, s>>>(wb, rows, cols, x, y, n);
    }
    return launched();
}

template <int T>
__global__ void embedding_kernel(const uint8_t *__restrict__ table, int cols, const int *__restrict__ tokens,
                                 float scale, float *__restrict__ out) {
    const int t = blockIdx.x;
    const uint8_t *row = table + (long long) tokens[t] * row_bytes<T>(cols);
    const int chunks = (cols + 31) / 32;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
        float v[32];
        dequant32<T>(row, c, cols, v);
#pragma unroll
        for (int i = 0; i < 32; i++) {
            const int col = 32 * c + i;
            if (col < cols) out[(long long) t * cols + col] = v[i] * scale;
        }
    }
}

template <int T>
int launch_embedding(cudaStream_t s, const void *table, int cols, const int *tokens, int n, float scale, float *out) {
    embedding_kernel<T><<<n, 128, 0, s>>>(static_cast<const uint8_t *>(table), cols, tokens, scale, out);
    return launched();
}

}  // namespace isthmus

using namespace isthmus;


extern "C" int isthmus_abi_version(void) {
    return ISTHMUS_ABI_VERSION;
}

extern "C" int isthmus_matmul(cudaStream_t s, int type, const void *w, int rows, int cols, const float *x, float *y,
                              int n) {
    if (rows <= 0 || cols <= 0 || n <= 0 || n > 65535 * BN) return (int) cudaErrorInvalidValue;
#define MM(T) launch_matmul<T>(s, w, rows, cols, x, y, n)
    switch (type) {
        case T_F32: return MM(T_F32);
        case T_F16: return MM(T_F16);
        case T_BF16: return MM(T_BF16);
        case T_Q8_0: return MM(T_Q8_0);
        case T_Q4_0: return MM(T_Q4_0);
        case T_Q4_K: return MM(T_Q4_K);
        case T_Q5_K: return MM(T_Q5_K);
        case T_Q6_K: return MM(T_Q6_K);
        case T_MXFP4: return MM(T_MXFP4);
        default: return (int) cudaErrorInvalidValue;
    }
#undef MM
}

extern "C" int isthmus_embedding(cudaStream_t s, int type, const void *table, int cols, const int *tokens, int n,
                                 float scale, float *out) {
    if (cols <= 0 || n <= 0) return (int) cudaErrorInvalidValue;
#define EM(T) launch_embedding<T>(s, table, cols, tokens, n, scale, out)
    switch (type) {
        case T_F32: return EM(T_F32);
        case T_F16: return EM(T_F16);
        case T_BF16: return EM(T_BF16);
        case T_Q8_0: return EM(T_Q8_0);
        case T_Q4_0: return EM(T_Q4_0);
        case T_Q4_K: return EM(T_Q4_K);
        case T_Q5_K: return EM(T_Q5_K);
        case T_Q6_K: return EM(T_Q6_K);
        case T_MXFP4: return EM(T_MXFP4);
        default: return (int) cudaErrorInvalidValue;
    }
#undef EM
}
