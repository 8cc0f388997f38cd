/**
 * Reference (scalar) dequantization and quantization of ggml tensor types, bit-compatible with
 * llama.cpp's block layouts. These routines are the ground truth that vectorised and GPU kernels
 * are tested against: they favour clarity over speed. The block layouts are described in
 * {@code docs/QUANT_FORMATS.md}.
 */
package dev.isthmus.gguf.quant;
