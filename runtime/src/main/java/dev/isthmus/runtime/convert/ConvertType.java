package dev.isthmus.runtime.convert;

import dev.isthmus.gguf.GgmlType;
import java.util.Locale;

/**
 * The output types of {@code isthmus convert --type}, each with the tensor type of 2-D weights and
 * the {@code general.file_type} (llama.cpp's {@code LLAMA_FTYPE}) it writes.
 *
 * <p>Per-tensor choice (see {@link #typeFor}): 1-D tensors (norms, biases, rope factors) are F32.
 * 2-D weights take {@link #weightType()}; for Q4_0, Q4_K and Q6_K the output projection (or the
 * token embedding when it doubles as the output, i.e. tied embeddings) takes Q6_K, as
 * {@code llama-quantize} does; the token embedding otherwise takes the requested type. A weight
 * whose row length is not a multiple of the type's block size falls back: Q4_K/Q6_K to Q8_0, then
 * (and Q4_0/Q8_0) to F16, which always fits.
 */
public enum ConvertType {
    /** All F32 ({@code LLAMA_FTYPE_ALL_F32} = 0). */
    F32(GgmlType.F32, 0),
    /** F16 weights ({@code MOSTLY_F16} = 1). */
    F16(GgmlType.F16, 1),
    /** BF16 weights ({@code MOSTLY_BF16} = 32). */
    BF16(GgmlType.BF16, 32),
    /** Q8_0 weights ({@code MOSTLY_Q8_0} = 7). */
    Q8_0(GgmlType.Q8_0, 7),
    /** Q4_0 weights ({@code MOSTLY_Q4_0} = 2). */
    Q4_0(GgmlType.Q4_0, 2),
    /** Q4_K weights; written as {@code MOSTLY_Q4_K_S} = 14 (Q4_K everywhere, Q6_K output). */
    Q4_K(GgmlType.Q4_K, 14),
    /** Q6_K weights ({@code MOSTLY_Q6_K} = 18). */
    Q6_K(GgmlType.Q6_K, 18);

    private final GgmlType weightType;
    private final int fileType;

    ConvertType(GgmlType weightType, int fileType) {
        this.weightType = weightType;
        this.fileType = fileType;
    }

    /** The type of 2-D weights. */
    public GgmlType weightType() {
        return weightType;
    }

    /** llama.cpp's {@code general.file_type} value. */
    public int fileType() {
        return fileType;
    }

    /** Parses {@code f32|f16|bf16|q8_0|q4_0|q4_k|q6_k} (any case). */
    public static ConvertType parse(String s) {
        for (ConvertType t : values()) {
            if (t.name().equalsIgnoreCase(s)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown type '" + s + "' (expected one of f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The tensor type of one tensor.
     *
     * @param dims      its dimension count
     * @param rowLength its innermost dimension (ne[0])
     * @param isOutput  whether it is the output projection (or the tied token embedding)
     */
    public GgmlType typeFor(int dims, long rowLength, boolean isOutput) {
        return fitting(preferredType(dims, isOutput), rowLength);
    }

    /** The type a tensor gets before the block-size fallback ({@link #typeFor} without the row length). */
    public GgmlType preferredType(int dims, boolean isOutput) {
        if (dims < 2) {
            return GgmlType.F32;
        }
        if (isOutput && (this == Q4_0 || this == Q4_K || this == Q6_K)) {
            return GgmlType.Q6_K;
        }
        return weightType;
    }

    /** {@code t} if rows of {@code rowLength} are whole blocks of it, else the fallback chain's first fit. */
    static GgmlType fitting(GgmlType t, long rowLength) {
        if (rowLength % t.blockSize() == 0) {
            return t;
        }
        if ((t == GgmlType.Q4_K || t == GgmlType.Q6_K) && rowLength % GgmlType.Q8_0.blockSize() == 0) {
            return GgmlType.Q8_0;
        }
        return GgmlType.F16;
    }
}
