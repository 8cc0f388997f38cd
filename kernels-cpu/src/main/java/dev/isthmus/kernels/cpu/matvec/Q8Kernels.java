package dev.isthmus.kernels.cpu.matvec;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Integer matvec kernels against {@link Q8Activations}: the weight codes, in 16-bit lanes, are
 * multiplied by the activation codes in 16-bit lanes (exact: every product and every pair sum fits),
 * the pairs summed into 32-bit lanes in place, converted to float once per 32 elements and scaled by
 * {@code d_w · (group scale) · d_x} into a float accumulator. Compared with dequantizing every code
 * to float, a code costs about half the vector operations (a 16-bit multiply covers 16 codes where
 * a float FMA covers 8, and the float conversion happens per 32 codes, not per code).
 *
 * <p>No operation crosses a 128-bit lane: byte codes are read as little-endian shorts (even
 * elements in the low bytes, odd ones in the high bytes) against the deinterleaved x codes
 * {@link Q8Activations#qe}, or zero-extended from 16 bytes (Q4_0). The code biases of Q4_0 (8) and
 * Q6_K (32) are taken off exactly through x ({@link Q8Activations#bias8}, {@link Q8Activations#bias32}).
 *
 * <p>Shapes are fixed at 256 bits (16 shorts, 8 ints or floats) whatever the preferred width.
 * Callers validate arguments ({@link MatVec#check}) and quantize {@code x} first. See
 * {@code docs/MATVEC.md} for what C2 needs to keep these intrinsified (one call site per operation).
 */
final class Q8Kernels {

    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Long> L2 = LongVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat F32_NATIVE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Q8Kernels() {
    }

    /** True for the types these kernels cover (the others use the float kernels in {@link MatVec}). */
    static boolean covers(GgmlType type) {
        return switch (type) {
            case Q8_0, Q4_0, Q4_K, Q6_K -> true;
            default -> false;
        };
    }

    /** Rows {@code [r0, r1)} of a validated call whose {@code x} is in {@code a}. */
    static void rows(GgmlType type, MemorySegment w, int cols, Q8Activations a, MemorySegment y, int r0, int r1) {
        long rb = type.rowSize(cols);
        int nb = cols / type.blockSize();
        switch (type) {
            case Q8_0 -> q8_0(w, rb, nb, a, y, r0, r1);
            case Q4_0 -> q4_0(w, rb, nb, a, y, r0, r1);
            case Q4_K -> q4_K(w, rb, nb, a, y, r0, r1);
            case Q6_K -> q6_K(w, rb, nb, a, y, r0, r1);
            default -> throw new UnsupportedOperationException("no integer matvec kernel for " + type);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    private static float f16(MemorySegment w, long off) {
        return Float.float16ToFloat(w.get(I16_LE, off));
    }

    private static ShortVector xq(short[] q, int i) {
        return ShortVector.fromArray(S16, q, i);
    }

    /**
     * The 16 short lanes summed in pairs into 8 int lanes, as float; exact when every pair sum is
     * below 2^15 in magnitude (the 4-bit and 6-bit types; Q8_0 uses {@link #pairSumWide}).
     */
    private static FloatVector pairSum(ShortVector p) {
        IntVector i = p.reinterpretAsInts();
        // an int lane is hi · 2^16 + (lo mod 2^16); adding it shifted left by 16 gives
        // (hi + lo) · 2^16 + (lo mod 2^16) (mod 2^32), whose arithmetic shift right by 16 is hi + lo
        // when |hi + lo| < 2^15 (three operations, no lane crossing)
        IntVector s = i.add(i.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
        return (FloatVector) s.convert(VectorOperators.I2F, 0);
    }

    /** As {@link #pairSum} for any short lanes (pair sums up to 2^16 in magnitude). */
    private static FloatVector pairSumWide(ShortVector p) {
        IntVector i = p.reinterpretAsInts();
        // the high short by an arithmetic shift, the low one by a shift up and back
        IntVector s = i.lanewise(VectorOperators.ASHR, 16)
                .add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
        return (FloatVector) s.convert(VectorOperators.I2F, 0);
    }

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F8, v);
    }

    private static void store(MemorySegment y, int r, float v) {
        y.setAtIndex(F32_NATIVE, r, v);
    }

    // ---------------------------------------------------------------------------------------------
    // 32-element blocks

    private static void q8_0(MemorySegment w, long rb, int nb, Q8Activations a, MemorySegment y, int r0, int r1) {
        short[] xe = a.qe;
        float[] xd = a.d;
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F8);
            for (int b = 0; b < nb; b++, o += 34) {
                // the 32 codes as 16 shorts: even elements in the low bytes, odd ones in the high
                // bytes, each sign-extended in place (no lane crossing) against the deinterleaved x
                ShortVector c = ShortVector.fromMemorySegment(S16, w, o + 2, LE);
                ShortVector even = c.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
                ShortVector odd = c.lanewise(VectorOperators.ASHR, 8);
                // |code · x| <= 128 · 127, two of them still fit a short
                ShortVector p = even.mul(xq(xe, 32 * b)).add(odd.mul(xq(xe, 32 * b + 16)));
                acc = pairSumWide(p).fma(bc(f16(w, o) * xd[b]), acc);
            }
            store(y, r, acc.reduceLanes(VectorOperators.ADD));
        }
    }

    private static void q4_0(MemorySegment w, long rb, int nb, Q8Activations a, MemorySegment y, int r0, int r1) {
        short[] xq = a.q;
        short[] b8 = a.bias8;
        float[] xd = a.d;
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F8);
            for (int b = 0; b < nb; b++, o += 18) {
                // 16 bytes zero-extended to shorts: the low nibbles are elements 0..15, the high
                // nibbles 16..31; the codes' bias 8 is taken off through x (8 · (x_i + x_{i+16}))
                ShortVector c = (ShortVector) ByteVector.fromMemorySegment(B16, w, o + 2, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S16, 0);
                ShortVector p = c.and((short) 0xF).mul(xq(xq, 32 * b))
                        .add(c.lanewise(VectorOperators.LSHR, 4).mul(xq(xq, 32 * b + 16)))
                        .sub(xq(b8, 16 * b));
                // |Σ (code - 8) · x| <= 2 · 8 · 127 a lane
                acc = pairSum(p).fma(bc(f16(w, o) * xd[b]), acc);
            }
            store(y, r, acc.reduceLanes(VectorOperators.ADD));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // K-quants: one loop nest per row (rows, super-blocks, groups), the accumulator carried across
    // super-blocks (a method per super-block was never inlined: a call and a lane reduction per 256
    // elements); per-super-block scales go through a small per-thread float scratch

    /** Per-thread scratch of 16 floats (a super-block's group scales), reused: no allocation per call. */
    private static final ThreadLocal<float[]> SCALES = ThreadLocal.withInitial(() -> new float[16]);

    private static void q4_K(MemorySegment w, long rb, int nb, Q8Activations a, MemorySegment y, int r0, int r1) {
        short[] xe = a.qe;
        float[] xd = a.d;
        float[] xs = a.sum;
        float[] scale = SCALES.get();
        for (int r = r0; r < r1; r++) {
            FloatVector acc = FloatVector.zero(F8);
            FloatVector mins = FloatVector.zero(F8);
            // super-block b at o; its x blocks (one per group of 32) are 8b .. 8b + 7, deinterleaved
            // in xe; one loop nest, one call site per operation (see MatVec)
            long o = r * rb;
            for (int b = 0; b < nb; b++, o += 144) {
                float d = f16(w, o);
                float dmin = f16(w, o + 2);
                long s0 = w.get(I64_LE, o + 4);  // packed scale bytes 0..7
                int s1 = w.get(I32_LE, o + 12);  // packed scale bytes 8..11
                // the eight 6-bit scales and mins, one a byte: groups 0..3 from the low six bits of
                // bytes 0..3 (scales) and 4..7 (mins); groups 4..7 from the nibbles of bytes 8..11
                // with the top two bits of bytes 0..3 (scales) and 4..7 (mins) above them
                long scs = (s0 & 0x3F3F3F3FL)
                        | (long) ((s1 & 0x0F0F0F0F) | ((int) (s0 >>> 6) & 0x03030303) << 4) << 32;
                long ms = (s0 >>> 32 & 0x3F3F3F3FL)
                        | (long) ((s1 >>> 4 & 0x0F0F0F0F) | ((int) (s0 >>> 38) & 0x03030303) << 4) << 32;
                // d · sc_g · d_x(g) for the eight groups at once, and dmin · m_g · Σx̂(g) summed
                // into a vector (reduced once per row)
                int xb = 8 * b;
                bytesToFloats(scs).mul(d).mul(FloatVector.fromArray(F8, xd, xb)).intoArray(scale, 0);
                mins = bytesToFloats(ms).mul(dmin).fma(FloatVector.fromArray(F8, xs, xb), mins);
                for (int g = 0; g < 8; g++) {
                    // group g: the low (even g) or high (odd g) nibbles of qs[32 (g / 2) .. + 32],
                    // read as 16 shorts: even elements in bits 0..3 (or 4..7), odd ones in bits
                    // 8..11 (or 12..15)
                    ShortVector c = ShortVector.fromMemorySegment(S16, w, o + 16 + 32 * (g >>> 1), LE)
                            .lanewise(VectorOperators.LSHR, 4 * (g & 1));
                    int e = 32 * (xb + g);
                    // |code · x| <= 15 · 127: pair sums fit a short
                    ShortVector p = c.and((short) 0xF).mul(xq(xe, e))
                            .add(c.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(xq(xe, e + 16)));
                    acc = pairSum(p).fma(bc(scale[g]), acc);
                }
            }
            store(y, r, acc.sub(mins).reduceLanes(VectorOperators.ADD));
        }
    }

    /** The eight bytes of {@code v} (little-endian order) as eight float lanes, each byte signed (via two long lanes: C2 has no one-lane vectors). */
    private static FloatVector bytesToFloats(long v) {
        return (FloatVector) LongVector.broadcast(L2, v).reinterpretAsBytes().convertShape(VectorOperators.B2F, F8, 0);
    }

    /** Lanes 4..7: the second 16-element group's pair sums after {@link #pairSum} of deinterleaved codes. */
    private static final VectorMask<Float> HIGH_HALF = VectorMask.fromLong(F8, 0xF0);

    private static void q6_K(MemorySegment w, long rb, int nb, Q8Activations a, MemorySegment y, int r0, int r1) {
        short[] xe = a.qe;
        short[] b32 = a.bias32;
        float[] xd2 = a.d2;
        float[] scale = SCALES.get();
        for (int r = r0; r < r1; r++) {
            FloatVector acc = FloatVector.zero(F8);
            long o = r * rb;
            // one loop nest, one call site per operation (see MatVec)
            for (int b = 0; b < nb; b++, o += 210) {
                float d = f16(w, o + 208);
                // d · sc_g · d_x for the 16 groups of 16 (signed scale bytes 0..7, then 8..15)
                bytesToFloats(w.get(I64_LE, o + 192)).mul(d).mul(FloatVector.fromArray(F8, xd2, 16 * b))
                        .intoArray(scale, 0);
                bytesToFloats(w.get(I64_LE, o + 200)).mul(d).mul(FloatVector.fromArray(F8, xd2, 16 * b + 8))
                        .intoArray(scale, 8);
                // 32 elements (one x block, two scale groups) a step, read as 16 shorts (even
                // elements in the low bytes, odd in the high bytes, against the deinterleaved x)
                for (int j = 0; j < 8; j++) {
                    // chunk j = 4h + k: elements 128h + 32k + (0..31); low four bits from
                    // ql[64h + 32(k & 1) + l] (low nibble for k < 2, high otherwise), top two bits
                    // from bits 2k, 2k + 1 of qh[32h + l] (shifted down, masked, moved to bits 4, 5)
                    int h = j >>> 2;
                    int k = j & 3;
                    ShortVector lo = ShortVector.fromMemorySegment(S16, w, o + 64 * h + 32 * (k & 1), LE)
                            .lanewise(VectorOperators.LSHR, 4 * (k >>> 1)).and((short) 0x0F0F);
                    ShortVector hi = ShortVector.fromMemorySegment(S16, w, o + 128 + 32 * h, LE)
                            .lanewise(VectorOperators.LSHR, 2 * k).and((short) 0x0303).lanewise(VectorOperators.LSHL, 4);
                    ShortVector c = lo.or(hi); // two unsigned 6-bit codes a lane
                    int xb = 8 * b + j;
                    // Σ (code - 32) · x, the bias 32 taken off through x: |.| <= 2 · 32 · 127 a
                    // lane, and the intermediate sums (up to 2 · 63 · 127) fit a short as well
                    ShortVector p = c.and((short) 0xFF).mul(xq(xe, 32 * xb))
                            .add(c.lanewise(VectorOperators.LSHR, 8).mul(xq(xe, 32 * xb + 16)))
                            .sub(xq(b32, 16 * xb));
                    // lanes 0..7 of p are elements 0..15 (scale 2j), lanes 8..15 elements 16..31
                    // (scale 2j + 1): after the pair sum, int lanes 0..3 and 4..7
                    FloatVector sc = bc(scale[2 * j]).blend(bc(scale[2 * j + 1]), HIGH_HALF);
                    acc = pairSum(p).fma(sc, acc);
                }
            }
            store(y, r, acc.reduceLanes(VectorOperators.ADD));
        }
    }
}
