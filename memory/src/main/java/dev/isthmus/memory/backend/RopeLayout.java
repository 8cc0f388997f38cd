package dev.isthmus.memory.backend;

/** Which dimensions RoPE rotates together within a head. */
public enum RopeLayout {
    /** Hugging Face's {@code rotate_half}: dimension {@code i} pairs with {@code i + rotaryDim/2}. */
    NEOX,
    /**
     * Adjacent pairs {@code (2i, 2i+1)}: llama.cpp's "normal" RoPE, used on the Q/K rows its
     * converter permuted for Llama-type models.
     */
    INTERLEAVED
}
