package dev.isthmus.gguf;

import java.util.Optional;

/**
 * Every tensor type id that llama.cpp's {@code enum ggml_type} defines (ids 31–33 and 36–38 were
 * removed upstream and are rejected), with its block size (elements per block) and the bytes one
 * block takes. The sizes let every file's tensor extents be validated even where Isthmus cannot
 * compute with a type yet; {@link #computable()} says which ones it can dequantize.
 */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, true),
    Q3_K(11, 256, 110, true),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, true),
    NVFP4(40, 64, 36, false),
    Q1_0(41, 128, 18, false);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int typeSize;
    private final boolean computable;

    GgmlType(int id, int blockSize, int typeSize, boolean computable) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
        this.computable = computable;
    }

    /** The numeric id stored in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Elements per block (1 for plain types). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /** True for block-quantized types (block size above one). */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** True when Isthmus has a reference dequantizer for this type (see {@code dev.isthmus.gguf.quant}). */
    public boolean computable() {
        return computable;
    }

    /** The type with this id, if llama.cpp defines one. */
    public static Optional<GgmlType> byId(long id) {
        return id >= 0 && id < BY_ID.length ? Optional.ofNullable(BY_ID[(int) id]) : Optional.empty();
    }

    /**
     * Bytes that {@code elements} elements take in this type, or -1 when {@code elements} is not a
     * whole number of blocks or the result would overflow a {@code long}.
     */
    public long byteSize(long elements) {
        if (elements < 0 || elements % blockSize != 0) {
            return -1;
        }
        long blocks = elements / blockSize;
        if (blocks > Long.MAX_VALUE / typeSize) {
            return -1;
        }
        return blocks * typeSize;
    }

    /** Bytes one row of {@code rowElements} takes; -1 if the row is not a whole number of blocks. */
    public long rowSize(long rowElements) {
        return byteSize(rowElements);
    }
}
