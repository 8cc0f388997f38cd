/**
 * Safetensors reading: a single file ({@link dev.isthmus.safetensors.SafetensorsFile}) or a sharded
 * model folder ({@link dev.isthmus.safetensors.SafetensorsModel}), mapped once, tensors handed out
 * as zero-copy read-only {@link java.lang.foreign.MemorySegment} slices, every structural problem
 * reported as a {@link dev.isthmus.format.ModelFormatException}.
 */
package dev.isthmus.safetensors;
