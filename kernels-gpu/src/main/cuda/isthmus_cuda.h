/*
 * Isthmus CUDA kernel library: the C entry points the Java backend calls through FFM
 * (bindings: dev.isthmus.nativebindings.cuda.IsthmusCuda). Every launcher takes the stream,
 * device pointers and plain integers, launches its kernel(s) on that stream and returns the
 * cudaError_t of the launch (cudaGetLastError), so a bad configuration is reported at once; errors
 * inside a kernel surface at the next synchronising call. The launchers never synchronise.
 *
 * Weight and table types are ggml type ids (F32 0, F16 1, Q4_0 2, Q8_0 8, Q4_K 12, Q5_K 13,
 * Q6_K 14, BF16 30, MXFP4 39), read in their GGUF block layout. KV types are
 * dev.isthmus.memory.kv.KvType ordinals (F32 0, F16 1, BF16 2, Q8_0 3). Activations are
 * dev.isthmus.memory.backend.Activation ordinals (SILU 0, GELU_TANH 1, GELU_ERF 2).
 * Shapes are validated by the Java caller; the launchers only reject what would make a launch
 * invalid (returning cudaErrorInvalidValue).
 */
#ifndef ISTHMUS_CUDA_H
#define ISTHMUS_CUDA_H

#include <cuda_runtime.h>

#define ISTHMUS_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version the Java bindings check before using the library. */
int isthmus_abi_version(void);

/* y[t][o] = sum_i x[t][i] * w[o][i]; n tokens, w rows x cols of type. */
int isthmus_matmul(cudaStream_t s, int type, const void *w, int rows, int cols, const float *x, float *y, int n);
/* out[t] = table[tokens[t]] * scale. */
int isthmus_embedding(cudaStream_t s, int type, const void *table, int cols, const int *tokens, int n, float scale,
                      float *out);
int isthmus_add(cudaStream_t s, const float *a, const float *b, float *out, long long n);
int isthmus_add_bias(cudaStream_t s, float *y, const float *bias, int rows, int cols);
int isthmus_scale(cudaStream_t s, float *x, float factor, long long n);
int isthmus_soft_cap(cudaStream_t s, float *x, float cap, long long n);
int isthmus_rms_norm(cudaStream_t s, const float *x, const float *w, float *out, long long groups, int dim, float eps,
                     int plusOne);
/* b may be NULL. */
int isthmus_layer_norm(cudaStream_t s, const float *x, const float *w, const float *b, float *out, int rows, int dim,
                       float eps);
int isthmus_rope(cudaStream_t s, float *x, int n, int heads, int headDim, const int *positions, const float *invFreq,
                 float scaling, int rotaryDim, int neox);
int isthmus_activation(cudaStream_t s, int act, const float *x, float *out, long long n);
int isthmus_gated_activation(cudaStream_t s, int act, const float *gate, const float *up, float *out, long long n);
/* *result = index of the largest of x[0..cols) (first on ties). */
int isthmus_argmax(cudaStream_t s, const float *x, int cols, int *result);
/* Encodes k and v ([n][kvHeads*headDim]) into the pool for positions firstPosition.. through blockTable. */
int isthmus_store_kv(cudaStream_t s, int kvType, void *pool, const float *k, const float *v, int n, int kvHeads,
                     int headDim, int firstPosition, const int *blockTable, int tokensPerBlock, long long blockBytes,
                     long long rowBytes);
/* Causal paged attention; sinks may be NULL; keys below firstLive are never read. headDim <= 512. scratch
 * (may be NULL) is device memory of at least 128 * 16 * (headDim + 2) floats, used for one query (n = 1) to
 * split each head's keys over several blocks; it must not be in use by another launch. */
int isthmus_attention(cudaStream_t s, const float *q, float *out, int n, int heads, int kvHeads, int headDim,
                      float scale, int window, int chunk, float softCap, const float *sinks, int firstPosition,
                      int firstLive, const void *pool, int kvType, const int *blockTable, int tokensPerBlock,
                      long long blockBytes, long long rowBytes, float *scratch);
/* One token (decode), as isthmus_store_kv / isthmus_attention with n = 1, but the position (dyn[0]) and, for
 * attention, the first live key (dyn[1]) are read from device memory when the kernel runs: a CUDA graph
 * captured once replays them with each step's values. */
int isthmus_store_kv_dyn(cudaStream_t s, int kvType, void *pool, const float *k, const float *v, int kvHeads,
                         int headDim, const int *dyn, const int *blockTable, int tokensPerBlock, long long blockBytes,
                         long long rowBytes);
int isthmus_attention_dyn(cudaStream_t s, const float *q, float *out, int heads, int kvHeads, int headDim, float scale,
                          int window, int chunk, float softCap, const float *sinks, const int *dyn, const void *pool,
                          int kvType, const int *blockTable, int tokensPerBlock, long long blockBytes,
                          long long rowBytes, float *scratch);
/* Zeroes bytes at p. */
int isthmus_fill_zero(cudaStream_t s, void *p, long long bytes);

#ifdef __cplusplus
}
#endif

#endif
