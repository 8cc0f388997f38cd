/**
 * The plain reference CPU ops: readable loops over {@code float[]}, the ground truth every backend's
 * fast ops are tested against, and what the first model graphs run on.
 *
 * <p><b>Layouts.</b> Activations are row-major: a batch of token vectors is {@code [tokens][dim]}
 * flattened, so row {@code t} starts at {@code t * dim}. Per-head tensors are
 * {@code [tokens][heads][headDim]}. Every op that takes an offset reads its row starting there.
 *
 * <p><b>Numerics.</b> The math is defined by Hugging Face transformers (each class names the file and
 * function it follows). Values are float32 as in transformers running in float32; elementwise
 * results are the exact function value rounded once to float, and reductions (sums, dot products,
 * means) accumulate in double and round once. Fast kernels are compared against these with a
 * tolerance, never bit-for-bit.
 */
package dev.isthmus.kernels.cpu.ref;
