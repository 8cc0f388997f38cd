package dev.isthmus.gguf;

import java.util.Optional;

/**
 * The metadata value types of the GGUF format ({@code enum gguf_type}), with their numeric ids as
 * stored in the file.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, -1),
    ARRAY(9, -1),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int width;

    GgufValueType(int id, int width) {
        this.id = id;
        this.width = width;
    }

    /** The numeric id stored in the file. */
    public int id() {
        return id;
    }

    /** The type with this id, if the GGUF format defines one. */
    public static Optional<GgufValueType> byId(long id) {
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[(int) id]) : Optional.empty();
    }

    /** Bytes one value of this type takes in the file, or -1 for {@link #STRING} and {@link #ARRAY}. */
    public int fixedWidth() {
        return width;
    }

    /**
     * The fewest bytes a value of this type can take in the file: its width for numbers and
     * booleans, 8 (the length) for a string, 12 (element type and count) for an array.
     */
    public int minEncodedSize() {
        return switch (this) {
            case STRING -> 8;
            case ARRAY -> 12;
            default -> width;
        };
    }

    /** True for the eight integer types. */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** True for {@link #FLOAT32} and {@link #FLOAT64}. */
    public boolean isFloat() {
        return this == FLOAT32 || this == FLOAT64;
    }

    /** True for the fixed-width types: integers, floats and {@link #BOOL}. */
    public boolean isFixedWidth() {
        return width > 0;
    }
}
