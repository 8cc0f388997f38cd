// Norms, RoPE, activations, residual adds, scaling, soft-capping, argmax and zero fill. Each kernel
// follows the plain CPU backend's arithmetic (dev.isthmus.kernels.cpu.CpuBackend) step by step.
#include "common.cuh"

namespace isthmus {

constexpr int EW_THREADS = 256;
constexpr float GELU_BETA = 0.7978845608028654f;   // sqrt(2/pi)
constexpr float GELU_KAPPA = 0.044715f;
constexpr float SQRT1_2 = 0.7071067811865476f;

__device__ __forceinline__ float act(int a, float x) {
    switch (a) {
        case 0: {  // SiLU: x / (1 + exp(-x))
            float e = (float) exp(-(double) x);
            return x / (1.0f + e);
        }
        case 1: {  // GELU, tanh approximation
            float cube = x * x * x;
            float inner = GELU_BETA * (x + GELU_KAPPA * cube);
            float t = (float) tanh((double) inner);
            return (0.5f * x) * (1.0f + t);
        }
        default: {  // GELU, erf
            float e = (float) erf((double) (x * SQRT1_2));
            return (x * 0.5f) * (1.0f + e);
        }
    }
}

__global__ void add_kernel(const float *a, const float *b, float *out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = a[i] + b[i];
    }
}

__global__ void add_bias_kernel(float *y, const float *bias, long long total, int cols) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total;
         i += (long long) gridDim.x * blockDim.x) {
        y[i] += bias[i % cols];
    }
}

__global__ void scale_kernel(float *x, float f, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        x[i] *= f;
    }
}

__global__ void soft_cap_kernel(float *x, float cap, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        x[i] = (float) ((double) cap * tanh((double) (x[i] / cap)));
    }
}

__global__ void activation_kernel(int a, const float *x, float *out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = act(a, x[i]);
    }
}

__global__ void gated_kernel(int a, const float *gate, const float *up, float *out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = act(a, gate[i]) * up[i];
    }
}

// One block a group of dim values.
__global__ void rms_norm_kernel(const float *x, const float *w, float *out, int dim, float eps, int plusOne) {
    __shared__ double scratch[32];
    const long long base = (long long) blockIdx.x * dim;
    double ss = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = x[base + i];
        ss += (double) (v * v);
    }
    ss = block_sum_d(ss, scratch);
    const float r = (float) (1.0 / sqrt(ss / dim + (double) eps));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = x[base + i] * r;
        float wi = w[i];
        out[base + i] = plusOne ? v * (1.0f + wi) : v * wi;
    }
}

__global__ void layer_norm_kernel(const float *x, const float *w, const float *b, float *out, int dim, float eps) {
    __shared__ double scratch[32];
    const long long base = (long long) blockIdx.x * dim;
    double sum = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) sum += x[base + i];
    sum = block_sum_d(sum, scratch);
    const double mean = sum / dim;
    double var = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        double d = x[base + i] - mean;
        var += d * d;
    }
    var = block_sum_d(var, scratch);
    const float r = (float) (1.0 / sqrt(var / dim + (double) eps));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = (float) (x[base + i] - mean) * r * w[i];
        if (b != nullptr) v += b[i];
        out[base + i] = v;
    }
}

// One block a (token, head); threads over the rotated pairs.
__global__ void rope_kernel(float *x, int heads, int headDim, const int *positions, const float *invFreq,
                            float scaling, int half, int neox) {
    const int t = blockIdx.x / heads;
    const int h = blockIdx.x % heads;
    const float p = (float) positions[t];
    const long long base = ((long long) t * heads + h) * headDim;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const float f = invFreq[i] * p;
        const float c = (float) cos((double) f) * scaling;
        const float s = (float) sin((double) f) * scaling;
        const long long ia = neox ? base + i : base + 2LL * i;
        const long long ib = neox ? base + i + half : base + 2LL * i + 1;
        const float x1 = x[ia];
        const float x2 = x[ib];
        x[ia] = x1 * c + -x2 * s;
        x[ib] = x2 * c + x1 * s;
    }
}

// One block: the first index of the largest value (NaN never wins; all NaN gives 0).
__global__ void argmax_kernel(const float *x, int cols, int *result) {
    __shared__ float sv[1024];
    __shared__ int si[1024];
    float best = -INFINITY;
    int idx = -1;
    // Each thread visits its indices in increasing order, so "first on ties" holds within a thread.
    if ((((size_t) x) & 15) == 0) {
        // 16-byte loads, four chunks a thread in flight (a single block must keep many bytes in flight)
        const int chunks = cols / 4;
        const float4 *x4 = reinterpret_cast<const float4 *>(x);
#pragma unroll 4
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
            const float4 q = __ldg(x4 + c);
            const float v[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                if ((idx < 0 && !isnan(v[k])) || v[k] > best) {
                    best = v[k];
                    idx = 4 * c + k;
                }
            }
        }
        for (int i = 4 * chunks + threadIdx.x; i < cols; i += blockDim.x) {  // the last cols % 4
            const float v = x[i];
            if ((idx < 0 && !isnan(v)) || v > best) {
                best = v;
                idx = i;
            }
        }
    } else {
        for (int i = threadIdx.x; i < cols; i += blockDim.x) {
            const float v = x[i];
            if ((idx < 0 && !isnan(v)) || v > best) {
                best = v;
                idx = i;
            }
        }
    }
    sv[threadIdx.x] = best;
    si[threadIdx.x] = idx;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) {
            const float b2 = sv[threadIdx.x + stride];
            const int i2 = si[threadIdx.x + stride];
            const float b1 = sv[threadIdx.x];
            const int i1 = si[threadIdx.x];
            if (i2 >= 0 && (i1 < 0 || b2 > b1 || (b2 == b1 && i2 < i1))) {
                sv[threadIdx.x] = b2;
                si[threadIdx.x] = i2;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) *result = si[0] < 0 ? 0 : si[0];
}

__global__ void fill_zero_kernel(uint8_t *p, long long bytes) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < bytes;
         i += (long long) gridDim.x * blockDim.x) {
        p[i] = 0;
    }
}

}  // namespace isthmus

using namespace isthmus;

#define BAD_IF(cond) \
    if (cond) return (int) cudaErrorInvalidValue

extern "C" int isthmus_add(cudaStream_t s, const float *a, const float *b, float *out, long long n) {
    BAD_IF(n <= 0);
    add_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(a, b, out, n);
    return launched();
}

extern "C" int isthmus_add_bias(cudaStream_t s, float *y, const float *bias, int rows, int cols) {
    BAD_IF(rows <= 0 || cols <= 0);
    const long long total = (long long) rows * cols;
    add_bias_kernel<<<grid_for(total, EW_THREADS), EW_THREADS, 0, s>>>(y, bias, total, cols);
    return launched();
}

extern "C" int isthmus_scale(cudaStream_t s, float *x, float factor, long long n) {
    BAD_IF(n <= 0);
    scale_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(x, factor, n);
    return launched();
}

extern "C" int isthmus_soft_cap(cudaStream_t s, float *x, float cap, long long n) {
    BAD_IF(n <= 0 || !(cap > 0.f));
    soft_cap_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(x, cap, n);
    return launched();
}

extern "C" int isthmus_activation(cudaStream_t s, int a, const float *x, float *out, long long n) {
    BAD_IF(n <= 0 || a < 0 || a > 2);
    activation_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(a, x, out, n);
    return launched();
}

extern "C" int isthmus_gated_activation(cudaStream_t s, int a, const float *gate, const float *up, float *out,
                                        long long n) {
    BAD_IF(n <= 0 || a < 0 || a > 2);
    gated_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(a, gate, up, out, n);
    return launched();
}

extern "C" int isthmus_rms_norm(cudaStream_t s, const float *x, const float *w, float *out, long long groups, int dim,
                                float eps, int plusOne) {
    BAD_IF(groups <= 0 || groups > 0x7fffffffLL || dim <= 0);
    rms_norm_kernel<<<(unsigned int) groups, EW_THREADS, 0, s>>>(x, w, out, dim, eps, plusOne);
    return launched();
}

extern "C" int isthmus_layer_norm(cudaStream_t s, const float *x, const float *w, const float *b, float *out, int rows,
                                  int dim, float eps) {
    BAD_IF(rows <= 0 || dim <= 0);
    layer_norm_kernel<<<rows, EW_THREADS, 0, s>>>(x, w, b, out, dim, eps);
    return launched();
}

extern "C" int isthmus_rope(cudaStream_t s, float *x, int n, int heads, int headDim, const int *positions,
                            const float *invFreq, float scaling, int rotaryDim, int neox) {
    BAD_IF(n <= 0 || heads <= 0 || rotaryDim <= 0 || rotaryDim > headDim || (rotaryDim & 1) != 0);
    BAD_IF((long long) n * heads > 0x7fffffffLL);
    rope_kernel<<<n * heads, 64, 0, s>>>(x, heads, headDim, positions, invFreq, scaling, rotaryDim / 2, neox);
    return launched();
}

extern "C" int isthmus_argmax(cudaStream_t s, const float *x, int cols, int *result) {
    BAD_IF(cols <= 0);
    argmax_kernel<<<1, 1024, 0, s>>>(x, cols, result);
    return launched();
}

extern "C" int isthmus_fill_zero(cudaStream_t s, void *p, long long bytes) {
    BAD_IF(bytes < 0);
    if (bytes == 0) return (int) cudaSuccess;
    fill_zero_kernel<<<grid_for(bytes, EW_THREADS), EW_THREADS, 0, s>>>(static_cast<uint8_t *>(p), bytes);
    return launched();
}
