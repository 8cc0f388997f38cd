package dev.isthmus.kernels.cpu.ref;

/** How a head's rotated dimensions are paired. */
public enum RopeLayout {
    /**
     * NeoX / Hugging Face {@code rotate_half}: dimension {@code i} pairs with {@code i + rotaryDim/2}, both
     * using frequency {@code i} (Llama, Qwen, Gemma, Mistral, Phi-3, gpt-oss, ... in HF checkpoints).
     */
    NEOX,
    /**
     * GPT-J / interleaved: dimension {@code 2i} pairs with {@code 2i + 1}, using frequency {@code i}
     * (transformers' {@code rotate_half_llm}/interleaved variants, e.g. GLM; and the original Meta layout).
     */
    INTERLEAVED
}
