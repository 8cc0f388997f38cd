// Host-side harness for CudaDequantHostTest (tests module): dequantises rows of a GGUF type with the
// kernels' own dequant32 (common.cuh, compiled for the host), so the block layouts the CUDA kernels
// read are checked against the Java reference dequantizer on any machine with nvcc, GPU or not.
//   dequant_host TYPE ROWS COLS IN OUT      (IN: raw rows; OUT: little-endian float32)
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "common.cuh"
using namespace isthmus;

template <int T>
static int run(const std::vector<uint8_t> &in, int rows, int cols, std::vector<float> &out) {
    long long rb = row_bytes<T>(cols);
    if ((long long) in.size() < rb * rows) return 5;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < (cols + 31) / 32; c++) {
            float v[32];
            dequant32<T>(in.data() + r * rb, c, cols, v);
            for (int i = 0; i < 32 && 32 * c + i < cols; i++) out[(size_t) r * cols + 32 * c + i] = v[i];
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 6) return 2;
    int type = atoi(argv[1]), rows = atoi(argv[2]), cols = atoi(argv[3]);
    FILE *f = fopen(argv[4], "rb");
    if (f == nullptr) return 4;
    std::vector<uint8_t> in;
    int ch;
    while ((ch = fgetc(f)) != EOF) in.push_back((uint8_t) ch);
    fclose(f);
    if (rows <= 0 || cols <= 0) return 2;
    std::vector<float> out((size_t) rows * cols);
    int rc;
    switch (type) {
        case T_F32: rc = run<T_F32>(in, rows, cols, out); break;
        case T_F16: rc = run<T_F16>(in, rows, cols, out); break;
        case T_BF16: rc = run<T_BF16>(in, rows, cols, out); break;
        case T_Q8_0: rc = run<T_Q8_0>(in, rows, cols, out); break;
        case T_Q4_0: rc = run<T_Q4_0>(in, rows, cols, out); break;
        case T_Q4_K: rc = run<T_Q4_K>(in, rows, cols, out); break;
        case T_Q5_K: rc = run<T_Q5_K>(in, rows, cols, out); break;
        case T_Q6_K: rc = run<T_Q6_K>(in, rows, cols, out); break;
        case T_MXFP4: rc = run<T_MXFP4>(in, rows, cols, out); break;
        default: return 3;
    }
    if (rc != 0) return rc;
    FILE *o = fopen(argv[5], "wb");
    if (o == nullptr) return 4;
    fwrite(out.data(), 4, out.size(), o);
    fclose(o);
    return 0;
}
