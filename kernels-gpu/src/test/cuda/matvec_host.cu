// Host-side harness for CudaDequantHostTest (tests module): the decode matvec's per-unit code
// (mv_load_x and mv_dot of matvec.cuh, compiled for the host) summed over every unit of each row, so
// the unit layouts are checked against the Java reference on any machine with nvcc, GPU or not.
//   matvec_host TYPE ROWS COLS W_IN X_IN OUT   (W_IN: raw rows; X_IN, OUT: little-endian float32)
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "matvec.cuh"
using namespace isthmus;

static std::vector<uint8_t> slurp(const char *path) {
    std::vector<uint8_t> in;
    FILE *f = fopen(path, "rb");
    if (f == nullptr) return in;
    int ch;
    while ((ch = fgetc(f)) != EOF) in.push_back((uint8_t) ch);
    fclose(f);
    return in;
}

template <int T>
static int run(const std::vector<uint8_t> &w, const float *x, int rows, int cols, std::vector<float> &out) {
    const long long rb = row_bytes<T>(cols);
    if ((long long) w.size() < rb * rows || cols % mv_unit<T>() != 0) return 5;
    // the whole matrix in a 16-byte aligned buffer (as cudaMalloc's), rows at the offsets the device sees
    const size_t total = (size_t) (rb * rows);
    uint8_t *base = static_cast<uint8_t *>(aligned_alloc(16, (total + 15) / 16 * 16));
    memcpy(base, w.data(), total);
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = base + r * rb;
        float acc = 0.f;
        for (int u = 0; u < cols / mv_unit<T>(); u++) {
            float xv[mv_unit<T>()];
            mv_load_x<T>(x, u, xv);
            acc += mv_dot<T>(row, u, xv, mv_xsums<T>(xv));
        }
        out[r] = acc;
    }
    free(base);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 7) return 2;
    int type = atoi(argv[1]), rows = atoi(argv[2]), cols = atoi(argv[3]);
    if (rows <= 0 || cols <= 0) return 2;
    std::vector<uint8_t> w = slurp(argv[4]);
    std::vector<uint8_t> xb = slurp(argv[5]);
    if ((long long) xb.size() != 4LL * cols) return 4;
    float *x = static_cast<float *>(aligned_alloc(16, (size_t) (4LL * cols + 15) / 16 * 16));
    memcpy(x, xb.data(), xb.size());
    std::vector<float> out(rows);
    int rc;
    switch (type) {
        case T_F32: rc = run<T_F32>(w, x, rows, cols, out); break;
        case T_F16: rc = run<T_F16>(w, x, rows, cols, out); break;
        case T_BF16: rc = run<T_BF16>(w, x, rows, cols, out); break;
        case T_Q8_0: rc = run<T_Q8_0>(w, x, rows, cols, out); break;
        case T_Q4_0: rc = run<T_Q4_0>(w, x, rows, cols, out); break;
        case T_Q4_K: rc = run<T_Q4_K>(w, x, rows, cols, out); break;
        case T_Q5_K: rc = run<T_Q5_K>(w, x, rows, cols, out); break;
        case T_Q6_K: rc = run<T_Q6_K>(w, x, rows, cols, out); break;
        case T_MXFP4: rc = run<T_MXFP4>(w, x, rows, cols, out); break;
        default: rc = 3;
    }
    free(x);
    if (rc != 0) return rc;
    FILE *o = fopen(argv[6], "wb");
    if (o == nullptr) return 4;
    fwrite(out.data(), 4, out.size(), o);
    fclose(o);
    return 0;
}
