// Correctness check of the prefill kernels on a GPU without Java: the tensor-core GEMM (gemm_tc.cu) against the
// fp32 tiled GEMM (matmul.cu) for every weight type at token counts and shapes off the tiles, and the flash-
// attention kernel (flash_attention.cu) against the one-query-a-block kernel (attention.cu) for every KV type
// with GQA, sliding window, chunks, sinks, soft-cap and a continued prefill. Prints one line a case and exits 1
// on any failure. Built and run by run.sh --check (not by Maven).
#include "../src/main/cuda/matmul.cu"
#include "../src/main/cuda/gemm_tc.cu"
#ifndef CHECK_GEMM_ONLY  // -DCHECK_GEMM_ONLY: the GEMM half alone
#include "../src/main/cuda/attention.cu"
#include "../src/main/cuda/flash_attention.cu"
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
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

static std::mt19937 rng(7);

static float uni(float a, float b) {
    return std::uniform_real_distribution<float>(a, b)(rng);
}

static void put_f16(std::vector<uint8_t> &m, size_t at, float v) {
    unsigned short b = __half_as_ushort(__float2half_rn(v));
    m[at] = (uint8_t) b;
    m[at + 1] = (uint8_t) (b >> 8);
}

static long long rbytes(int type, int cols) {
    switch (type) {
        case T_F16: case T_BF16: return 2LL * cols;
        case T_Q8_0: return cols / 32 * 34LL;
        case T_Q4_0: return cols / 32 * 18LL;
        case T_MXFP4: return cols / 32 * 17LL;
        case T_Q4_K: return cols / 256 * 144LL;
        case T_Q5_K: return cols / 256 * 176LL;
        case T_Q6_K: return cols / 256 * 210LL;
    }
    return 0;
}

static int block_size(int type) {
    return type == T_F16 || type == T_BF16 ? 1 : (type == T_Q4_K || type == T_Q5_K || type == T_Q6_K ? 256 : 32);
}

// Random weight bytes with sane scale fields (as CudaBackendOpsTest).
static std::vector<uint8_t> weight(int type, int rows, int cols) {
    const long long rb = rbytes(type, cols);
    std::vector<uint8_t> m((size_t) (rb * rows));
    for (auto &b : m) b = (uint8_t) (rng() & 0xFF);
    if (type == T_F16) {
        for (size_t i = 0; i < m.size(); i += 2) put_f16(m, i, uni(-1, 1));
        return m;
    }
    if (type == T_BF16) {
        for (size_t i = 0; i < m.size(); i += 2) {
            float f = uni(-1, 1);
            unsigned int fb;
            std::memcpy(&fb, &f, 4);
            m[i] = (uint8_t) (fb >> 16);
            m[i + 1] = (uint8_t) (fb >> 24);
        }
        return m;
    }
    const int bb = (int) (rbytes(type, block_size(type)));
    for (size_t at = 0; at + bb <= m.size(); at += bb) {
        switch (type) {
            case T_Q8_0: put_f16(m, at, uni(0.001f, 0.02f)); break;
            case T_Q4_0: put_f16(m, at, uni(0.01f, 0.2f)); break;
            case T_Q4_K: case T_Q5_K: put_f16(m, at, uni(0.0005f, 0.003f)); put_f16(m, at + 2, uni(0.0005f, 0.003f)); break;
            case T_Q6_K: put_f16(m, at + 208, uni(0.00005f, 0.0005f)); break;
            case T_MXFP4: m[at] = (uint8_t) (118 + rng() % 10); break;
        }
    }
    return m;
}

template <int T>
static void tiled_t(const uint8_t *w, int rows, int cols, const float *x, float *y, int n) {
    dim3 grid((rows + BM - 1) / BM, (n + BN - 1) / BN);
    gemm_tiled<T><<<grid, GEMM_THREADS>>>(w, rows, cols, x, y, n);
}

static void tiled(int type, const uint8_t *w, int rows, int cols, const float *x, float *y, int n) {
    switch (type) {
        case T_F16: tiled_t<T_F16>(w, rows, cols, x, y, n); break;
        case T_BF16: tiled_t<T_BF16>(w, rows, cols, x, y, n); break;
        case T_Q8_0: tiled_t<T_Q8_0>(w, rows, cols, x, y, n); break;
        case T_Q4_0: tiled_t<T_Q4_0>(w, rows, cols, x, y, n); break;
        case T_Q4_K: tiled_t<T_Q4_K>(w, rows, cols, x, y, n); break;
        case T_Q5_K: tiled_t<T_Q5_K>(w, rows, cols, x, y, n); break;
        case T_Q6_K: tiled_t<T_Q6_K>(w, rows, cols, x, y, n); break;
        case T_MXFP4: tiled_t<T_MXFP4>(w, rows, cols, x, y, n); break;
    }
    CHECK(cudaGetLastError());
}

static int check_gemm() {
    const int types[8] = {T_F16, T_BF16, T_Q8_0, T_Q4_0, T_Q4_K, T_Q5_K, T_Q6_K, T_MXFP4};
    const char *names[8] = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K", "MXFP4"};
    int bad = 0;
    for (int ti = 0; ti < 8; ti++) {
        const int type = types[ti];
        const bool bf = type == T_BF16 || type == T_MXFP4;
        std::vector<int> colsList = block_size(type) == 1 ? std::vector<int>{37, 48, 136, 1000}
                                                          : std::vector<int>{block_size(type) * 3};
        for (int cols : colsList) {
            for (int rows : {131, 256, 7}) {
                std::vector<uint8_t> hw = weight(type, rows, cols);
                uint8_t *dw;
                CHECK(cudaMalloc(&dw, hw.size()));
                CHECK(cudaMemcpy(dw, hw.data(), hw.size(), cudaMemcpyHostToDevice));
                for (int n : {8, 9, 33, 130, 512}) {
                    std::vector<float> hx((size_t) n * cols);
                    for (auto &v : hx) v = uni(-1, 1);
                    float *dx, *dy, *dr;
                    CHECK(cudaMalloc(&dx, hx.size() * 4));
                    CHECK(cudaMalloc(&dy, (size_t) n * rows * 4 + 64));
                    CHECK(cudaMalloc(&dr, (size_t) n * rows * 4));
                    CHECK(cudaMemcpy(dx, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
                    CHECK(cudaMemset(dy, 0x7f, (size_t) n * rows * 4 + 64));  // sentinel past the end
                    CHECK((cudaError_t) gemm_tc(0, type, dw, rows, cols, dx, dy, n));
                    tiled(type, dw, rows, cols, dx, dr, n);
                    CHECK(cudaDeviceSynchronize());
                    std::vector<float> y((size_t) n * rows + 16), r((size_t) n * rows);
                    CHECK(cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost));
                    CHECK(cudaMemcpy(r.data(), dr, r.size() * 4, cudaMemcpyDeviceToHost));
                    double maxRef = 0, maxDiff = 0;
                    for (size_t i = 0; i < r.size(); i++) {
                        maxRef = std::fmax(maxRef, std::fabs(r[i]));
                        const double d = std::fabs((double) y[i] - r[i]);
                        maxDiff = std::isnan(d) ? INFINITY : std::fmax(maxDiff, d);
                    }
                    bool tail = true;
                    for (size_t i = r.size(); i < y.size(); i++) {
                        unsigned int b;
                        std::memcpy(&b, &y[i], 4);
                        tail &= b == 0x7f7f7f7fu;
                    }
                    const double rel = maxDiff / (maxRef > 0 ? maxRef : 1);
                    const bool ok = rel < (bf ? 1e-2 : 2e-3) && tail;
                    if (!ok || n == 512) {
                        std::printf("gemm %-5s rows %4d cols %4d n %4d: max diff / max|y| %.2e%s%s\n", names[ti], rows,
                                    cols, n, rel, tail ? "" : " WROTE PAST y", ok ? "" : "  FAIL");
                    }
                    bad += ok ? 0 : 1;
                    CHECK(cudaFree(dx));
                    CHECK(cudaFree(dy));
                    CHECK(cudaFree(dr));
                }
                CHECK(cudaFree(dw));
            }
        }
    }
    return bad;
}

#ifndef CHECK_GEMM_ONLY
struct AttCase {
    const char *name;
    int heads, kvHeads, hd, window, chunk;
    float softCap;
    bool sinks;
    int cached, n, firstLive;
};

static int check_attention() {
    const AttCase cases[] = {
        {"MHA hd 64", 4, 4, 64, 0, 0, 0.f, false, 0, 37, 0},
        {"GQA hd 128 long", 8, 2, 128, 0, 0, 0.f, false, 0, 300, 0},
        {"GQA hd 128 continued", 8, 2, 128, 0, 0, 0.f, false, 45, 70, 0},
        {"window 16", 4, 2, 64, 16, 0, 0.f, false, 10, 90, 0},
        {"window 40, released keys", 4, 2, 64, 40, 0, 0.f, false, 100, 50, 64},
        {"chunk 32", 4, 1, 64, 0, 32, 0.f, false, 5, 100, 0},
        {"sinks + soft-cap 30", 6, 3, 64, 0, 0, 30.f, true, 3, 45, 0},
        {"hd 256", 4, 2, 256, 0, 0, 0.f, false, 0, 40, 0},
        {"hd 512 sinks", 2, 1, 512, 0, 0, 0.f, true, 7, 20, 0},
        {"hd 96 n 2", 4, 2, 96, 0, 0, 0.f, false, 30, 2, 0},
        {"hd 36 (float KV only)", 3, 3, 36, 0, 0, 0.f, false, 0, 33, 0},
    };
    const char *kvNames[4] = {"F32", "F16", "BF16", "Q8_0"};
    const int T = 16;
    int bad = 0;
    for (int kv = 0; kv < 4; kv++) {
        for (const AttCase &c : cases) {
            if (kv == KV_Q8_0 && c.hd % 32 != 0) continue;
            const int total = c.cached + c.n;
            const long long rowBytes = kv == KV_F32 ? 4LL * c.hd : kv == KV_Q8_0 ? c.hd / 32 * 34LL : 2LL * c.hd;
            const long long blockBytes = 2LL * c.kvHeads * T * rowBytes;
            const int blocks = (total + T - 1) / T;
            std::vector<int> table(blocks);
            for (int i = 0; i < blocks; i++) table[i] = i;
            std::shuffle(table.begin(), table.end(), rng);
            const int kvw = c.kvHeads * c.hd;
            std::vector<float> hk((size_t) total * kvw), hv((size_t) total * kvw), hq((size_t) c.n * c.heads * c.hd);
            for (auto &v : hk) v = uni(-1, 1);
            for (auto &v : hv) v = uni(-1, 1);
            for (auto &v : hq) v = uni(-1, 1);
            std::vector<float> hs(c.heads);
            for (auto &v : hs) v = uni(-1, 2);
            uint8_t *pool;
            int *dt;
            float *dk, *dv, *dq, *dout, *dref, *dsinks;
            CHECK(cudaMalloc(&pool, blockBytes * blocks));
            CHECK(cudaMemset(pool, 0xff, blockBytes * blocks));  // NaN garbage where nothing was stored
            CHECK(cudaMalloc(&dt, blocks * 4));
            CHECK(cudaMalloc(&dk, hk.size() * 4));
            CHECK(cudaMalloc(&dv, hv.size() * 4));
            CHECK(cudaMalloc(&dq, hq.size() * 4));
            CHECK(cudaMalloc(&dout, hq.size() * 4));
            CHECK(cudaMalloc(&dref, hq.size() * 4));
            CHECK(cudaMalloc(&dsinks, c.heads * 4));
            CHECK(cudaMemcpy(dt, table.data(), blocks * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dk, hk.data(), hk.size() * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dv, hv.data(), hv.size() * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dq, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dsinks, hs.data(), c.heads * 4, cudaMemcpyHostToDevice));
            // Keys below firstLive are "released": never stored (their bytes stay NaN).
            const int from = c.firstLive;
            CHECK((cudaError_t) isthmus_store_kv(0, kv, pool, dk + (size_t) from * kvw, dv + (size_t) from * kvw,
                                                 total - from, c.kvHeads, c.hd, from, dt, T, blockBytes, rowBytes));
            const float scale = 1.f / std::sqrt((float) c.hd);
            const float *sinks = c.sinks ? dsinks : nullptr;
            CHECK((cudaError_t) flash_attention(0, dq, dout, c.n, c.heads, c.kvHeads, c.hd, scale, c.window, c.chunk,
                                                c.softCap, sinks, c.cached, c.firstLive, pool, kv, dt, T, blockBytes,
                                                rowBytes));
            const size_t shared = (size_t) (c.hd + ATT_THREADS) * sizeof(float);
            attention_kernel<<<dim3(c.n, c.heads), ATT_THREADS, shared>>>(dq, dref, c.heads, c.kvHeads, c.hd, scale,
                                                                        c.window, c.chunk, c.softCap, sinks, c.cached,
                                                                        c.firstLive, pool, kv, dt, T, blockBytes,
                                                                        rowBytes);
            CHECK(cudaGetLastError());
            CHECK(cudaDeviceSynchronize());
            std::vector<float> o(hq.size()), r(hq.size());
            CHECK(cudaMemcpy(o.data(), dout, o.size() * 4, cudaMemcpyDeviceToHost));
            CHECK(cudaMemcpy(r.data(), dref, r.size() * 4, cudaMemcpyDeviceToHost));
            double maxDiff = 0;
            for (size_t i = 0; i < o.size(); i++) {
                const double d = std::fabs((double) o[i] - r[i]);
                maxDiff = std::isnan(d) ? INFINITY : std::fmax(maxDiff, d);
            }
            const bool ok = maxDiff <= 2e-5;  // values in [-1, 1]
            std::printf("attention %-4s %-26s n %3d after %3d: max |diff| %.2e%s\n", kvNames[kv], c.name, c.n,
                        c.cached, maxDiff, ok ? "" : "  FAIL");
            bad += ok ? 0 : 1;
            CHECK(cudaFree(pool));
            CHECK(cudaFree(dt));
            CHECK(cudaFree(dk));
            CHECK(cudaFree(dv));
            CHECK(cudaFree(dq));
            CHECK(cudaFree(dout));
            CHECK(cudaFree(dref));
            CHECK(cudaFree(dsinks));
        }
    }
    return bad;
}

#endif

int main() {
    const int g = check_gemm();
#ifndef CHECK_GEMM_ONLY
    const int a = check_attention();
#else
    const int a = 0;
#endif
    std::printf("%d GEMM and %d attention cases failed\n", g, a);
    return g + a == 0 ? 0 : 1;
}
