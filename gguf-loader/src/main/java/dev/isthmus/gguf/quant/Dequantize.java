package dev.isthmus.gguf.quant;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Reference dequantization of ggml tensor data to {@code float}.
 *
 * <p>The source is always a {@link MemorySegment} holding whole blocks in llama.cpp's layout,
 * little-endian, read in place (typically a slice of a memory-mapped GGUF file); element 0 is at
 * byte 0 of the segment (slice the segment to start elsewhere). Supported types: F32, F16, BF16,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and MXFP4; any other type throws
 * {@link UnsupportedOperationException}. The arithmetic follows llama.cpp's scalar dequantizers
 * operation by operation (same float products in the same order), so results are bit-identical
 * to {@code dequantize_row_*} built without fused multiply-add contraction.
 *
 * <p>Every method validates its arguments before touching memory: an element count that is not a
 * whole number of blocks, a source segment shorter than the data, or a destination too small is an
 * {@link IllegalArgumentException}, never an out-of-bounds access. Block layouts are documented in
 * {@code docs/QUANT_FORMATS.md}.
 */
public final class Dequantize {

    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Elements dequantized per step when writing to a segment (a multiple of every block size). */
    private static final int CHUNK = 16 * 1024;

    /** The E2M1 (FP4) code points of MXFP4, doubled so they are integers; the block scale is halved. */
    private static final int[] E2M1_TIMES_2 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    private Dequantize() {
    }

    /** True when {@code type} has a dequantizer here. */
    public static boolean supports(GgmlType type) {
        return switch (Objects.requireNonNull(type, "type")) {
            case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4 -> true;
            default -> false;
        };
    }

    /**
     * Dequantizes {@code n} elements of {@code type} from {@code src} into
     * {@code dst[dstOffset .. dstOffset + n)}.
     *
     * @param type the element type of {@code src}
     * @param src little-endian blocks of {@code type}, element 0 at byte 0
     * @param n element count, a non-negative multiple of {@code type.blockSize()}
     * @param dst the destination array
     * @param dstOffset index in {@code dst} of the first element written
     * @throws UnsupportedOperationException if {@code type} has no dequantizer
     * @throws IllegalArgumentException if {@code n} is not a whole number of blocks, {@code src} is
     *     shorter than {@code type.byteSize(n)}, or {@code dst} cannot hold {@code n} floats at
     *     {@code dstOffset}
     */
    public static void dequantize(GgmlType type, MemorySegment src, long n, float[] dst, int dstOffset) {
        Objects.requireNonNull(dst, "dst");
        checkSource(type, src, n);
        if (dstOffset < 0 || dstOffset > dst.length || n > dst.length - dstOffset) {
            throw new IllegalArgumentException("destination array of length " + dst.length
                    + " cannot hold " + n + " floats at offset " + dstOffset);
        }
        decode(type, src, 0, (int) n, dst, dstOffset);
    }

    /**
     * Dequantizes {@code n} elements of {@code type} from {@code src} into {@code dst} as
     * {@code float}s in native byte order, starting at byte 0 of {@code dst}.
     *
     * @throws UnsupportedOperationException if {@code type} has no dequantizer
     * @throws IllegalArgumentException if {@code n} is not a whole number of blocks, {@code src} is
     *     too short, or {@code dst} is shorter than {@code 4 * n} bytes or read-only
     */
    public static void dequantize(GgmlType type, MemorySegment src, long n, MemorySegment dst) {
        Objects.requireNonNull(dst, "dst");
        checkSource(type, src, n);
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("destination segment is read-only");
        }
        if (n > dst.byteSize() / Float.BYTES) {
            throw new IllegalArgumentException("destination segment of " + dst.byteSize()
                    + " bytes cannot hold " + n + " floats");
        }
        float[] buf = new float[(int) Math.min(n, CHUNK)];
        int bs = type.blockSize();
        for (long done = 0; done < n; ) {
            int count = (int) Math.min(CHUNK, n - done);
            long srcOffset = done / bs * type.typeSize();
            decode(type, src, srcOffset, count, buf, 0);
            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, done * Float.BYTES, count);
            done += count;
        }
    }

    /**
     * Dequantizes {@code n} elements of {@code type} from {@code src} into a new array.
     *
     * @throws IllegalArgumentException as {@link #dequantize(GgmlType, MemorySegment, long, float[], int)},
     *     or if {@code n} exceeds the largest array length
     */
    public static float[] toFloats(GgmlType type, MemorySegment src, long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(n + " elements do not fit in a Java array");
        }
        checkSource(type, src, n);
        float[] out = new float[(int) n];
        decode(type, src, 0, (int) n, out, 0);
        return out;
    }

    /**
     * The value of element {@code index} of a tensor of {@code type} stored in {@code src}. Decodes
     * the one block holding it; convenient for tests and spot checks, slow for bulk work.
     *
     * @throws UnsupportedOperationException if {@code type} has no dequantizer
     * @throws IllegalArgumentException if {@code index} is negative or its block lies beyond {@code src}
     */
    public static float dequantize(GgmlType type, MemorySegment src, long index) {
        Objects.requireNonNull(src, "src");
        requireSupported(type);
        if (index < 0) {
            throw new IllegalArgumentException("negative element index " + index);
        }
        int bs = type.blockSize();
        long block = index / bs;
        long offset = block * type.typeSize();
        if (block > (Long.MAX_VALUE - type.typeSize()) / type.typeSize() || offset + type.typeSize() > src.byteSize()) {
            throw new IllegalArgumentException("element " + index + " of " + type + " lies beyond the "
                    + src.byteSize() + "-byte source segment");
        }
        float[] tmp = new float[bs];
        decode(type, src, offset, bs, tmp, 0);
        return tmp[(int) (index % bs)];
    }

    /**
     * Dequantizes the single block of {@code type} at byte {@code srcOffset} of {@code src} into
     * {@code dst[dstOffset .. dstOffset + type.blockSize())}.
     *
     * @throws UnsupportedOperationException if {@code type} has no dequantizer
     * @throws IllegalArgumentException if the block or the destination range is out of bounds
     */
    public static void dequantizeBlock(GgmlType type, MemorySegment src, long srcOffset, float[] dst, int dstOffset) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(dst, "dst");
        requireSupported(type);
        if (srcOffset < 0 || srcOffset > src.byteSize() - type.typeSize()) {
            throw new IllegalArgumentException("a " + type.typeSize() + "-byte " + type + " block at offset "
                    + srcOffset + " does not fit the " + src.byteSize() + "-byte source segment");
        }
        if (dstOffset < 0 || dstOffset > dst.length - type.blockSize()) {
            throw new IllegalArgumentException("destination array of length " + dst.length + " cannot hold "
                    + type.blockSize() + " floats at offset " + dstOffset);
        }
        decode(type, src, srcOffset, type.blockSize(), dst, dstOffset);
    }

    // ---------------------------------------------------------------------------------------------
    // validation

    static void requireSupported(GgmlType type) {
        if (!supports(type)) {
            throw new UnsupportedOperationException("no reference dequantizer for ggml type " + type);
        }
    }

    private static void checkSource(GgmlType type, MemorySegment src, long n) {
        Objects.requireNonNull(src, "src");
        requireSupported(type);
        if (n < 0 || n % type.blockSize() != 0) {
            throw new IllegalArgumentException(n + " elements is not a whole number of " + type + " blocks of "
                    + type.blockSize());
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(n + " elements exceed what one call converts (< 2^31)");
        }
        long bytes = type.byteSize(n);
        if (bytes < 0 || src.byteSize() < bytes) {
            throw new IllegalArgumentException(n + " elements of " + type + " need " + bytes
                    + " bytes but the source segment holds " + src.byteSize());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // decoding; arguments are validated by the callers

    /** Decodes {@code n} elements (whole blocks) starting at byte {@code off} of {@code src}. */
    private static void decode(GgmlType type, MemorySegment src, long off, int n, float[] y, int yo) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, F32_LE, off, y, yo, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    y[yo + i] = Float.float16ToFloat(src.get(I16_LE, off + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    y[yo + i] = bf16ToFloat(src.get(I16_LE, off + 2L * i));
                }
            }
            default -> {
                int ts = type.typeSize();
                int bs = type.blockSize();
                byte[] b = new byte[ts];
                for (int i = 0; i < n; i += bs, off += ts) {
                    MemorySegment.copy(src, ValueLayout.JAVA_BYTE, off, b, 0, ts);
                    decodeBlock(type, b, y, yo + i);
                }
            }
        }
    }

    private static void decodeBlock(GgmlType type, byte[] b, float[] y, int o) {
        switch (type) {
            case Q4_0 -> q4_0(b, y, o);
            case Q4_1 -> q4_1(b, y, o);
            case Q5_0 -> q5_0(b, y, o);
            case Q5_1 -> q5_1(b, y, o);
            case Q8_0 -> q8_0(b, y, o);
            case Q2_K -> q2_K(b, y, o);
            case Q3_K -> q3_K(b, y, o);
            case Q4_K -> q4_K(b, y, o);
            case Q5_K -> q5_K(b, y, o);
            case Q6_K -> q6_K(b, y, o);
            case MXFP4 -> mxfp4(b, y, o);
            default -> throw new UnsupportedOperationException("no reference dequantizer for ggml type " + type);
        }
    }

    /** bfloat16 bits to float: the bits are the upper half of an IEEE binary32. */
    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    private static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    private static float f16(byte[] b, int i) {
        return Float.float16ToFloat((short) ((b[i] & 0xFF) | (b[i + 1] << 8)));
    }

    private static int u32(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
    }

    // Q4_0: f16 d | 16 bytes of nibbles. Element j (j < 16) is the low nibble of byte j, element
    // j + 16 the high nibble; value = (q - 8) * d.
    private static void q4_0(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, 2 + j);
            y[o + j] = ((q & 0xF) - 8) * d;
            y[o + j + 16] = ((q >>> 4) - 8) * d;
        }
    }

    // Q4_1: f16 d | f16 m | 16 bytes of nibbles; value = q * d + m.
    private static void q4_1(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        float m = f16(b, 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, 4 + j);
            y[o + j] = (q & 0xF) * d + m;
            y[o + j + 16] = (q >>> 4) * d + m;
        }
    }

    // Q5_0: f16 d | u32 qh (bit i = fifth bit of element i) | 16 bytes of nibbles; value = (q - 16) * d.
    private static void q5_0(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        int qh = u32(b, 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, 6 + j);
            int lo = (q & 0xF) | ((qh >>> j) & 1) << 4;
            int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
            y[o + j] = (lo - 16) * d;
            y[o + j + 16] = (hi - 16) * d;
        }
    }

    // Q5_1: f16 d | f16 m | u32 qh | 16 bytes of nibbles; value = q * d + m.
    private static void q5_1(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        float m = f16(b, 2);
        int qh = u32(b, 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, 8 + j);
            int lo = (q & 0xF) | ((qh >>> j) & 1) << 4;
            int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
            y[o + j] = lo * d + m;
            y[o + j + 16] = hi * d + m;
        }
    }

    // Q8_0: f16 d | 32 signed bytes; value = q * d.
    private static void q8_0(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        for (int j = 0; j < 32; j++) {
            y[o + j] = b[2 + j] * d;
        }
    }

    // Q2_K: 16 scale bytes (low nibble scale, high nibble min) | 64 bytes of 2-bit codes | f16 d | f16 dmin.
    // Half h (128 elements) uses code bytes 32h..32h+31; within it, group g (32 elements) takes bits
    // 2g..2g+1, its first 16 elements from bytes 0..15 and the next 16 from bytes 16..31 of the half,
    // each 16 with its own scale byte (in order). value = d * sc * q - dmin * m.
    private static void q2_K(byte[] b, float[] y, int o) {
        float d = f16(b, 80);
        float dmin = f16(b, 82);
        int is = 0;
        int e = o;
        for (int h = 0; h < 2; h++) {
            int qs = 16 + 32 * h;
            for (int g = 0; g < 4; g++) {
                int shift = 2 * g;
                for (int part = 0; part < 2; part++) {
                    int sc = u8(b, is++);
                    float dl = d * (sc & 0xF);
                    float ml = dmin * (sc >>> 4);
                    for (int l = 0; l < 16; l++) {
                        y[e++] = dl * ((u8(b, qs + 16 * part + l) >>> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    /** The signed 6-bit scale of 16-element group {@code j} (0..15) of a Q3_K block. */
    static int q3kScale(byte[] b, int scalesOffset, int j) {
        int low = j < 8 ? u8(b, scalesOffset + j) & 0xF : u8(b, scalesOffset + j - 8) >>> 4;
        int high = (u8(b, scalesOffset + 8 + (j & 3)) >>> (2 * (j >>> 2))) & 3;
        return (low | high << 4) - 32;
    }

    // Q3_K: 32 bytes hmask | 64 bytes of 2-bit codes | 12 bytes of packed 6-bit scales | f16 d.
    // Code layout as Q2_K; the third bit of element (h, g, l) is bit 4h+g of hmask[l] (l in 0..31).
    // q = low2 - (high bit set ? 0 : 4), in -4..3; value = d * (scale - 32) * q.
    private static void q3_K(byte[] b, float[] y, int o) {
        float d = f16(b, 108);
        int is = 0;
        int e = o;
        for (int h = 0; h < 2; h++) {
            int qs = 32 + 32 * h;
            for (int g = 0; g < 4; g++) {
                int shift = 2 * g;
                int bit = 4 * h + g;
                for (int part = 0; part < 2; part++) {
                    float dl = d * q3kScale(b, 96, is++);
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int q = (u8(b, qs + l) >>> shift) & 3;
                        int hbit = (u8(b, l) >>> bit) & 1;
                        y[e++] = dl * (q - (hbit != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    /** The 6-bit scale (index 0) and min (index 1) of 32-element group {@code j} (0..7) of a Q4_K/Q5_K block. */
    static int[] kScaleMin(byte[] b, int scalesOffset, int j) {
        int s;
        int m;
        if (j < 4) {
            s = u8(b, scalesOffset + j) & 63;
            m = u8(b, scalesOffset + j + 4) & 63;
        } else {
            s = (u8(b, scalesOffset + j + 4) & 0xF) | (u8(b, scalesOffset + j - 4) >>> 6) << 4;
            m = (u8(b, scalesOffset + j + 4) >>> 4) | (u8(b, scalesOffset + j) >>> 6) << 4;
        }
        return new int[] {s, m};
    }

    // Q4_K: f16 d | f16 dmin | 12 bytes packed 6-bit scales and mins | 128 bytes nibbles.
    // Chunk c (64 elements) uses bytes 32c..32c+31: low nibbles are group 2c, high nibbles group 2c+1.
    // value = d * sc * q - dmin * m.
    private static void q4_K(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        float dmin = f16(b, 2);
        for (int c = 0; c < 4; c++) {
            int[] sm1 = kScaleMin(b, 4, 2 * c);
            int[] sm2 = kScaleMin(b, 4, 2 * c + 1);
            float d1 = d * sm1[0];
            float m1 = dmin * sm1[1];
            float d2 = d * sm2[0];
            float m2 = dmin * sm2[1];
            int qs = 16 + 32 * c;
            for (int l = 0; l < 32; l++) {
                int q = u8(b, qs + l);
                y[o + 64 * c + l] = d1 * (q & 0xF) - m1;
                y[o + 64 * c + 32 + l] = d2 * (q >>> 4) - m2;
            }
        }
    }

    // Q5_K: f16 d | f16 dmin | 12 bytes scales/mins | 32 bytes qh | 128 bytes nibbles. As Q4_K, with
    // the fifth bit of element (c, l) in bit 2c of qh[l] (low nibble) or bit 2c+1 (high nibble).
    private static void q5_K(byte[] b, float[] y, int o) {
        float d = f16(b, 0);
        float dmin = f16(b, 2);
        for (int c = 0; c < 4; c++) {
            int[] sm1 = kScaleMin(b, 4, 2 * c);
            int[] sm2 = kScaleMin(b, 4, 2 * c + 1);
            float d1 = d * sm1[0];
            float m1 = dmin * sm1[1];
            float d2 = d * sm2[0];
            float m2 = dmin * sm2[1];
            int qs = 48 + 32 * c;
            for (int l = 0; l < 32; l++) {
                int q = u8(b, qs + l);
                int qh = u8(b, 16 + l);
                int lo = (q & 0xF) | ((qh >>> (2 * c)) & 1) << 4;
                int hi = (q >>> 4) | ((qh >>> (2 * c + 1)) & 1) << 4;
                y[o + 64 * c + l] = d1 * lo - m1;
                y[o + 64 * c + 32 + l] = d2 * hi - m2;
            }
        }
    }

    // Q6_K: 128 bytes ql (low 4 bits) | 64 bytes qh (high 2 bits) | 16 signed scale bytes | f16 d.
    // Half h (128 elements) uses ql[64h..], qh[32h..], scales[8h..]; for l in 0..31, element
    // 128h + 32k + l takes (k=0) low nibble of ql[l], (k=1) low nibble of ql[l+32], (k=2) high nibble
    // of ql[l], (k=3) high nibble of ql[l+32], with bits 2k..2k+1 of qh[l] on top; q - 32 in -32..31;
    // scale index 8h + 2k + l/16. value = d * sc * (q - 32).
    private static void q6_K(byte[] b, float[] y, int o) {
        float d = f16(b, 208);
        for (int h = 0; h < 2; h++) {
            int ql = 64 * h;
            int qh = 128 + 32 * h;
            int sc = 192 + 8 * h;
            int base = o + 128 * h;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int hb = u8(b, qh + l);
                int a = u8(b, ql + l);
                int c = u8(b, ql + l + 32);
                int q1 = ((a & 0xF) | (hb & 3) << 4) - 32;
                int q2 = ((c & 0xF) | ((hb >>> 2) & 3) << 4) - 32;
                int q3 = ((a >>> 4) | ((hb >>> 4) & 3) << 4) - 32;
                int q4 = ((c >>> 4) | ((hb >>> 6) & 3) << 4) - 32;
                y[base + l] = d * b[sc + is] * q1;
                y[base + l + 32] = d * b[sc + is + 2] * q2;
                y[base + l + 64] = d * b[sc + is + 4] * q3;
                y[base + l + 96] = d * b[sc + is + 6] * q4;
            }
        }
    }

    /** Half of the E8M0 scale {@code e}: 2^(e - 128), exact (subnormal for e = 0; e = 255 is 2^127, never NaN). */
    static float e8m0Half(int e) {
        return Math.scalb(1.0f, e - 128);
    }

    // MXFP4: u8 E8M0 exponent e | 16 bytes of E2M1 nibbles (low nibble = element j, high = j + 16).
    // value = e2m1(code) * 2^(e - 127), computed as (2 * e2m1) * 2^(e - 128).
    private static void mxfp4(byte[] b, float[] y, int o) {
        float d = e8m0Half(u8(b, 0));
        for (int j = 0; j < 16; j++) {
            int q = u8(b, 1 + j);
            y[o + j] = E2M1_TIMES_2[q & 0xF] * d;
            y[o + j + 16] = E2M1_TIMES_2[q >>> 4] * d;
        }
    }
}
