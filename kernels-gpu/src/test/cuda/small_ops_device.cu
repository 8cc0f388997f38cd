// Check of argmax (first index of the largest, NaN never wins) on aligned and unaligned rows, and
// micro-benchmark of the small per-token kernels at Llama-3.2-1B decode shapes (device time per call,
// 200 calls back to back), to find any that costs more than its launch.
//   nvcc -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -Ikernels-gpu/src/main/cuda -o /tmp/ops \
//        kernels-gpu/src/test/cuda/small_ops_device.cu kernels-gpu/src/main/cuda/elementwise.cu \
//        kernels-gpu/src/main/cuda/attention.cu && /tmp/ops
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "common.cuh"

#define CK(x)                                                              \
    do {                                                                   \
        cudaError_t e_ = (x);                                              \
        if (e_ != cudaSuccess) {                                           \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));       \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

template <typename F>
static void time(const char *name, F f) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 10; i++) f();
    CK(cudaEventRecord(a));
    const int reps = 200;
    for (int i = 0; i < reps; i++) {
        if (f() != 0) {
            printf("%s: launch failed\n", name);
            exit(1);
        }
    }
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    printf("%-28s %7.2f us\n", name, 1000.0 * ms / reps);
}

static int checkArgmax(int cols, int offset, int ties, bool nans, std::mt19937 &g) {
    std::uniform_real_distribution<float> u(-10.f, 10.f);
    std::vector<float> h(cols + offset);
    for (auto &v : h) v = u(g);
    float *hx = h.data() + offset;
    for (int t = 0; t < ties; t++) hx[g() % cols] = 20.f;  // several maxima: the first must win
    if (nans) {
        for (int t = 0; t < 5; t++) hx[g() % cols] = NAN;
    }
    int want = -1;
    float best = -INFINITY;
    for (int i = 0; i < cols; i++) {
        if ((want < 0 && !std::isnan(hx[i])) || hx[i] > best) {
            best = hx[i];
            want = i;
        }
    }
    if (want < 0) want = 0;
    float *dx;
    int *dr;
    CK(cudaMalloc(&dx, 4 * h.size()));
    CK(cudaMalloc(&dr, 4));
    CK(cudaMemcpy(dx, h.data(), 4 * h.size(), cudaMemcpyHostToDevice));
    if (isthmus_argmax(0, dx + offset, cols, dr) != 0) return 1;
    int got;
    CK(cudaMemcpy(&got, dr, 4, cudaMemcpyDeviceToHost));
    CK(cudaFree(dx));
    CK(cudaFree(dr));
    printf("%s argmax cols %d offset %d ties %d nans %d: %d (want %d)\n", got == want ? "ok  " : "FAIL", cols, offset, ties,
           nans ? 1 : 0, got, want);
    return got == want ? 0 : 1;
}

int main() {
    std::mt19937 g(9);
    int fails = 0;
    for (int cols : {1, 3, 7, 1001, 4096, 128256, 128257}) {
        for (int offset : {0, 1}) {
            fails += checkArgmax(cols, offset, 0, false, g);
            fails += checkArgmax(cols, offset, 3, true, g);
        }
    }
    printf(fails ? "%d ARGMAX CHECKS FAILED\n" : "argmax checks passed\n", fails);
    float *x, *y, *z, *w, *inv;
    int *pos, *res, *table;
    uint8_t *pool;
    CK(cudaMalloc(&x, 4 << 20));
    CK(cudaMalloc(&y, 4 << 20));
    CK(cudaMalloc(&z, 4 << 20));
    CK(cudaMalloc(&w, 1 << 16));
    CK(cudaMalloc(&inv, 1 << 12));
    CK(cudaMalloc(&pos, 1 << 12));
    CK(cudaMalloc(&res, 16));
    CK(cudaMalloc(&table, 1 << 12));
    CK(cudaMalloc(&pool, 64 << 20));
    CK(cudaMemset(x, 0, 4 << 20));
    CK(cudaMemset(w, 0, 1 << 16));
    CK(cudaMemset(inv, 0, 1 << 12));
    CK(cudaMemset(pos, 0, 1 << 12));
    CK(cudaMemset(table, 0, 1 << 12));
    time("rms_norm 1x2048", [&] { return isthmus_rms_norm(0, x, w, y, 1, 2048, 1e-5f, 0); });
    time("rope q 32x64", [&] { return isthmus_rope(0, x, 1, 32, 64, pos, inv, 1.f, 64, 1); });
    time("add 2048", [&] { return isthmus_add(0, x, y, z, 2048); });
    time("gated silu 8192", [&] { return isthmus_gated_activation(0, 0, x, y, z, 8192); });
    time("argmax 128256", [&] { return isthmus_argmax(0, x, 128256, res); });
    time("store_kv f16 8x64", [&] {
        return isthmus_store_kv(0, 1, pool, x, y, 1, 8, 64, 5, table, 16, 2LL * 8 * 16 * 128, 128);
    });
    time("fill_zero 8 KiB", [&] { return isthmus_fill_zero(0, z, 8192); });
    return 0;
}
