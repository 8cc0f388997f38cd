// Internal entry points of the tensor-core GEMM (gemm_tc.cu), called by matmul.cu's isthmus_matmul.
#pragma once

#include <cuda_runtime.h>

namespace isthmus {

// The tensor-core path is used from this many tokens on (below it the weight tile is reused too little).
constexpr int TC_MIN_TOKENS = 8;

// Whether gemm_tc has a kernel for this ggml weight type (every type of isthmus_matmul but F32).
bool gemm_tc_supports(int type);

// y[n][rows] = x[n][cols] · W[rows][cols]^T on tensor cores (16-bit operands, fp32 accumulation); returns the
// launch's cudaError_t. Block types need cols a multiple of their block size, as isthmus_matmul.
int gemm_tc(cudaStream_t s, int type, const void *w, int rows, int cols, const float *x, float *y, int n);

}  // namespace isthmus
