package dev.isthmus.memory.kv;

/**
 * Element type of the keys and values stored in the KV cache.
 *
 * <p>A cache row is one token's key (or value) for one KV head: {@code headDim} elements.
 * {@link #rowBytes(int)} gives its size. All multi-byte fields are little-endian, as in GGUF/ggml.
 */
public enum KvType {
    /** IEEE 754 binary32, 4 bytes an element. */
    F32,
    /** IEEE 754 binary16, 2 bytes an element (round to nearest even on write). */
    F16,
    /** bfloat16 (the upper 16 bits of a binary32), 2 bytes an element (round to nearest even on write). */
    BF16,
    /**
     * ggml's Q8_0: blocks of {@value #Q8_0_BLOCK} values, each an f16 scale {@code d} followed by
     * 32 signed bytes {@code q}; a value is {@code d * q}. 34 bytes a block. The row length must be a
     * multiple of 32.
     */
    Q8_0;

    /** Values in one Q8_0 block. */
    public static final int Q8_0_BLOCK = 32;
    /** Bytes in one Q8_0 block: an f16 scale and 32 int8. */
    public static final int Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

    /**
     * Bytes taken by a row of {@code n} elements.
     *
     * @throws IllegalArgumentException when {@code n} is negative, or not a multiple of 32 for Q8_0
     */
    public long rowBytes(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be non-negative, got " + n);
        }
        return switch (this) {
            case F32 -> 4L * n;
            case F16, BF16 -> 2L * n;
            case Q8_0 -> {
                if (n % Q8_0_BLOCK != 0) {
                    throw new IllegalArgumentException("Q8_0 rows must be a multiple of 32 elements, got " + n);
                }
                yield (long) (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
            }
        };
    }
}
