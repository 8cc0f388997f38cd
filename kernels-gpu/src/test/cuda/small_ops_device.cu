// Micro-benchmark of the small per-token kernels at Llama-3.2-1B decode shapes (device time per call,
// 200 calls back to back), to find any that costs more than its launch.
//   nvcc -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -Ikernels-gpu/src/main/cuda -o /tmp/ops \
//        kernels-gpu/src/test/cuda/small_ops_device.cu kernels-gpu/src/main/cuda/elementwise.cu \
//        kernels-gpu/src/main/cuda/attention.cu && /tmp/ops
#include <cstdio>
#include <cstdlib>
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

int main() {
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
