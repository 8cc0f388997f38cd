// GEMM microbenchmark for the prefill path, run without Java: times the tensor-core GEMM (gemm_tc.cu) and the
// fp32 tiled GEMM it replaces (matmul.cu's gemm_tiled) for y[n][rows] = x[n][cols] · W[rows][cols]^T on random
// data, prints TFLOP/s and the largest difference between the two, relative to the largest |y|.
// Built and run by run.sh (not by Maven). Usage: bench_gemm [n] [iterations]
#include "../src/main/cuda/matmul.cu"
#include "../src/main/cuda/gemm_tc.cu"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using namespace isthmus;

#define CHECK(call)                                                                              \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)

static unsigned short f16_bits(float f) {
    return __half_as_ushort(__float2half_rn(f));
}

// Random weight bytes of type T: values in [-1, 1] for float types, random blocks with sane scales otherwise.
static std::vector<uint8_t> random_weight(int type, int rows, int cols, std::mt19937 &rng) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::uniform_int_distribution<int> byte(0, 255);
    long long rb = 0;
    switch (type) {
        case T_BF16: case T_F16: rb = 2LL * cols; break;
        case T_Q8_0: rb = cols / 32 * 34LL; break;
        case T_Q4_K: rb = cols / 256 * 144LL; break;
        default: std::fprintf(stderr, "type %d not in the bench\n", type); std::exit(2);
    }
    std::vector<uint8_t> w((size_t) (rb * rows));
    for (auto &b : w) b = (uint8_t) byte(rng);
    if (type == T_BF16 || type == T_F16) {
        for (size_t i = 0; i < w.size() / 2; i++) {
            float f = u(rng);
            unsigned short bits;
            if (type == T_F16) {
                bits = f16_bits(f);
            } else {
                unsigned int fb;
                std::memcpy(&fb, &f, 4);
                bits = (unsigned short) (fb >> 16);
            }
            w[2 * i] = (uint8_t) bits;
            w[2 * i + 1] = (uint8_t) (bits >> 8);
        }
    } else if (type == T_Q8_0) {
        for (size_t b = 0; b < w.size(); b += 34) {
            unsigned short d = f16_bits(0.001f + 0.02f * (u(rng) + 1) / 2);
            w[b] = (uint8_t) d;
            w[b + 1] = (uint8_t) (d >> 8);
        }
    } else {  // Q4_K: d and dmin
        for (size_t b = 0; b < w.size(); b += 144) {
            unsigned short d = f16_bits(0.0005f + 0.003f * (u(rng) + 1) / 2);
            unsigned short m = f16_bits(0.0005f + 0.003f * (u(rng) + 1) / 2);
            w[b] = (uint8_t) d; w[b + 1] = (uint8_t) (d >> 8);
            w[b + 2] = (uint8_t) m; w[b + 3] = (uint8_t) (m >> 8);
        }
    }
    return w;
}

template <int T>
static void run_tiled(const uint8_t *w, int rows, int cols, const float *x, float *y, int n) {
    dim3 grid((rows + BM - 1) / BM, (n + BN - 1) / BN);
    gemm_tiled<T><<<grid, GEMM_THREADS>>>(w, rows, cols, x, y, n);
}

static void tiled(int type, const uint8_t *w, int rows, int cols, const float *x, float *y, int n) {
    switch (type) {
        case T_BF16: run_tiled<T_BF16>(w, rows, cols, x, y, n); break;
        case T_F16: run_tiled<T_F16>(w, rows, cols, x, y, n); break;
        case T_Q8_0: run_tiled<T_Q8_0>(w, rows, cols, x, y, n); break;
        case T_Q4_K: run_tiled<T_Q4_K>(w, rows, cols, x, y, n); break;
    }
    CHECK(cudaGetLastError());
}

template <typename F>
static double time_ms(F f, int iters) {
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    f();  // warm-up
    f();
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaEventRecord(a));
    for (int i = 0; i < iters; i++) f();
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    CHECK(cudaEventDestroy(a));
    CHECK(cudaEventDestroy(b));
    return ms / iters;
}

int main(int argc, char **argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 2048;
    const int iters = argc > 2 ? std::atoi(argv[2]) : 20;
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (%d SMs), %d tokens, %d iterations\n", prop.name, prop.multiProcessorCount, n, iters);
    std::printf("%-5s %6s %6s %10s %10s %10s %10s %12s\n", "type", "rows", "cols", "tc ms", "tc TFLOP/s", "old ms",
                "old TFLOP/s", "max rel diff");
    const int shapes[3][2] = {{2048, 2048}, {8192, 2048}, {2048, 8192}};
    const int types[4] = {T_BF16, T_F16, T_Q8_0, T_Q4_K};
    const char *names[4] = {"BF16", "F16", "Q8_0", "Q4_K"};
    std::mt19937 rng(42);
    int bad = 0;
    for (int ti = 0; ti < 4; ti++) {
        for (auto &sh : shapes) {
            const int rows = sh[0], cols = sh[1];
            std::vector<uint8_t> hw = random_weight(types[ti], rows, cols, rng);
            std::vector<float> hx((size_t) n * cols);
            std::uniform_real_distribution<float> u(-1.f, 1.f);
            for (auto &v : hx) v = u(rng);
            uint8_t *dw;
            float *dx, *dy, *dr;
            CHECK(cudaMalloc(&dw, hw.size()));
            CHECK(cudaMalloc(&dx, hx.size() * 4));
            CHECK(cudaMalloc(&dy, (size_t) n * rows * 4));
            CHECK(cudaMalloc(&dr, (size_t) n * rows * 4));
            CHECK(cudaMemcpy(dw, hw.data(), hw.size(), cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dx, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
            const int type = types[ti];
            const double tc = time_ms([&] { CHECK((cudaError_t) gemm_tc(0, type, dw, rows, cols, dx, dy, n)); }, iters);
            const double old = time_ms([&] { tiled(type, dw, rows, cols, dx, dr, n); }, iters > 5 ? 5 : iters);
            CHECK(cudaDeviceSynchronize());
            std::vector<float> y((size_t) n * rows), r((size_t) n * rows);
            CHECK(cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost));
            CHECK(cudaMemcpy(r.data(), dr, r.size() * 4, cudaMemcpyDeviceToHost));
            double maxRef = 0, maxDiff = 0;
            for (size_t i = 0; i < y.size(); i++) {
                maxRef = std::fmax(maxRef, std::fabs(r[i]));
                const double d = std::fabs((double) y[i] - r[i]);
                maxDiff = std::isnan(d) ? INFINITY : std::fmax(maxDiff, d);
            }
            const double rel = maxDiff / (maxRef > 0 ? maxRef : 1);
            const double flop = 2.0 * n * rows * cols;
            std::printf("%-5s %6d %6d %10.3f %10.1f %10.3f %10.1f %12.2e%s\n", names[ti], rows, cols, tc,
                        flop / tc / 1e9, old, flop / old / 1e9, rel, rel < 1e-2 ? "" : "  <-- too large");
            if (!(rel < 1e-2)) bad++;
            CHECK(cudaFree(dw));
            CHECK(cudaFree(dx));
            CHECK(cudaFree(dy));
            CHECK(cudaFree(dr));
        }
    }
    return bad == 0 ? 0 : 1;
}
