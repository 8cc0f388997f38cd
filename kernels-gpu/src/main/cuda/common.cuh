// Shared device helpers: little-endian field reads, reductions, and dequantisation of 32
// consecutive values of a GGUF row (the unit every matmul/embedding kernel works in).
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "isthmus_cuda.h"

namespace isthmus {

// ggml type ids.
constexpr int T_F32 = 0;
constexpr int T_F16 = 1;
constexpr int T_Q4_0 = 2;
constexpr int T_Q8_0 = 8;
constexpr int T_Q4_K = 12;
constexpr int T_Q5_K = 13;
constexpr int T_Q6_K = 14;
constexpr int T_BF16 = 30;
constexpr int T_MXFP4 = 39;

// KvType ordinals.
constexpr int KV_F32 = 0;
constexpr int KV_F16 = 1;
constexpr int KV_BF16 = 2;
constexpr int KV_Q8_0 = 3;

#define ISTHMUS_HD __host__ __device__ __forceinline__
#ifdef __CUDA_ARCH__
#define ISTHMUS_UNROLL _Pragma("unroll")
#else
#define ISTHMUS_UNROLL
#endif

ISTHMUS_HD unsigned short ld_u16(const uint8_t *p) {
    return (unsigned short) (p[0] | (p[1] << 8));
}

ISTHMUS_HD float ld_f16(const uint8_t *p) {
    return __half2float(__ushort_as_half(ld_u16(p)));
}

ISTHMUS_HD float bits_to_float(unsigned int bits) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(bits);
#else
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

ISTHMUS_HD float bf16_to_float(unsigned short bits) {
    return bits_to_float(((unsigned int) bits) << 16);
}

// 2^(e - 128), exact also for the subnormal results of e = 0 and e = 1.
ISTHMUS_HD float e8m0_half(int e) {
    if (e >= 2) {
        return bits_to_float((unsigned int) (e - 1) << 23);
    }
    return bits_to_float(0x00400000u >> (1 - e));
}

// Bytes of one row of cols values of type T.
template <int T>
__host__ __device__ __forceinline__ long long row_bytes(int cols) {
    switch (T) {
        case T_F32: return 4LL * cols;
        case T_F16:
        case T_BF16: return 2LL * cols;
        case T_Q4_0: return (long long) (cols / 32) * 18;
        case T_Q8_0: return (long long) (cols / 32) * 34;
        case T_MXFP4: return (long long) (cols / 32) * 17;
        case T_Q4_K: return (long long) (cols / 256) * 144;
        case T_Q5_K: return (long long) (cols / 256) * 176;
        case T_Q6_K: return (long long) (cols / 256) * 210;
        default: return 0;
    }
}

// The 6-bit scale and min of 32-value group j (0..7) of a Q4_K/Q5_K super-block, from its 12 packed bytes.
ISTHMUS_HD void k_scale_min(const uint8_t *sc, int j, int &s, int &m) {
    if (j < 4) {
        s = sc[j] & 63;
        m = sc[j + 4] & 63;
    } else {
        s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
        m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
    }
}

// Values [32c, 32c + 32) of a row of type T into out (zeros past cols, which only float types allow).
template <int T>
ISTHMUS_HD void dequant32(const uint8_t *row, int c, int cols, float (&out)[32]) {
    if (T == T_F32 || T == T_F16 || T == T_BF16) {
ISTHMUS_UNROLL
        for (int i = 0; i < 32; i++) {
            int idx = 32 * c + i;
            float v = 0.f;
            if (idx < cols) {
                if (T == T_F32) {
                    v = reinterpret_cast<const float *>(row)[idx];
                } else if (T == T_F16) {
                    v = __half2float(__ushort_as_half(reinterpret_cast<const unsigned short *>(row)[idx]));
                } else {
                    v = bf16_to_float(reinterpret_cast<const unsigned short *>(row)[idx]);
                }
            }
            out[i] = v;
        }
    } else if (T == T_Q8_0) {
        const uint8_t *p = row + 34LL * c;
        float d = ld_f16(p);
ISTHMUS_UNROLL
        for (int i = 0; i < 32; i++) {
            out[i] = (float) (int8_t) p[2 + i] * d;
        }
    } else if (T == T_Q4_0) {
        const uint8_t *p = row + 18LL * c;
        float d = ld_f16(p);
ISTHMUS_UNROLL
        for (int j = 0; j < 16; j++) {
            int q = p[2 + j];
            out[j] = (float) ((q & 0xF) - 8) * d;
            out[j + 16] = (float) ((q >> 4) - 8) * d;
        }
    } else if (T == T_MXFP4) {
        const uint8_t *p = row + 17LL * c;
        float d = e8m0_half(p[0]);
        // E2M1 values times two: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
        const int8_t e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
ISTHMUS_UNROLL
        for (int j = 0; j < 16; j++) {
            int q = p[1 + j];
            out[j] = (float) e2m1x2[q & 0xF] * d;
            out[j + 16] = (float) e2m1x2[q >> 4] * d;
        }
    } else if (T == T_Q4_K || T == T_Q5_K) {
        const int sb = c >> 3;  // super-block of 256
        const int g = c & 7;    // 32-value group in it
        const uint8_t *p = row + (T == T_Q4_K ? 144LL : 176LL) * sb;
        float d = ld_f16(p);
        float dmin = ld_f16(p + 2);
        int s, m;
        k_scale_min(p + 4, g, s, m);
        float dl = d * (float) s;
        float ml = dmin * (float) m;
        const int cc = g >> 1;
        const bool high = (g & 1) != 0;
        const uint8_t *qs = p + (T == T_Q4_K ? 16 : 48) + 32 * cc;
ISTHMUS_UNROLL
        for (int l = 0; l < 32; l++) {
            int q = high ? (qs[l] >> 4) : (qs[l] & 0xF);
            if (T == T_Q5_K) {
                int hb = (p[16 + l] >> (2 * cc + (high ? 1 : 0))) & 1;
                q |= hb << 4;
            }
            out[l] = dl * (float) q - ml;
        }
    } else if (T == T_Q6_K) {
        const int sb = c >> 3;
        const int g = c & 7;
        const uint8_t *p = row + 210LL * sb;
        float d = ld_f16(p + 208);
        const int h = g >> 2;  // 128-value half
        const int k = g & 3;   // quarter of the half
        const uint8_t *ql = p + 64 * h + ((k & 1) ? 32 : 0);
        const uint8_t *qh = p + 128 + 32 * h;
        const int8_t *sc = reinterpret_cast<const int8_t *>(p + 192 + 8 * h);
ISTHMUS_UNROLL
        for (int l = 0; l < 32; l++) {
            int lo = (k < 2) ? (ql[l] & 0xF) : (ql[l] >> 4);
            int q = (lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
            float dl = d * (float) sc[l / 16 + 2 * k];
            out[l] = dl * (float) q;
        }
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// scratch: 32 floats of shared memory; the call ends with a barrier so scratch may be reused.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : 0.f;
    r = warp_sum(r);
    __syncthreads();
    return r;
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : -INFINITY;
    r = warp_max(r);
    __syncthreads();
    return r;
}

__device__ __forceinline__ double block_sum_d(double v, double *scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    double r = lane < warps ? scratch[lane] : 0.0;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
    __syncthreads();
    return r;
}

inline unsigned int grid_for(long long n, int threads) {
    long long b = (n + threads - 1) / threads;
    if (b > 65535LL * 16) b = 65535LL * 16;  // grid-stride loops cover the rest
    if (b < 1) b = 1;
    return (unsigned int) b;
}

// The error of the launch just made (and clears it).
inline int launched() {
    return (int) cudaGetLastError();
}

// Element i of a KV-cache row encoded as the pool's KvType (KV_F32/F16/BF16/Q8_0).
__device__ __forceinline__ float kv_elem(int type, const uint8_t *row, int i) {
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

// Multiprocessors of the current device (read once; 132, an H100's, if the query fails).
inline int sm_count() {
    static int count = 0;
    if (count <= 0) {
        int dev = 0;
        int n = 0;
        if (cudaGetDevice(&dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && n > 0) {
            count = n;
        } else {
            (void) cudaGetLastError();  // not this launch's error
            count = 132;
        }
    }
    return count;
}

}  // namespace isthmus
