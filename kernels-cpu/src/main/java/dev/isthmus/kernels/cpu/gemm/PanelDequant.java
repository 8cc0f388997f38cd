package dev.isthmus.kernels.cpu.gemm;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decodes whole weight rows of any {@link Gemm} type into floats, for the panel GEMM paths. Each
 * value is computed with the same float expression, in the same order, as the reference
 * {@code dev.isthmus.gguf.quant.Dequantize}, so a decoded panel is bit-identical to the reference
 * dequantization and the only error left in a GEMM is the summation's.
 *
 * <p>Allocation-free: the caller passes a byte buffer of at least {@code type.rowSize(k)} bytes
 * (the row is copied into it once, then decoded with plain array code, which C2 compiles well).
 * Arguments are validated by {@link Gemm} before any call.
 *
 * <p>BF16, Q8_0, Q4_0, Q4_K and Q6_K (the types of the usual F16/BF16, Q8_0, Q4_0 and Q4_K_M files)
 * are decoded with the Vector API, 8 floats at a time (byte codes widened with {@code B2F}, then the
 * reference's multiply and subtract as two separately rounded lane operations, never an FMA, so the
 * values stay bit-identical); the other types with scalar loops.
 */
final class PanelDequant {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** E2M1 code points doubled (integers); the MXFP4 scale is halved to match. */
    private static final float[] E2M1_TIMES_2 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    /** 2^(e - 128): half the E8M0 scale, exact. */
    private static final float[] E8M0_HALF = new float[256];

    static {
        for (int e = 0; e < 256; e++) {
            E8M0_HALF[e] = Math.scalb(1.0f, e - 128);
        }
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;

    private PanelDequant() {
    }

    /** True when {@link #rows} writes {@code type} straight into a segment (no copy through the array). */
    static boolean writesSegment(GgmlType type) {
        return switch (type) {
            case F32 -> NATIVE == ByteOrder.LITTLE_ENDIAN;
            case BF16, Q8_0, Q4_0, Q4_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * Decodes rows {@code [row0, row0 + rows)} of {@code w} (row-major {@code [n][k]} of {@code type}),
     * row {@code i} at float {@code i * k} of the destination: {@code seg} (native-order floats) when
     * it is not null and {@link #writesSegment} is true for the type, else {@code dst}.
     */
    static void rows(GgmlType type, MemorySegment w, int row0, int rows, int k, byte[] buf, float[] dst,
            MemorySegment seg) {
        MemorySegment s = seg != null && writesSegment(type) ? seg : null;
        long rb = type.rowSize(k);
        if (type == GgmlType.F32 && s != null) {
            MemorySegment.copy(w, row0 * rb, s, 0, rows * rb);   // little-endian is native (writesSegment)
            return;
        }
        for (int i = 0; i < rows; i++) {
            long off = (row0 + i) * rb;
            int yo = i * k;
            switch (type) {
                case F32 -> MemorySegment.copy(w, F32_LE, off, dst, yo, k);
                case F16 -> {
                    for (int j = 0; j < k; j++) {
                        dst[yo + j] = Float.float16ToFloat(w.get(I16_LE, off + 2L * j));
                    }
                }
                case BF16 -> {
                    int j = 0;
                    for (; j + 8 <= k; j += 8) {
                        put(ShortVector.fromMemorySegment(S8, w, off + 2L * j, ByteOrder.LITTLE_ENDIAN)
                                .convertShape(VectorOperators.S2I, I8, 0).lanewise(VectorOperators.LSHL, 16)
                                .reinterpretAsFloats(), dst, s, yo + j);
                    }
                    for (; j < k; j++) {
                        float v = Float.intBitsToFloat((w.get(I16_LE, off + 2L * j) & 0xFFFF) << 16);
                        if (s != null) {
                            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, yo + j, v);
                        } else {
                            dst[yo + j] = v;
                        }
                    }
                }
                default -> {
                    MemorySegment.copy(w, ValueLayout.JAVA_BYTE, off, buf, 0, (int) rb);
                    decodeRow(type, buf, k, dst, s, yo);
                }
            }
        }
    }

    /** Stores 8 floats at float index {@code i} of {@code s} (native order) when not null, else of {@code y}. */
    private static void put(FloatVector v, float[] y, MemorySegment s, int i) {
        if (s != null) {
            v.intoMemorySegment(s, 4L * i, NATIVE);
        } else {
            v.intoArray(y, i);
        }
    }

    private static void decodeRow(GgmlType type, byte[] b, int k, float[] y, MemorySegment s, int yo) {
        int ts = type.typeSize();
        int bs = type.blockSize();
        int blocks = k / bs;
        switch (type) {
            case Q8_0 -> {
                for (int i = 0; i < blocks; i++) {
                    q8_0(b, i * ts, y, s, yo + i * bs);
                }
            }
            case Q4_0 -> {
                for (int i = 0; i < blocks; i++) {
                    q4_0(b, i * ts, y, s, yo + i * bs);
                }
            }
            case Q4_1 -> {
                for (int i = 0; i < blocks; i++) {
                    q4_1(b, i * ts, y, yo + i * bs);
                }
            }
            case Q5_0 -> {
                for (int i = 0; i < blocks; i++) {
                    q5_0(b, i * ts, y, yo + i * bs);
                }
            }
            case Q5_1 -> {
                for (int i = 0; i < blocks; i++) {
                    q5_1(b, i * ts, y, yo + i * bs);
                }
            }
            case Q2_K -> {
                for (int i = 0; i < blocks; i++) {
                    q2_K(b, i * ts, y, yo + i * bs);
                }
            }
            case Q3_K -> {
                for (int i = 0; i < blocks; i++) {
                    q3_K(b, i * ts, y, yo + i * bs);
                }
            }
            case Q4_K -> {
                for (int i = 0; i < blocks; i++) {
                    q4_K(b, i * ts, y, s, yo + i * bs);
                }
            }
            case Q5_K -> {
                for (int i = 0; i < blocks; i++) {
                    q5_K(b, i * ts, y, yo + i * bs);
                }
            }
            case Q6_K -> {
                for (int i = 0; i < blocks; i++) {
                    q6_K(b, i * ts, y, s, yo + i * bs);
                }
            }
            case MXFP4 -> {
                for (int i = 0; i < blocks; i++) {
                    mxfp4(b, i * ts, y, yo + i * bs);
                }
            }
            default -> throw new UnsupportedOperationException("no panel decoder for ggml type " + type);
        }
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

    /** 8 bytes at {@code b[i]} as unsigned int lanes. */
    private static IntVector ints(byte[] b, int i) {
        return ((IntVector) ByteVector.fromArray(B8, b, i).convertShape(VectorOperators.B2I, I8, 0)).and(0xFF);
    }

    /** 8 byte lanes as floats (signed). */
    private static FloatVector bytes(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    private static void q8_0(byte[] b, int p, float[] y, MemorySegment s, int o) {
        float d = f16(b, p);
        for (int j = 0; j < 32; j += 8) {
            put(bytes(ByteVector.fromArray(B8, b, p + 2 + j)).mul(d), y, s, o + j);
        }
    }

    private static void q4_0(byte[] b, int p, float[] y, MemorySegment s, int o) {
        float d = f16(b, p);
        for (int j = 0; j < 16; j += 8) {
            ByteVector q = ByteVector.fromArray(B8, b, p + 2 + j);
            put(bytes(q.and((byte) 0xF).sub((byte) 8)).mul(d), y, s, o + j);
            put(bytes(q.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8)).mul(d), y, s, o + j + 16);
        }
    }

    private static void q4_1(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p);
        float m = f16(b, p + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, p + 4 + j);
            y[o + j] = (q & 0xF) * d + m;
            y[o + j + 16] = (q >>> 4) * d + m;
        }
    }

    private static void q5_0(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p);
        int qh = u32(b, p + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, p + 6 + j);
            int lo = (q & 0xF) | ((qh >>> j) & 1) << 4;
            int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
            y[o + j] = (lo - 16) * d;
            y[o + j + 16] = (hi - 16) * d;
        }
    }

    private static void q5_1(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p);
        float m = f16(b, p + 2);
        int qh = u32(b, p + 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(b, p + 8 + j);
            int lo = (q & 0xF) | ((qh >>> j) & 1) << 4;
            int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
            y[o + j] = lo * d + m;
            y[o + j + 16] = hi * d + m;
        }
    }

    // Q2_K: 16 scale bytes | 64 code bytes | f16 d | f16 dmin (layout: docs/QUANT_FORMATS.md).
    private static void q2_K(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p + 80);
        float dmin = f16(b, p + 82);
        int is = p;
        int e = o;
        for (int h = 0; h < 2; h++) {
            int qs = p + 16 + 32 * h;
            for (int g = 0; g < 4; g++) {
                int shift = 2 * g;
                for (int part = 0; part < 2; part++) {
                    int sc = u8(b, is++);
                    float dl = d * (sc & 0xF);
                    float ml = dmin * (sc >>> 4);
                    int q0 = qs + 16 * part;
                    for (int l = 0; l < 16; l++) {
                        y[e++] = dl * ((u8(b, q0 + l) >>> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    private static int q3kScale(byte[] b, int so, int j) {
        int low = j < 8 ? u8(b, so + j) & 0xF : u8(b, so + j - 8) >>> 4;
        int high = (u8(b, so + 8 + (j & 3)) >>> (2 * (j >>> 2))) & 3;
        return (low | high << 4) - 32;
    }

    // Q3_K: 32 bytes hmask | 64 code bytes | 12 scale bytes | f16 d.
    private static void q3_K(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p + 108);
        int is = 0;
        int e = o;
        for (int h = 0; h < 2; h++) {
            int qs = p + 32 + 32 * h;
            for (int g = 0; g < 4; g++) {
                int shift = 2 * g;
                int bit = 4 * h + g;
                for (int part = 0; part < 2; part++) {
                    float dl = d * q3kScale(b, p + 96, is++);
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int q = (u8(b, qs + l) >>> shift) & 3;
                        int hbit = (u8(b, p + l) >>> bit) & 1;
                        y[e++] = dl * (q - (hbit != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    private static int kScale(byte[] b, int so, int j) {
        return j < 4 ? u8(b, so + j) & 63 : (u8(b, so + j + 4) & 0xF) | (u8(b, so + j - 4) >>> 6) << 4;
    }

    private static int kMin(byte[] b, int so, int j) {
        return j < 4 ? u8(b, so + j + 4) & 63 : (u8(b, so + j + 4) >>> 4) | (u8(b, so + j) >>> 6) << 4;
    }

    // Q4_K: f16 d | f16 dmin | 12 bytes 6-bit scales and mins | 128 bytes nibbles.
    private static void q4_K(byte[] b, int p, float[] y, MemorySegment s, int o) {
        float d = f16(b, p);
        float dmin = f16(b, p + 2);
        for (int c = 0; c < 4; c++) {
            float d1 = d * kScale(b, p + 4, 2 * c);
            float m1 = dmin * kMin(b, p + 4, 2 * c);
            float d2 = d * kScale(b, p + 4, 2 * c + 1);
            float m2 = dmin * kMin(b, p + 4, 2 * c + 1);
            int qs = p + 16 + 32 * c;
            int e = o + 64 * c;
            for (int l = 0; l < 32; l += 8) {
                ByteVector q = ByteVector.fromArray(B8, b, qs + l);
                put(bytes(q.and((byte) 0xF)).mul(d1).sub(m1), y, s, e + l);
                put(bytes(q.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF)).mul(d2).sub(m2), y, s, e + 32 + l);
            }
        }
    }

    // Q5_K: f16 d | f16 dmin | 12 bytes scales/mins | 32 bytes qh | 128 bytes nibbles.
    private static void q5_K(byte[] b, int p, float[] y, int o) {
        float d = f16(b, p);
        float dmin = f16(b, p + 2);
        for (int c = 0; c < 4; c++) {
            float d1 = d * kScale(b, p + 4, 2 * c);
            float m1 = dmin * kMin(b, p + 4, 2 * c);
            float d2 = d * kScale(b, p + 4, 2 * c + 1);
            float m2 = dmin * kMin(b, p + 4, 2 * c + 1);
            int qs = p + 48 + 32 * c;
            int e = o + 64 * c;
            for (int l = 0; l < 32; l++) {
                int q = u8(b, qs + l);
                int qh = u8(b, p + 16 + l);
                int lo = (q & 0xF) | ((qh >>> (2 * c)) & 1) << 4;
                int hi = (q >>> 4) | ((qh >>> (2 * c + 1)) & 1) << 4;
                y[e + l] = d1 * lo - m1;
                y[e + 32 + l] = d2 * hi - m2;
            }
        }
    }

    // Q6_K: 128 bytes ql | 64 bytes qh | 16 signed scales | f16 d.
    private static void q6_K(byte[] b, int p, float[] y, MemorySegment s, int o) {
        float d = f16(b, p + 208);
        for (int h = 0; h < 2; h++) {
            int ql = p + 64 * h;
            int qh = p + 128 + 32 * h;
            int sc = p + 192 + 8 * h;
            int base = o + 128 * h;
            for (int half = 0; half < 2; half++) {
                int is = sc + half;
                float s1 = d * b[is];
                float s2 = d * b[is + 2];
                float s3 = d * b[is + 4];
                float s4 = d * b[is + 6];
                for (int l = 16 * half; l < 16 * half + 16; l += 8) {
                    // widened to int lanes first: AVX2 has no byte shifts, int shifts are native
                    IntVector hb = ints(b, qh + l);
                    IntVector a = ints(b, ql + l);
                    IntVector c = ints(b, ql + l + 32);
                    put(a.and(0xF).or(hb.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32)
                            .convert(VectorOperators.I2F, 0).reinterpretAsFloats().mul(s1), y, s, base + l);
                    put(c.and(0xF).or(hb.and(0xC).lanewise(VectorOperators.LSHL, 2)).sub(32)
                            .convert(VectorOperators.I2F, 0).reinterpretAsFloats().mul(s2), y, s, base + l + 32);
                    put(a.lanewise(VectorOperators.LSHR, 4).or(hb.and(0x30)).sub(32)
                            .convert(VectorOperators.I2F, 0).reinterpretAsFloats().mul(s3), y, s, base + l + 64);
                    put(c.lanewise(VectorOperators.LSHR, 4).or(hb.and(0xC0).lanewise(VectorOperators.LSHR, 2)).sub(32)
                            .convert(VectorOperators.I2F, 0).reinterpretAsFloats().mul(s4), y, s, base + l + 96);
                }
            }
        }
    }

    // MXFP4: u8 E8M0 exponent | 16 bytes of E2M1 nibbles.
    private static void mxfp4(byte[] b, int p, float[] y, int o) {
        float d = E8M0_HALF[u8(b, p)];
        for (int j = 0; j < 16; j++) {
            int q = u8(b, p + 1 + j);
            y[o + j] = E2M1_TIMES_2[q & 0xF] * d;
            y[o + j + 16] = E2M1_TIMES_2[q >>> 4] * d;
        }
    }
}
