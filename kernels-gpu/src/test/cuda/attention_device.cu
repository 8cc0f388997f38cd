// GPU check and micro-benchmark of decode attention (isthmus_attention with one query), standalone:
// Llama-3.2-1B shapes (32 heads, 8 KV heads, head dim 64) over an F16 paged cache of 16-token blocks
// (blocks in a shuffled order), against a host reference in double.
//   nvcc -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -Ikernels-gpu/src/main/cuda \
//        -o /tmp/attd kernels-gpu/src/test/cuda/attention_device.cu kernels-gpu/src/main/cuda/attention.cu && /tmp/attd
#include <algorithm>
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

static int run(int heads, int kvHeads, int hd, int ctx, int window, bool sinks, bool bench) {
    const int T = 16;
    const int blocks = (ctx + T - 1) / T;
    const long long rowBytes = 2LL * hd;
    const long long blockBytes = 2LL * kvHeads * T * rowBytes;
    std::mt19937 g(ctx + hd);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<unsigned short> pool((size_t) (blockBytes / 2 * blocks));
    for (auto &v : pool) v = __half_as_ushort(__float2half(u(g)));
    std::vector<int> table(blocks);
    for (int i = 0; i < blocks; i++) table[i] = i;
    std::shuffle(table.begin(), table.end(), g);
    std::vector<float> q((size_t) heads * hd), sk(heads);
    for (auto &v : q) v = u(g);
    for (auto &v : sk) v = u(g);
    const float scale = 1.f / sqrtf((float) hd);
    const int p = ctx - 1;  // the query's position
    uint8_t *dpool;
    int *dtable;
    float *dq, *dout, *dsinks;
    CK(cudaMalloc(&dpool, pool.size() * 2));
    CK(cudaMalloc(&dtable, 4 * blocks));
    CK(cudaMalloc(&dq, 4 * q.size()));
    CK(cudaMalloc(&dout, 4 * q.size()));
    CK(cudaMalloc(&dsinks, 4 * heads));
    CK(cudaMemcpy(dpool, pool.data(), pool.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dtable, table.data(), 4 * blocks, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dq, q.data(), 4 * q.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dsinks, sk.data(), 4 * heads, cudaMemcpyHostToDevice));
    float *dscratch = nullptr;  // the per-split partial results (the backend's attention scratch)
    CK(cudaMalloc(&dscratch, 4LL * 128 * 16 * (512 + 2)));
    auto launch = [&]() {
        return isthmus_attention(0, dq, dout, 1, heads, kvHeads, hd, scale, window, 0, 0.f, sinks ? dsinks : nullptr, p, 0,
                                 dpool, 1, dtable, T, blockBytes, rowBytes, dscratch);
    };
    if (launch() != 0) {
        printf("FAIL launch\n");
        return 1;
    }
    CK(cudaDeviceSynchronize());
    std::vector<float> out(q.size());
    CK(cudaMemcpy(out.data(), dout, 4 * out.size(), cudaMemcpyDeviceToHost));
    auto kv = [&](int j, int g2, bool value, int d) {
        const long long off = (long long) table[j / T] * blockBytes +
                              ((long long) ((value ? kvHeads : 0) + g2) * T + j % T) * rowBytes + 2LL * d;
        return (double) __half2float(__ushort_as_half(pool[off / 2]));
    };
    int bad = 0;
    double worst = 0;
    const int from = window > 0 ? std::max(0, p - window + 1) : 0;
    for (int h = 0; h < heads; h++) {
        const int g2 = h / (heads / kvHeads);
        std::vector<double> s(p + 1);
        double m = -1e300;
        for (int j = from; j <= p; j++) {
            double dot = 0;
            for (int d = 0; d < hd; d++) dot += (double) q[h * hd + d] * kv(j, g2, false, d);
            s[j] = dot * scale;
            m = std::max(m, s[j]);
        }
        if (sinks) m = std::max(m, (double) sk[h]);
        double l = sinks ? exp(sk[h] - m) : 0;
        for (int j = from; j <= p; j++) l += exp(s[j] - m);
        for (int d = 0; d < hd; d++) {
            double o = 0;
            for (int j = from; j <= p; j++) o += exp(s[j] - m) * kv(j, g2, true, d);
            o /= l;
            const double e = fabs(o - out[h * hd + d]);
            worst = std::max(worst, e);
            if (!(e <= 2e-5)) bad++;
        }
    }
    printf("%s heads %d/%d hd %d ctx %d window %d sinks %d: worst abs error %.2e\n", bad ? "FAIL" : "ok  ", heads, kvHeads,
           hd, ctx, window, sinks ? 1 : 0, worst);
    if (bench) {
        cudaEvent_t a, b;
        CK(cudaEventCreate(&a));
        CK(cudaEventCreate(&b));
        for (int i = 0; i < 5; i++) launch();
        CK(cudaEventRecord(a));
        const int reps = 100;
        for (int i = 0; i < reps; i++) launch();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, b));
        printf("bench attention heads %d/%d hd %d ctx %5d: %7.2f us\n", heads, kvHeads, hd, ctx, 1000.0 * ms / reps);
    }
    CK(cudaFree(dpool));
    CK(cudaFree(dtable));
    CK(cudaFree(dq));
    CK(cudaFree(dout));
    CK(cudaFree(dsinks));
    return bad ? 1 : 0;
}

int main() {
    int fails = 0;
    fails += run(32, 8, 64, 1, 0, false, false);
    fails += run(32, 8, 64, 77, 0, true, false);
    fails += run(32, 8, 64, 300, 64, false, false);
    fails += run(16, 8, 128, 1000, 0, false, false);
    fails += run(8, 1, 80, 129, 0, true, false);
    fails += run(4, 4, 512, 200, 0, false, false);
    printf(fails ? "%d CHECKS FAILED\n" : "all checks passed\n", fails);
    for (int ctx : {128, 512, 2048, 8192}) run(32, 8, 64, ctx, 0, false, true);
    for (int ctx : {128, 2048}) run(32, 8, 128, ctx, 0, false, true);
    return fails ? 1 : 0;
}
