/**
 * Hugging Face model-folder metadata: a typed, validated view of {@code config.json}
 * ({@link dev.isthmus.hf.HfConfig}) including RoPE parameters in both the transformers-5
 * {@code rope_parameters} form and the older {@code rope_theta} / {@code rope_scaling} form.
 */
package dev.isthmus.hf;
