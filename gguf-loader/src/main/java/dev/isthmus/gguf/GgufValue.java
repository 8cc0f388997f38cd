package dev.isthmus.gguf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value: a scalar (an integer of 8 to 64 bits, a float, a boolean, a string) or
 * an array of values of one element type (arrays may nest).
 *
 * <p>Values are immutable and compare by type and exact content: two values are equal when they
 * have the same {@link #type()} (and, for arrays, {@link #elementType()}) and the same encoded
 * bits, so a file read, written and read again gives equal metadata. Floats compare by their bit
 * patterns (NaN equals NaN with the same payload; {@code 0.0} and {@code -0.0} differ).
 *
 * <p>Integers are exposed as {@code long}: unsigned types are zero-extended and signed types
 * sign-extended, except {@link GgufValueType#UINT64}, whose 64 bits are returned as they are (a
 * value of 2<sup>63</sup> or more reads as a negative {@code long}; use
 * {@link Long#toUnsignedString(long)} or {@link Long#compareUnsigned} on it).
 *
 * <p>Arrays of numbers and booleans are stored compactly (one primitive array of the element's
 * encoded width), not as one object per element; {@link #get(long)} builds element values on
 * demand. Strings are Java strings decoded from strict UTF-8.
 */
public final class GgufValue {
    private final GgufValueType type;
    /** Scalars: the normalized integer value, the raw IEEE bits of a float, 0/1 for a boolean. */
    private final long bits;
    /** STRING: the String. ARRAY: byte[]/short[]/int[]/long[] of raw bits, or an unmodifiable List. */
    private final Object ref;
    /** ARRAY only: the element type; otherwise null. */
    private final GgufValueType elementType;

    private GgufValue(GgufValueType type, long bits, Object ref, GgufValueType elementType) {
        this.type = type;
        this.bits = bits;
        this.ref = ref;
        this.elementType = elementType;
    }

    // ---------------------------------------------------------------- factories: scalars

    /** An unsigned 8-bit value in [0, 255]. */
    public static GgufValue uint8(int v) {
        return integer(GgufValueType.UINT8, v);
    }

    /** A signed 8-bit value in [-128, 127]. */
    public static GgufValue int8(int v) {
        return integer(GgufValueType.INT8, v);
    }

    /** An unsigned 16-bit value in [0, 65535]. */
    public static GgufValue uint16(int v) {
        return integer(GgufValueType.UINT16, v);
    }

    /** A signed 16-bit value. */
    public static GgufValue int16(int v) {
        return integer(GgufValueType.INT16, v);
    }

    /** An unsigned 32-bit value in [0, 2<sup>32</sup>-1]. */
    public static GgufValue uint32(long v) {
        return integer(GgufValueType.UINT32, v);
    }

    /** A signed 32-bit value. */
    public static GgufValue int32(int v) {
        return integer(GgufValueType.INT32, v);
    }

    /** An unsigned 64-bit value, given as its 64 bits (negative longs stand for values of 2<sup>63</sup> and more). */
    public static GgufValue uint64(long bits) {
        return integer(GgufValueType.UINT64, bits);
    }

    /** A signed 64-bit value. */
    public static GgufValue int64(long v) {
        return integer(GgufValueType.INT64, v);
    }

    /** A 32-bit float. */
    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, Float.floatToRawIntBits(v) & 0xFFFF_FFFFL, null, null);
    }

    /** A 64-bit float. */
    public static GgufValue float64(double v) {
        return new GgufValue(GgufValueType.FLOAT64, Double.doubleToRawLongBits(v), null, null);
    }

    /** A boolean. */
    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v ? 1 : 0, null, null);
    }

    /** A string. */
    public static GgufValue string(String v) {
        return new GgufValue(GgufValueType.STRING, 0, Objects.requireNonNull(v, "string"), null);
    }

    /**
     * An integer value of the given integer type.
     *
     * @throws IllegalArgumentException when {@code type} is not an integer type or {@code v} is out of its range
     *         ({@link GgufValueType#UINT64} takes any 64 bits)
     */
    public static GgufValue integer(GgufValueType type, long v) {
        Objects.requireNonNull(type, "type");
        boolean ok = switch (type) {
            case UINT8 -> v >= 0 && v <= 0xFF;
            case INT8 -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
            case UINT16 -> v >= 0 && v <= 0xFFFF;
            case INT16 -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
            case UINT32 -> v >= 0 && v <= 0xFFFF_FFFFL;
            case INT32 -> v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
            case UINT64, INT64 -> true;
            default -> throw new IllegalArgumentException(type + " is not an integer type");
        };
        if (!ok) {
            throw new IllegalArgumentException(v + " is out of range for " + type);
        }
        return new GgufValue(type, v, null, null);
    }

    // ---------------------------------------------------------------- factories: arrays

    /**
     * An array of {@code elements}, each of which must have type {@code elementType} (for
     * {@link GgufValueType#ARRAY} elements, each may have its own element type).
     *
     * @throws IllegalArgumentException when an element has another type
     */
    public static GgufValue array(GgufValueType elementType, List<GgufValue> elements) {
        Objects.requireNonNull(elementType, "elementType");
        int n = elements.size();
        for (int i = 0; i < n; i++) {
            GgufValue e = Objects.requireNonNull(elements.get(i), "element");
            if (e.type != elementType) {
                throw new IllegalArgumentException("element " + i + " has type " + e.type + ", expected " + elementType);
            }
        }
        Object data;
        switch (elementType) {
            case STRING -> {
                List<String> list = new ArrayList<>(n);
                for (GgufValue e : elements) {
                    list.add((String) e.ref);
                }
                data = Collections.unmodifiableList(list);
            }
            case ARRAY -> data = List.copyOf(elements);
            default -> {
                Object raw = newRaw(elementType, n);
                for (int i = 0; i < n; i++) {
                    setRaw(raw, i, elements.get(i).bits);
                }
                data = raw;
            }
        }
        return new GgufValue(GgufValueType.ARRAY, 0, data, elementType);
    }

    /** An array of strings. */
    public static GgufValue stringArray(List<String> strings) {
        for (String s : strings) {
            Objects.requireNonNull(s, "string element");
        }
        return new GgufValue(GgufValueType.ARRAY, 0, List.copyOf(strings), GgufValueType.STRING);
    }

    /** An array of INT32. */
    public static GgufValue int32Array(int... values) {
        return new GgufValue(GgufValueType.ARRAY, 0, values.clone(), GgufValueType.INT32);
    }

    /** An array of UINT32 given as their low 32 bits. */
    public static GgufValue uint32Array(int... bits) {
        return new GgufValue(GgufValueType.ARRAY, 0, bits.clone(), GgufValueType.UINT32);
    }

    /** An array of INT64. */
    public static GgufValue int64Array(long... values) {
        return new GgufValue(GgufValueType.ARRAY, 0, values.clone(), GgufValueType.INT64);
    }

    /** An array of FLOAT32. */
    public static GgufValue float32Array(float... values) {
        int[] raw = new int[values.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = Float.floatToRawIntBits(values[i]);
        }
        return new GgufValue(GgufValueType.ARRAY, 0, raw, GgufValueType.FLOAT32);
    }

    /** An array of FLOAT64. */
    public static GgufValue float64Array(double... values) {
        long[] raw = new long[values.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = Double.doubleToRawLongBits(values[i]);
        }
        return new GgufValue(GgufValueType.ARRAY, 0, raw, GgufValueType.FLOAT64);
    }

    /** An array of BOOL. */
    public static GgufValue boolArray(boolean... values) {
        byte[] raw = new byte[values.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = (byte) (values[i] ? 1 : 0);
        }
        return new GgufValue(GgufValueType.ARRAY, 0, raw, GgufValueType.BOOL);
    }

    /**
     * An array of a fixed-width element type from its raw little-endian-decoded bits: a
     * {@code byte[]} for 1-byte types, {@code short[]} for 2-byte, {@code int[]} for 4-byte
     * (FLOAT32 as raw float bits), {@code long[]} for 8-byte (FLOAT64 as raw double bits). The
     * array is taken over, not copied.
     */
    static GgufValue rawArray(GgufValueType elementType, Object raw) {
        return new GgufValue(GgufValueType.ARRAY, 0, raw, elementType);
    }

    /** An array of strings taking over an unmodifiable list. */
    static GgufValue stringArrayOwned(List<String> unmodifiable) {
        return new GgufValue(GgufValueType.ARRAY, 0, unmodifiable, GgufValueType.STRING);
    }

    /** An array of arrays taking over an unmodifiable list. */
    static GgufValue nestedArrayOwned(List<GgufValue> unmodifiable) {
        return new GgufValue(GgufValueType.ARRAY, 0, unmodifiable, GgufValueType.ARRAY);
    }

    /** A scalar of a fixed-width type from its normalized bits (as {@link #rawBits()} returns them). */
    static GgufValue scalarFromBits(GgufValueType type, long bits) {
        return new GgufValue(type, bits, null, null);
    }

    // ---------------------------------------------------------------- accessors

    /** This value's type. */
    public GgufValueType type() {
        return type;
    }

    /** True for arrays. */
    public boolean isArray() {
        return type == GgufValueType.ARRAY;
    }

    /**
     * This integer (or boolean, as 0/1) as a {@code long}; a {@link GgufValueType#UINT64} is
     * returned as its 64 bits.
     *
     * @throws IllegalStateException for floats, strings and arrays
     */
    public long asLong() {
        if (!type.isInteger() && type != GgufValueType.BOOL) {
            throw new IllegalStateException("a " + type + " value is not an integer");
        }
        return bits;
    }

    /**
     * This number as a {@code double} (integers converted; UINT64 as an unsigned value).
     *
     * @throws IllegalStateException for booleans, strings and arrays
     */
    public double asDouble() {
        return switch (type) {
            case FLOAT32 -> Float.intBitsToFloat((int) bits);
            case FLOAT64 -> Double.longBitsToDouble(bits);
            case UINT64 -> bits >= 0 ? bits : (double) (bits >>> 1) * 2.0 + (bits & 1);
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, INT64 -> bits;
            default -> throw new IllegalStateException("a " + type + " value is not a number");
        };
    }

    /** This boolean. @throws IllegalStateException for any other type */
    public boolean asBoolean() {
        if (type != GgufValueType.BOOL) {
            throw new IllegalStateException("a " + type + " value is not a boolean");
        }
        return bits != 0;
    }

    /** This string. @throws IllegalStateException for any other type */
    public String asString() {
        if (type != GgufValueType.STRING) {
            throw new IllegalStateException("a " + type + " value is not a string");
        }
        return (String) ref;
    }

    /**
     * The encoded bits of a fixed-width scalar: the normalized integer, the raw IEEE bits of a
     * float (FLOAT32 in the low 32 bits), or 0/1 for a boolean.
     */
    public long rawBits() {
        if (!type.isFixedWidth()) {
            throw new IllegalStateException("a " + type + " value has no fixed-width bits");
        }
        return bits;
    }

    private void requireArray() {
        if (type != GgufValueType.ARRAY) {
            throw new IllegalStateException("a " + type + " value is not an array");
        }
    }

    /** The element type of this array. @throws IllegalStateException when this is not an array */
    public GgufValueType elementType() {
        requireArray();
        return elementType;
    }

    /** The number of elements of this array. @throws IllegalStateException when this is not an array */
    public long length() {
        requireArray();
        return switch (ref) {
            case List<?> l -> l.size();
            case byte[] a -> a.length;
            case short[] a -> a.length;
            case int[] a -> a.length;
            case long[] a -> a.length;
            default -> throw new AssertionError(ref);
        };
    }

    /**
     * Element {@code i} of this array.
     *
     * @throws IllegalStateException when this is not an array
     * @throws IndexOutOfBoundsException when {@code i} is not in [0, length())
     */
    public GgufValue get(long i) {
        long n = length();
        Objects.checkIndex(i, n);
        int k = (int) i;
        return switch (elementType) {
            case STRING -> string((String) ((List<?>) ref).get(k));
            case ARRAY -> (GgufValue) ((List<?>) ref).get(k);
            default -> new GgufValue(elementType, rawElement(k), null, null);
        };
    }

    /** Normalized bits of element k of a fixed-width array. */
    private long rawElement(int k) {
        return switch (elementType) {
            case UINT8 -> ((byte[]) ref)[k] & 0xFFL;
            case INT8, BOOL -> ((byte[]) ref)[k];
            case UINT16 -> ((short[]) ref)[k] & 0xFFFFL;
            case INT16 -> ((short[]) ref)[k];
            case UINT32, FLOAT32 -> ((int[]) ref)[k] & 0xFFFF_FFFFL;
            case INT32 -> ((int[]) ref)[k];
            case UINT64, INT64, FLOAT64 -> ((long[]) ref)[k];
            default -> throw new AssertionError(elementType);
        };
    }

    /** The elements as a list of values (for any element type). */
    public List<GgufValue> elements() {
        int n = (int) length();
        if (elementType == GgufValueType.ARRAY) {
            @SuppressWarnings("unchecked")
            List<GgufValue> l = (List<GgufValue>) ref;
            return l;
        }
        List<GgufValue> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(get(i));
        }
        return Collections.unmodifiableList(out);
    }

    /** The elements of an array of strings (unmodifiable, no copy). @throws IllegalStateException otherwise */
    @SuppressWarnings("unchecked")
    public List<String> strings() {
        requireArray();
        if (elementType != GgufValueType.STRING) {
            throw new IllegalStateException("an array of " + elementType + " is not an array of strings");
        }
        return (List<String>) ref;
    }

    /**
     * The elements of an array of integers or booleans as longs (UINT64 as raw bits).
     *
     * @throws IllegalStateException for other arrays
     */
    public long[] longs() {
        requireArray();
        if (!elementType.isInteger() && elementType != GgufValueType.BOOL) {
            throw new IllegalStateException("an array of " + elementType + " is not an array of integers");
        }
        int n = (int) length();
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = rawElement(i);
        }
        return out;
    }

    /**
     * The elements of an array of integers as ints.
     *
     * @throws IllegalStateException for other arrays, or when an element does not fit an int
     */
    public int[] ints() {
        long[] l = longs();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            if (l[i] != (int) l[i] || (elementType == GgufValueType.UINT64 && l[i] < 0)) {
                throw new IllegalStateException("element " + i + " does not fit an int");
            }
            out[i] = (int) l[i];
        }
        return out;
    }

    /** The elements of an array of numbers as floats (doubles and integers converted). */
    public float[] floats() {
        double[] d = doubles();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = elementType == GgufValueType.FLOAT32 ? Float.intBitsToFloat(((int[]) ref)[i]) : (float) d[i];
        }
        return out;
    }

    /** The elements of an array of numbers as doubles. @throws IllegalStateException for other arrays */
    public double[] doubles() {
        requireArray();
        if (!elementType.isInteger() && !elementType.isFloat()) {
            throw new IllegalStateException("an array of " + elementType + " is not an array of numbers");
        }
        int n = (int) length();
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = new GgufValue(elementType, rawElement(i), null, null).asDouble();
        }
        return out;
    }

    /** The elements of an array of booleans. @throws IllegalStateException for other arrays */
    public boolean[] booleans() {
        requireArray();
        if (elementType != GgufValueType.BOOL) {
            throw new IllegalStateException("an array of " + elementType + " is not an array of booleans");
        }
        byte[] raw = (byte[]) ref;
        boolean[] out = new boolean[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = raw[i] != 0;
        }
        return out;
    }

    /** Package-private: the raw storage of an array (primitive array or unmodifiable list), not copied. */
    Object rawArrayData() {
        requireArray();
        return ref;
    }

    /**
     * This value as plain Java: {@link Long} for integers (UINT64 as its bits), {@link Double} for
     * floats, {@link Boolean}, {@link String}, and an unmodifiable {@link List} of those for arrays
     * (recursively).
     */
    public Object toJava() {
        return switch (type) {
            case FLOAT32, FLOAT64 -> asDouble();
            case BOOL -> bits != 0;
            case STRING -> ref;
            case ARRAY -> {
                int n = (int) length();
                List<Object> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    out.add(get(i).toJava());
                }
                yield Collections.unmodifiableList(out);
            }
            default -> bits;
        };
    }

    // ---------------------------------------------------------------- raw array helpers

    static Object newRaw(GgufValueType elementType, int n) {
        return switch (elementType.fixedWidth()) {
            case 1 -> new byte[n];
            case 2 -> new short[n];
            case 4 -> new int[n];
            case 8 -> new long[n];
            default -> throw new IllegalArgumentException(elementType + " is not fixed-width");
        };
    }

    private static void setRaw(Object raw, int i, long bits) {
        switch (raw) {
            case byte[] a -> a[i] = (byte) bits;
            case short[] a -> a[i] = (short) bits;
            case int[] a -> a[i] = (int) bits;
            case long[] a -> a[i] = bits;
            default -> throw new AssertionError(raw);
        }
    }

    // ---------------------------------------------------------------- Object

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof GgufValue v) || v.type != type) {
            return false;
        }
        if (type == GgufValueType.ARRAY) {
            if (v.elementType != elementType) {
                return false;
            }
            return switch (ref) {
                case byte[] a -> Arrays.equals(a, (byte[]) v.ref);
                case short[] a -> Arrays.equals(a, (short[]) v.ref);
                case int[] a -> Arrays.equals(a, (int[]) v.ref);
                case long[] a -> Arrays.equals(a, (long[]) v.ref);
                default -> ref.equals(v.ref);
            };
        }
        return bits == v.bits && Objects.equals(ref, v.ref);
    }

    @Override
    public int hashCode() {
        int h = type.hashCode();
        if (type == GgufValueType.ARRAY) {
            h = 31 * h + elementType.hashCode();
            return 31 * h + switch (ref) {
                case byte[] a -> Arrays.hashCode(a);
                case short[] a -> Arrays.hashCode(a);
                case int[] a -> Arrays.hashCode(a);
                case long[] a -> Arrays.hashCode(a);
                default -> ref.hashCode();
            };
        }
        return 31 * (31 * h + Long.hashCode(bits)) + Objects.hashCode(ref);
    }

    /** A short description; long arrays and strings are abbreviated. */
    @Override
    public String toString() {
        return switch (type) {
            case STRING -> {
                String s = (String) ref;
                yield '"' + (s.length() > 80 ? s.substring(0, 80) + "..." : s) + '"';
            }
            case ARRAY -> {
                long n = length();
                StringBuilder sb = new StringBuilder("[").append(elementType).append(" x ").append(n);
                if (n > 0) {
                    sb.append(": ");
                    for (int i = 0; i < Math.min(n, 8); i++) {
                        sb.append(i == 0 ? "" : ", ").append(get(i));
                    }
                    if (n > 8) {
                        sb.append(", ...");
                    }
                }
                yield sb.append(']').toString();
            }
            case UINT64 -> Long.toUnsignedString(bits);
            case FLOAT32, FLOAT64 -> Double.toString(asDouble());
            case BOOL -> Boolean.toString(bits != 0);
            default -> Long.toString(bits);
        };
    }
}
