// Internal entry point of the prefill flash-attention kernel (flash_attention.cu), called by attention.cu's
// isthmus_attention for more than one query.
#pragma once

#include <cuda_runtime.h>

namespace isthmus {

constexpr int FA_MAX_HEAD_DIM = 512;

// Same arguments and semantics as isthmus_attention (isthmus_cuda.h); returns the launch's cudaError_t.
int flash_attention(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads, int headDim,
                    float scale, int window, int chunk, float softCap, const float *sinks, int firstPosition,
                    int firstLive, const void *pool, int kvType, const int *blockTable, int tokensPerBlock,
                    long long blockBytes, long long rowBytes);

}  // namespace isthmus
