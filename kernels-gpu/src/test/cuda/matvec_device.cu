// GPU check and micro-benchmark of the decode matvec (isthmus_matmul with n == 1), standalone (no
// Java): for every weight type and shapes that take each group width and the fallback kernel, the
// device result against a host reference (the kernels' own dequant32, which CudaDequantHostTest checks
// bit for bit against the Java reference); then the bandwidth of Llama-3.2-1B-shaped matvecs.
//   nvcc -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -Ikernels-gpu/src/main/cuda \
//        -o /tmp/mvd kernels-gpu/src/test/cuda/matvec_device.cu kernels-gpu/src/main/cuda/matmul.cu && /tmp/mvd
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "common.cuh"

using namespace isthmus;

#define CK(x)                                                                              \
    do {                                                                                   \
        cudaError_t e_ = (x);                                                              \
        if (e_ != cudaSuccess) {                                                           \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static const int TYPES[] = {T_F32, T_F16, T_BF16, T_Q8_0, T_Q4_0, T_Q4_K, T_Q5_K, T_Q6_K, T_MXFP4};

static const char *name(int t) {
    switch (t) {
        case T_F32: return "F32";
        case T_F16: return "F16";
        case T_BF16: return "BF16";
        case T_Q8_0: return "Q8_0";
        case T_Q4_0: return "Q4_0";
        case T_Q4_K: return "Q4_K";
        case T_Q5_K: return "Q5_K";
        case T_Q6_K: return "Q6_K";
        default: return "MXFP4";
    }
}

static long long rowBytes(int t, int cols) {
    switch (t) {
        case T_F32: return row_bytes<T_F32>(cols);
        case T_F16: return row_bytes<T_F16>(cols);
        case T_BF16: return row_bytes<T_BF16>(cols);
        case T_Q8_0: return row_bytes<T_Q8_0>(cols);
        case T_Q4_0: return row_bytes<T_Q4_0>(cols);
        case T_Q4_K: return row_bytes<T_Q4_K>(cols);
        case T_Q5_K: return row_bytes<T_Q5_K>(cols);
        case T_Q6_K: return row_bytes<T_Q6_K>(cols);
        default: return row_bytes<T_MXFP4>(cols);
    }
}

static int blockSize(int t) {
    return t == T_F32 || t == T_F16 || t == T_BF16 ? 1 : (t == T_Q4_K || t == T_Q5_K || t == T_Q6_K) ? 256 : 32;
}

static void setF16(uint8_t *p, float v) {
    unsigned short h = __half_as_ushort(__float2half(v));
    p[0] = (uint8_t) h;
    p[1] = (uint8_t) (h >> 8);
}

static std::vector<uint8_t> randomWeights(int t, int rows, int cols, std::mt19937 &g) {
    long long rb = rowBytes(t, cols);
    std::vector<uint8_t> b((size_t) (rb * rows));
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    if (blockSize(t) == 1) {
        for (long long i = 0; i < (long long) rows * cols; i++) {
            float v = u(g);
            if (t == T_F32) {
                memcpy(&b[4 * i], &v, 4);
            } else if (t == T_F16) {
                setF16(&b[2 * i], v);
            } else {
                unsigned int bits;
                memcpy(&bits, &v, 4);
                b[2 * i] = (uint8_t) (bits >> 16);
                b[2 * i + 1] = (uint8_t) (bits >> 24);
            }
        }
        return b;
    }
    for (auto &x : b) x = (uint8_t) g();
    int bb = t == T_Q8_0 ? 34 : t == T_Q4_0 ? 18 : t == T_MXFP4 ? 17 : t == T_Q4_K ? 144 : t == T_Q5_K ? 176 : 210;
    std::uniform_real_distribution<float> s(0.5f, 1.f);
    for (size_t at = 0; at + bb <= b.size(); at += bb) {
        switch (t) {
            case T_Q8_0: setF16(&b[at], 0.01f * s(g)); break;
            case T_Q4_0: setF16(&b[at], 0.1f * s(g)); break;
            case T_Q4_K:
            case T_Q5_K:
                setF16(&b[at], 0.002f * s(g));
                setF16(&b[at + 2], 0.002f * s(g));
                break;
            case T_Q6_K: setF16(&b[at + 208], 0.0003f * s(g)); break;
            default: b[at] = (uint8_t) (118 + g() % 10); break;
        }
    }
    return b;
}

template <int T>
static void deq(const uint8_t *row, int c, int cols, float (&v)[32]) {
    dequant32<T>(row, c, cols, v);
}

static void dequantRow(int t, const uint8_t *row, int cols, float *out) {
    for (int c = 0; c < (cols + 31) / 32; c++) {
        float v[32];
        switch (t) {
            case T_F32: deq<T_F32>(row, c, cols, v); break;
            case T_F16: deq<T_F16>(row, c, cols, v); break;
            case T_BF16: deq<T_BF16>(row, c, cols, v); break;
            case T_Q8_0: deq<T_Q8_0>(row, c, cols, v); break;
            case T_Q4_0: deq<T_Q4_0>(row, c, cols, v); break;
            case T_Q4_K: deq<T_Q4_K>(row, c, cols, v); break;
            case T_Q5_K: deq<T_Q5_K>(row, c, cols, v); break;
            case T_Q6_K: deq<T_Q6_K>(row, c, cols, v); break;
            default: deq<T_MXFP4>(row, c, cols, v); break;
        }
        for (int i = 0; i < 32 && 32 * c + i < cols; i++) out[32 * c + i] = v[i];
    }
}

// One check: rows x cols of type t, x at xOffset floats into its allocation. Returns failures.
static int check(int t, int rows, int cols, int xOffset, std::mt19937 &g) {
    std::vector<uint8_t> w = randomWeights(t, rows, cols, g);
    std::vector<float> x(cols);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto &v : x) v = u(g);
    uint8_t *dw;
    float *dx, *dy;
    size_t wbytes = (w.size() + 15) / 16 * 16;
    CK(cudaMalloc(&dw, wbytes));
    CK(cudaMalloc(&dx, 4 * (cols + xOffset) + 16));
    CK(cudaMalloc(&dy, 4 * rows));
    CK(cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx + xOffset, x.data(), 4 * cols, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xFF, 4 * rows));  // NaN: a row never written fails
    int err = isthmus_matmul(0, t, dw, rows, cols, dx + xOffset, dy, 1);
    if (err != 0) {
        printf("FAIL %s %dx%d: launch error %d\n", name(t), rows, cols, err);
        return 1;
    }
    CK(cudaDeviceSynchronize());
    std::vector<float> y(rows);
    CK(cudaMemcpy(y.data(), dy, 4 * rows, cudaMemcpyDeviceToHost));
    long long rb = rowBytes(t, cols);
    std::vector<float> wf(cols);
    int bad = 0;
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        dequantRow(t, w.data() + r * rb, cols, wf.data());
        double want = 0, mag = 0;
        for (int i = 0; i < cols; i++) {
            want += (double) wf[i] * x[i];
            mag += fabs((double) wf[i] * x[i]);
        }
        double e = fabs(y[r] - want);
        double tol = 1e-5 * mag + 1e-7;
        worst = fmax(worst, e / (mag + 1e-30));
        if (!(e <= tol)) {
            if (bad < 3) printf("FAIL %s %dx%d xoff %d row %d: gpu %g want %g (tol %g)\n", name(t), rows, cols, xOffset, r,
                                y[r], want, tol);
            bad++;
        }
    }
    printf("%s %s %dx%d xoff %d: worst relative error %.2e\n", bad ? "FAIL" : "ok  ", name(t), rows, cols, xOffset, worst);
    CK(cudaFree(dw));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
    return bad ? 1 : 0;
}

static void bench(int t, int rows, int cols, int xOffset) {
    std::mt19937 g(3);
    std::vector<uint8_t> w = randomWeights(t, rows, cols, g);
    uint8_t *dw;
    float *dx, *dy;
    CK(cudaMalloc(&dw, (w.size() + 15) / 16 * 16));
    CK(cudaMalloc(&dx, 4 * (cols + 4)));
    CK(cudaMalloc(&dy, 4 * rows));
    CK(cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice));
    CK(cudaMemset(dx, 0, 4 * (cols + 4)));
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 5; i++) isthmus_matmul(0, t, dw, rows, cols, dx + xOffset, dy, 1);
    const int reps = 50;
    CK(cudaEventRecord(a));
    for (int i = 0; i < reps; i++) isthmus_matmul(0, t, dw, rows, cols, dx + xOffset, dy, 1);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    double us = 1000.0 * ms / reps;
    printf("bench %-5s %6d x %5d %s: %7.2f us, %6.0f GB/s\n", name(t), rows, cols, xOffset ? "general" : "units  ", us,
           w.size() / (us * 1e3));
    CK(cudaFree(dw));
    CK(cudaFree(dx));
    CK(cudaFree(dy));
}

int main() {
    std::mt19937 g(1);
    int fails = 0;
    for (int t : TYPES) {
        int bs = blockSize(t);
        int shortCols = bs == 256 ? 768 : bs == 32 ? 352 : t == T_F32 ? 100 : 296;
        fails += check(t, 13, 8192, 0, g);     // few long rows: 8 warps a row
        fails += check(t, 1003, shortCols, 0, g);
        fails += check(t, 20000, bs == 256 ? 256 : 64, 0, g);  // many short rows: 1 warp a group
        fails += check(t, 77, 2048, 0, g);
        fails += check(t, 29, shortCols, 1, g);  // unaligned x: the general kernel
        if (bs == 1) fails += check(t, 61, 298, 0, g);
    }
    printf(fails ? "%d CHECKS FAILED\n" : "all checks passed\n", fails);
    int shapes[][2] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}, {128256, 2048}};
    for (int t : TYPES) {
        for (auto &s : shapes) bench(t, s[0], s[1], 0);
        bench(t, 8192, 2048, 1);
    }
    // device-to-device copy bandwidth for scale (bytes read + written)
    size_t n = 1ull << 30;
    void *p, *q;
    CK(cudaMalloc(&p, n));
    CK(cudaMalloc(&q, n));
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaMemcpy(q, p, n, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(a));
    for (int i = 0; i < 5; i++) CK(cudaMemcpyAsync(q, p, n, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    printf("copy: %.0f GB/s (read + write)\n", 2.0 * 5 * n / (ms * 1e6));
    return fails ? 1 : 0;
}
