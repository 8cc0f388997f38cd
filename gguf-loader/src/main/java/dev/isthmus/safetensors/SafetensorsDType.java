package dev.isthmus.safetensors;

import java.util.Optional;

/**
 * Element types of a safetensors tensor, with the byte size of one element.
 *
 * <p>{@link #formatName()} is the spelling used in the header's {@code "dtype"} field (for
 * example {@code "F8_E4M3"}, {@code "BF16"}, {@code "BOOL"}); {@link #fromFormatName(String)}
 * accepts exactly those spellings.
 */
public enum SafetensorsDType {
    /** IEEE 754 binary64. */
    F64(8),
    /** IEEE 754 binary32. */
    F32(4),
    /** IEEE 754 binary16. */
    F16(2),
    /** bfloat16 (the upper half of a binary32). */
    BF16(2),
    /** 8-bit float, 4 exponent bits, 3 mantissa bits (OCP FP8 E4M3). */
    F8_E4M3(1),
    /** 8-bit float, 5 exponent bits, 2 mantissa bits (OCP FP8 E5M2). */
    F8_E5M2(1),
    /** Signed 64-bit integer. */
    I64(8),
    /** Signed 32-bit integer. */
    I32(4),
    /** Signed 16-bit integer. */
    I16(2),
    /** Signed 8-bit integer. */
    I8(1),
    /** Unsigned 64-bit integer. */
    U64(8),
    /** Unsigned 32-bit integer. */
    U32(4),
    /** Unsigned 16-bit integer. */
    U16(2),
    /** Unsigned 8-bit integer. */
    U8(1),
    /** Boolean, one byte per element. */
    BOOL(1);

    private final int byteSize;

    SafetensorsDType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The spelling used in a safetensors header. */
    public String formatName() {
        return name();
    }

    /** The type whose header spelling is {@code name}, if any (case-sensitive, as the format is). */
    public static Optional<SafetensorsDType> fromFormatName(String name) {
        if (name == null) {
            return Optional.empty();
        }
        for (SafetensorsDType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
