// Prefill attention microbenchmark, run without Java: times flash_attention (flash_attention.cu) for a causal
// prefill of n queries from position 0 (Llama-3.2-1B's 32 query / 8 KV heads of 64, and 32 / 8 of 128) for F16
// and Q8_0 caches, and the one-query-a-block kernel (attention.cu) once for comparison; prints ms and the
// attention TFLOP/s (4 · n²/2 · headDim · heads). Built and run by run.sh --attention (not by Maven).
#include "../src/main/cuda/attention.cu"
#include "../src/main/cuda/flash_attention.cu"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace isthmus;

#define CHECK(call)                                                                                     \
    do {                                                                                                \
        cudaError_t e_ = (call);                                                                        \
        if (e_ != cudaSuccess) {                                                                        \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                               \
        }                                                                                               \
    } while (0)

int main(int argc, char **argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 2048;
    const int heads = 32, kvHeads = 8, T = 16;
    std::printf("%-5s %4s %6s %10s %10s %10s\n", "kv", "hd", "n", "flash ms", "TFLOP/s", "old ms");
    for (int hd : {64, 128}) {
        for (int kv : {KV_F16, KV_Q8_0}) {
            const long long rowBytes = kv == KV_Q8_0 ? hd / 32 * 34LL : 2LL * hd;
            const long long blockBytes = (2LL * kvHeads * T * rowBytes + 63) / 64 * 64;
            const int blocks = (n + T - 1) / T;
            std::vector<int> table(blocks);
            for (int i = 0; i < blocks; i++) table[i] = i;
            std::vector<float> hq((size_t) n * heads * hd), hk((size_t) n * kvHeads * hd);
            for (size_t i = 0; i < hq.size(); i++) hq[i] = (float) ((i * 2654435761u) % 1000) / 1000.f - 0.5f;
            for (size_t i = 0; i < hk.size(); i++) hk[i] = (float) ((i * 40503u) % 1000) / 1000.f - 0.5f;
            uint8_t *pool;
            int *dt;
            float *q, *o, *k;
            CHECK(cudaMalloc(&pool, blockBytes * blocks));
            CHECK(cudaMalloc(&dt, blocks * 4));
            CHECK(cudaMalloc(&q, hq.size() * 4));
            CHECK(cudaMalloc(&o, hq.size() * 4));
            CHECK(cudaMalloc(&k, hk.size() * 4));
            CHECK(cudaMemcpy(dt, table.data(), blocks * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(q, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(k, hk.data(), hk.size() * 4, cudaMemcpyHostToDevice));
            CHECK((cudaError_t) isthmus_store_kv(0, kv, pool, k, k, n, kvHeads, hd, 0, dt, T, blockBytes, rowBytes));
            const float scale = 1.f / std::sqrt((float) hd);
            cudaEvent_t a, b;
            CHECK(cudaEventCreate(&a));
            CHECK(cudaEventCreate(&b));
            float ms = 0;
            for (int rep = 0; rep < 2; rep++) {  // the first round warms up
                CHECK(cudaEventRecord(a));
                for (int i = 0; i < 5; i++) {
                    CHECK((cudaError_t) flash_attention(0, q, o, n, heads, kvHeads, hd, scale, 0, 0, 0.f, nullptr, 0, 0,
                                                        pool, kv, dt, T, blockBytes, rowBytes));
                }
                CHECK(cudaEventRecord(b));
                CHECK(cudaEventSynchronize(b));
                CHECK(cudaEventElapsedTime(&ms, a, b));
            }
            const double flash = ms / 5;
            CHECK(cudaEventRecord(a));
            attention_kernel<<<dim3(n, heads), ATT_THREADS, (hd + ATT_THREADS) * sizeof(float)>>>(
                    q, o, heads, kvHeads, hd, scale, 0, 0, 0.f, nullptr, 0, 0, pool, kv, dt, T, blockBytes, rowBytes);
            CHECK(cudaGetLastError());
            CHECK(cudaEventRecord(b));
            CHECK(cudaEventSynchronize(b));
            CHECK(cudaEventElapsedTime(&ms, a, b));
            std::printf("%-5s %4d %6d %10.3f %10.1f %10.3f\n", kv == KV_F16 ? "F16" : "Q8_0", hd, n, flash,
                        4.0 * n * n / 2 * hd * heads / flash / 1e9, ms);
            CHECK(cudaFree(pool));
            CHECK(cudaFree(dt));
            CHECK(cudaFree(q));
            CHECK(cudaFree(o));
            CHECK(cudaFree(k));
        }
    }
    return 0;
}
