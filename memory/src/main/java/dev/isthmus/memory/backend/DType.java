package dev.isthmus.memory.backend;

/**
 * The element types a {@link Backend} computes with: the plain float types and the GGUF block
 * formats a weight may stay in (the same numbering as ggml's {@code ggml_type}, so a GGUF tensor's
 * type id maps straight to one of these). Activations are always {@link #F32}.
 */
public enum DType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    BF16(30, 1, 2),
    MXFP4(39, 32, 17);

    private final int ggmlId;
    private final int blockSize;
    private final int blockBytes;

    DType(int ggmlId, int blockSize, int blockBytes) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** ggml's type id (GGUF's tensor type field). */
    public int ggmlId() {
        return ggmlId;
    }

    /** Values per block (1 for the float types). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int blockBytes() {
        return blockBytes;
    }

    /** Whether this is a block-quantized type. */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /**
     * Bytes of one row of {@code cols} values.
     *
     * @throws IllegalArgumentException if {@code cols} is not a whole number of blocks
     */
    public long rowBytes(long cols) {
        if (cols < 0 || cols % blockSize != 0) {
            throw new IllegalArgumentException(name() + " rows hold whole blocks of " + blockSize + " values, not " + cols);
        }
        return cols / blockSize * blockBytes;
    }

    /** The type with ggml id {@code id}, or null when it is not one a backend computes with. */
    public static DType ofGgmlId(int id) {
        for (DType t : values()) {
            if (t.ggmlId == id) {
                return t;
            }
        }
        return null;
    }
}
