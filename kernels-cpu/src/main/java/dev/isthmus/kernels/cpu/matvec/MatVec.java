package dev.isthmus.kernels.cpu.matvec;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode-time matrix–vector product {@code y = W·x} reading the weight matrix {@code W} in place, in
 * its GGUF block layout (typically a read-only slice of a memory-mapped file; little-endian, any
 * alignment).
 *
 * <p>{@code W} is row-major {@code [rows][cols]}: row {@code r} starts at byte
 * {@code r * type.rowSize(cols)} and holds {@code cols / type.blockSize()} blocks laid end to end
 * (layouts in {@code docs/QUANT_FORMATS.md}). {@code x} holds {@code cols} floats and {@code y}
 * receives {@code rows} floats, both in native byte order.
 *
 * <p>Method: {@link #matvec} dequantizes every type on the fly in vector registers and multiplies
 * it by the float {@code x} with fused multiply-add, so the only error against the exact product is
 * float rounding. {@link #matvecQ8} instead quantizes {@code x} once per call to 8-bit codes (as
 * llama.cpp does) and forms integer dot products for Q8_0, Q4_0, Q4_K and Q6_K: faster, with the
 * activation rounding as an extra error (see {@code docs/MATVEC.md} for the bounds and the
 * measurements).
 *
 * <p>Supported types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
 * MXFP4. Arguments are validated before any memory is read; a bad shape or short segment is an
 * {@link IllegalArgumentException}, never an out-of-bounds read. The kernels allocate nothing once
 * compiled. This class is stateless and thread-safe; {@link MatVecPool} splits rows over threads.
 */
public final class MatVec {

    /** Float species: the preferred shape, clamped to 256 or 512 bits (8 or 16 lanes). */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() >= 16
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    /** Lanes per float vector (8 or 16); divides every group size used below (16, 32). */
    static final int L = F.length();
    /** Byte species with as many lanes as {@link #F}: a {@code B2F} conversion maps it lane for lane. */
    private static final VectorSpecies<Byte> B = L == 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    /** 16 bytes (one legacy block's nibbles), for the MXFP4 table lookup. */
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S = L == 16 ? ShortVector.SPECIES_256 : ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I = L == 16 ? IntVector.SPECIES_512 : IntVector.SPECIES_256;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat F32_NATIVE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** E2M1 code points doubled (integers); the MXFP4 block scale is halved to match. */
    private static final ByteVector E2M1_TIMES_2 = ByteVector.fromArray(B16,
            new byte[] {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}, 0);
    /** 2^(e - 128) for every E8M0 exponent byte e (half the MXFP4 scale), exact. */
    private static final float[] E8M0_HALF = new float[256];
    /** For each byte b: eight bytes, byte i = 0x10 if bit i of b is set, else 0 (Q5_0/Q5_1 fifth bits). */
    private static final MemorySegment SPREAD_0X10 = MemorySegment.ofArray(new byte[256 * 8]);

    static {
        for (int e = 0; e < 256; e++) {
            E8M0_HALF[e] = Math.scalb(1.0f, e - 128);
        }
        for (int b = 0; b < 256; b++) {
            for (int i = 0; i < 8; i++) {
                SPREAD_0X10.set(ValueLayout.JAVA_BYTE, 8L * b + i, (byte) ((b >>> i & 1) << 4));
            }
        }
    }

    private MatVec() {
    }

    /** True when {@link #matvec} has a kernel for {@code type}. */
    public static boolean supports(GgmlType type) {
        return switch (Objects.requireNonNull(type, "type")) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4 -> true;
            default -> false;
        };
    }

    /**
     * Computes {@code y[r] = Σ_c W[r][c] · x[c]} for every row, on the calling thread.
     *
     * @param type the GGUF element type of {@code weights}
     * @param weights {@code rows * type.rowSize(cols)} bytes of blocks, row-major, little-endian; may
     *     be read-only, heap or native, at any alignment
     * @param rows number of rows of {@code W} (and floats written to {@code y}), {@code >= 0}
     * @param cols number of columns, a non-negative multiple of {@code type.blockSize()}
     * @param x at least {@code cols} floats, native byte order
     * @param y at least {@code rows} floats, native byte order, writable; must not overlap
     *     {@code weights} or {@code x}
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException if a shape is negative or not whole blocks, a segment is too
     *     small, or {@code y} is read-only
     */
    public static void matvec(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x,
            MemorySegment y) {
        check(type, weights, rows, cols, x, y);
        rows(type, weights, cols, x, y, 0, rows);
    }

    /**
     * As {@link #matvec}, faster for Q8_0, Q4_0, Q4_K and Q6_K ({@link #quantizesActivations}): it
     * quantizes {@code x} once per call to 8-bit codes per 32-element block (scale
     * {@code max|x|/127}, as llama.cpp does for its integer dot products) and runs integer kernels.
     * The result then differs from the exact product by at most {@code Σ_i |w_i| · d_x(i) / 2}
     * ({@code d_x} of element i's block) plus float rounding; see {@code docs/MATVEC.md}. For every
     * other type it is {@link #matvec}. Nothing is allocated per call (a per-thread buffer is reused).
     *
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException as {@link #matvec}
     */
    public static void matvecQ8(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x,
            MemorySegment y) {
        check(type, weights, rows, cols, x, y);
        if (quantizesActivations(type)) {
            Q8Activations a = ACTIVATIONS.get();
            a.quantize(x, cols);
            Q8Kernels.rows(type, weights, cols, a, y, 0, rows);
        } else {
            rows(type, weights, cols, x, y, 0, rows);
        }
    }

    /**
     * True when {@link #matvecQ8} quantizes {@code x} to 8 bits and runs an integer kernel for
     * {@code type} (Q8_0, Q4_0, Q4_K, Q6_K); {@link #matvec} never does.
     */
    public static boolean quantizesActivations(GgmlType type) {
        return Q8Kernels.covers(Objects.requireNonNull(type, "type"));
    }

    /** Per-thread 8-bit activations for {@link #matvec} (reused: no allocation per call). */
    private static final ThreadLocal<Q8Activations> ACTIVATIONS = ThreadLocal.withInitial(Q8Activations::new);

    /** Validates a call; every kernel relies on this having passed. */
    static void check(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x, MemorySegment y) {
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(y, "y");
        if (!supports(type)) {
            throw new UnsupportedOperationException("no matvec kernel for ggml type " + type);
        }
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + " x " + cols);
        }
        if (cols % type.blockSize() != 0) {
            throw new IllegalArgumentException(cols + " columns is not a whole number of " + type + " blocks of "
                    + type.blockSize());
        }
        long rowBytes = type.rowSize(cols);
        long need;
        try {
            need = Math.multiplyExact(rowBytes, (long) rows);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(rows + " x " + cols + " " + type + " overflows a long", e);
        }
        if (weights.byteSize() < need) {
            throw new IllegalArgumentException(rows + " x " + cols + " " + type + " needs " + need
                    + " bytes of weights but the segment holds " + weights.byteSize());
        }
        if (x.byteSize() < 4L * cols) {
            throw new IllegalArgumentException("x holds " + x.byteSize() + " bytes, fewer than " + cols + " floats");
        }
        if (y.byteSize() < 4L * rows) {
            throw new IllegalArgumentException("y holds " + y.byteSize() + " bytes, fewer than " + rows + " floats");
        }
        if (y.isReadOnly()) {
            throw new IllegalArgumentException("y is read-only");
        }
    }

    /** Rows {@code [r0, r1)} of a validated call. */
    static void rows(GgmlType type, MemorySegment w, int cols, MemorySegment x, MemorySegment y, int r0, int r1) {
        long rb = type.rowSize(cols);
        int nb = cols / type.blockSize();
        switch (type) {
            case F32 -> f32(w, rb, cols, x, y, r0, r1);
            case F16 -> f16(w, rb, cols, x, y, r0, r1);
            case BF16 -> bf16(w, rb, cols, x, y, r0, r1);
            case Q8_0 -> q8_0(w, rb, nb, x, y, r0, r1);
            case Q4_0 -> q4_0(w, rb, nb, x, y, r0, r1);
            case Q4_1 -> q4_1(w, rb, nb, x, y, r0, r1);
            case Q5_0 -> q5_0(w, rb, nb, x, y, r0, r1);
            case Q5_1 -> q5_1(w, rb, nb, x, y, r0, r1);
            case Q2_K -> q2_K(w, rb, nb, x, y, r0, r1);
            case Q3_K -> q3_K(w, rb, nb, x, y, r0, r1);
            case Q4_K -> q4_K(w, rb, nb, x, y, r0, r1);
            case Q5_K -> q5_K(w, rb, nb, x, y, r0, r1);
            case Q6_K -> q6_K(w, rb, nb, x, y, r0, r1);
            case MXFP4 -> mxfp4(w, rb, nb, x, y, r0, r1);
            default -> throw new UnsupportedOperationException("no matvec kernel for ggml type " + type);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    private static FloatVector xv(MemorySegment x, int i) {
        return FloatVector.fromMemorySegment(F, x, 4L * i, NATIVE);
    }

    private static float xs(MemorySegment x, int i) {
        return x.getAtIndex(F32_NATIVE, i);
    }

    private static void store(MemorySegment y, int r, float v) {
        y.setAtIndex(F32_NATIVE, r, v);
    }

    private static float f16(MemorySegment w, long off) {
        return Float.float16ToFloat(w.get(I16_LE, off));
    }

    private static int u8(MemorySegment w, long off) {
        return w.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    private static ByteVector bytes(MemorySegment w, long off) {
        return ByteVector.fromMemorySegment(B, w, off, LE);
    }

    /**
     * Shifts every byte right by {@code s} (0..7) through 32-bit lanes: x86 has no byte shifts, so a
     * byte-lane {@code LSHR} is emulated (slowly) where a dword shift is one instruction. Bits from
     * the neighbouring byte land in the top {@code s} bits of each byte: callers mask them off.
     */
    private static ByteVector shr(ByteVector v, int s) {
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHR, s).reinterpretAsBytes();
    }

    /** Shifts every byte left by {@code s} through 32-bit lanes; each byte must be below 2^(8 - s). */
    private static ByteVector shl(ByteVector v, int s) {
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHL, s).reinterpretAsBytes();
    }

    private static FloatVector toF(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    private static FloatVector bf16ToFloat(ShortVector h) {
        IntVector v = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float bf16Scalar(short s) {
        return Float.intBitsToFloat((s & 0xFFFF) << 16);
    }

    // ---------------------------------------------------------------------------------------------
    // plain types

    private static void f32(MemorySegment w, long rb, int cols, MemorySegment x, MemorySegment y, int r0, int r1) {
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            int i = 0;
            for (; i + L < bound; i += 2 * L) {
                a0 = FloatVector.fromMemorySegment(F, w, o + 4L * i, LE).fma(xv(x, i), a0);
                a1 = FloatVector.fromMemorySegment(F, w, o + 4L * (i + L), LE).fma(xv(x, i + L), a1);
            }
            for (; i < bound; i += L) {
                a0 = FloatVector.fromMemorySegment(F, w, o + 4L * i, LE).fma(xv(x, i), a0);
            }
            float s = sum(a0.add(a1));
            for (; i < cols; i++) {
                s = Math.fma(w.get(F32_LE, o + 4L * i), xs(x, i), s);
            }
            store(y, r, s);
        }
    }

    /** Halves converted per step of the F16 kernel (2 KB of floats: L1-resident). */
    private static final int F16_CHUNK = 512;

    /** Per-thread scratch of the F16 kernel ({@code F16_CHUNK} floats; no allocation per call). */
    private static final ThreadLocal<float[]> F16_SCRATCH = ThreadLocal.withInitial(() -> new float[F16_CHUNK]);

    private static void f16(MemorySegment w, long rb, int cols, MemorySegment x, MemorySegment y, int r0, int r1) {
        float[] f = F16_SCRATCH.get();
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            for (int c0 = 0; c0 < bound; c0 += F16_CHUNK) {
                int n = Math.min(F16_CHUNK, bound - c0);
                // a plain conversion loop that C2's SuperWord vectorizes (vcvtph2ps on x86 with
                // F16C: exact, subnormals, infinities and NaN included) into an L1-resident
                // scratch, then the float dot product from there (about 10% faster, measured, than
                // converting in vector registers with S2I, shifts, a 2^112 product and a blend)
                halvesToFloats(w, o + 2L * c0, f, n);
                int i = 0;
                for (; i + L < n; i += 2 * L) {
                    a0 = FloatVector.fromArray(F, f, i).fma(xv(x, c0 + i), a0);
                    a1 = FloatVector.fromArray(F, f, i + L).fma(xv(x, c0 + i + L), a1);
                }
                for (; i < n; i += L) {
                    a0 = FloatVector.fromArray(F, f, i).fma(xv(x, c0 + i), a0);
                }
            }
            float s = sum(a0.add(a1));
            for (int i = bound; i < cols; i++) {
                s = Math.fma(Float.float16ToFloat(w.get(I16_LE, o + 2L * i)), xs(x, i), s);
            }
            store(y, r, s);
        }
    }

    private static void halvesToFloats(MemorySegment w, long off, float[] f, int n) {
        for (int i = 0; i < n; i++) {
            f[i] = Float.float16ToFloat(w.get(I16_LE, off + 2L * i));
        }
    }

    private static void bf16(MemorySegment w, long rb, int cols, MemorySegment x, MemorySegment y, int r0, int r1) {
        int bound = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            int i = 0;
            for (; i + L < bound; i += 2 * L) {
                a0 = bf16ToFloat(ShortVector.fromMemorySegment(S, w, o + 2L * i, LE)).fma(xv(x, i), a0);
                a1 = bf16ToFloat(ShortVector.fromMemorySegment(S, w, o + 2L * (i + L), LE)).fma(xv(x, i + L), a1);
            }
            for (; i < bound; i += L) {
                a0 = bf16ToFloat(ShortVector.fromMemorySegment(S, w, o + 2L * i, LE)).fma(xv(x, i), a0);
            }
            float s = sum(a0.add(a1));
            for (; i < cols; i++) {
                s = Math.fma(bf16Scalar(w.get(I16_LE, o + 2L * i)), xs(x, i), s);
            }
            store(y, r, s);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 32-element blocks

    private static void q8_0(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 34, xo += 32) {
                FloatVector s = FloatVector.zero(F);
                for (int j = 0; j < 32; j += L) {
                    s = toF(bytes(w, o + 2 + j)).fma(xv(x, xo + j), s);
                }
                acc = s.fma(bc(f16(w, o)), acc);
            }
            store(y, r, sum(acc));
        }
    }

    /*
     * The 32-element kernels walk a block in L-element steps t = 0, L, .. 31 with one call site per
     * operation: element t + i is the low nibble of byte (t & 15) + i for t < 16, the high nibble
     * otherwise. Fewer call sites keep the method under C2's node budget for inlining (a Vector API
     * call that is not inlined boxes its vectors: the allocation test would catch it); re-reading
     * the 16 code bytes for the high nibbles hits L1.
     */
    private static void q4_0(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 18, xo += 32) {
                FloatVector s = FloatVector.zero(F);
                for (int t = 0; t < 32; t += L) {
                    ByteVector q = shr(bytes(w, o + 2 + (t & 15)), 4 * (t >>> 4)).and((byte) 0xF).sub((byte) 8);
                    s = toF(q).fma(xv(x, xo + t), s);
                }
                acc = s.fma(bc(f16(w, o)), acc);
            }
            store(y, r, sum(acc));
        }
    }

    private static void q4_1(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 20, xo += 32) {
                FloatVector d = bc(f16(w, o));
                FloatVector m = bc(f16(w, o + 2));
                for (int t = 0; t < 32; t += L) {
                    ByteVector q = shr(bytes(w, o + 4 + (t & 15)), 4 * (t >>> 4)).and((byte) 0xF);
                    acc = toF(q).fma(d, m).fma(xv(x, xo + t), acc);
                }
            }
            store(y, r, sum(acc));
        }
    }

    /**
     * The fifth bits of elements {@code j .. j + L - 1} of a Q5 block as bytes of 0 or 0x10, from
     * {@code bits} = {@code qh >>> j} (bit i for lane i), by table look-up of 8 lanes at a time.
     */
    private static ByteVector fifthBits(int bits) {
        ByteVector lo8 = ByteVector.fromMemorySegment(ByteVector.SPECIES_64, SPREAD_0X10, 8L * (bits & 0xFF), LE);
        if (L == 8) {
            return lo8;
        }
        ByteVector hi8 = ByteVector.fromMemorySegment(ByteVector.SPECIES_64, SPREAD_0X10, 8L * ((bits >>> 8) & 0xFF), LE);
        return lo8.reinterpretShape(B, 0).reinterpretAsBytes().or(hi8.reinterpretShape(B, -1).reinterpretAsBytes());
    }

    private static void q5_0(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 22, xo += 32) {
                int qh = w.get(I32_LE, o + 2);
                FloatVector s = FloatVector.zero(F);
                for (int t = 0; t < 32; t += L) {
                    ByteVector q = shr(bytes(w, o + 6 + (t & 15)), 4 * (t >>> 4)).and((byte) 0xF)
                            .or(fifthBits(qh >>> t)).sub((byte) 16);
                    s = toF(q).fma(xv(x, xo + t), s);
                }
                acc = s.fma(bc(f16(w, o)), acc);
            }
            store(y, r, sum(acc));
        }
    }

    private static void q5_1(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 24, xo += 32) {
                FloatVector d = bc(f16(w, o));
                FloatVector m = bc(f16(w, o + 2));
                int qh = w.get(I32_LE, o + 4);
                for (int t = 0; t < 32; t += L) {
                    ByteVector q = shr(bytes(w, o + 8 + (t & 15)), 4 * (t >>> 4)).and((byte) 0xF)
                            .or(fifthBits(qh >>> t));
                    acc = toF(q).fma(d, m).fma(xv(x, xo + t), acc);
                }
            }
            store(y, r, sum(acc));
        }
    }

    private static void mxfp4(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0, xo = 0; b < nb; b++, o += 17, xo += 32) {
                FloatVector s = FloatVector.zero(F);
                for (int half = 0; half < 2; half++) {
                    // 16 codes (low nibbles, then high nibbles) to doubled E2M1 values by a byte shuffle
                    ByteVector v = shr(ByteVector.fromMemorySegment(B16, w, o + 1, LE), 4 * half).and((byte) 0xF)
                            .selectFrom(E2M1_TIMES_2);
                    for (int p = 0; p < 16 / L; p++) {
                        s = ((FloatVector) v.convertShape(VectorOperators.B2F, F, p)).fma(xv(x, xo + 16 * half + p * L), s);
                    }
                }
                acc = s.fma(bc(E8M0_HALF[u8(w, o)]), acc);
            }
            store(y, r, sum(acc));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 256-element K-quant super-blocks

    /*
     * Each K-quant super-block is one method that returns its partial dot product as a float: the
     * row loop then carries only a scalar, so even where C2 declines to inline a block method (its
     * node-count inlining cutoff is reached quickly by Vector API code) no vector crosses a call
     * boundary and nothing is boxed. The per-block lane reduction costs a few operations per 256
     * elements.
     */

    private static void q2_K(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                s += q2kBlock(w, o + 84L * b, x, 256 * b);
            }
            store(y, r, s);
        }
    }

    private static float q2kBlock(MemorySegment w, long o, MemorySegment x, int xo) {
        float d = f16(w, o + 80);
        float dmin = f16(w, o + 82);
        long sLo = w.get(I64_LE, o);     // scale bytes 0..7 (half 0)
        long sHi = w.get(I64_LE, o + 8); // scale bytes 8..15 (half 1)
        // two accumulators, rotated every step, halve the FMA latency chain
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int g = 0; g < 16; g++) {
            // group g = 8h + 2k + part: elements 128h + 32k + 16·part + (0..15), bits 2k of qs[32h + l]
            int h = g >>> 3;
            int k = (g >>> 1) & 3;
            int l0 = 16 * (g & 1);
            int sc = (int) ((h == 0 ? sLo : sHi) >>> (8 * (g & 7))) & 0xFF;
            FloatVector dl = bc(d * (sc & 0xF));
            FloatVector ml = bc(-(dmin * (sc >>> 4)));
            for (int l = l0; l < l0 + 16; l += L) {
                FloatVector v = toF(shr(bytes(w, o + 16 + 32 * h + l), 2 * k).and((byte) 3));
                FloatVector next = v.fma(dl, ml).fma(xv(x, xo + 128 * h + 32 * k + l), acc0);
                acc0 = acc1;
                acc1 = next;
            }
        }
        return sum(acc0.add(acc1));
    }


    private static void q3_K(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                s += q3kBlock(w, o + 110L * b, x, 256 * b);
            }
            store(y, r, s);
        }
    }

    private static float q3kBlock(MemorySegment w, long o, MemorySegment x, int xo) {
        float d = f16(w, o + 108);
        long sLo = w.get(I64_LE, o + 96);  // packed scale bytes 0..7: low four bits
        int sHi = w.get(I32_LE, o + 104);  // packed scale bytes 8..11: high two bits
        // two accumulators, rotated every step, halve the FMA latency chain
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int g = 0; g < 16; g++) {
            // group g = 8h + 2k + part: elements 128h + 32k + 16·part + (0..15)
            int h = g >>> 3;
            int k = (g >>> 1) & 3;
            int l0 = 16 * (g & 1);
            int low4 = (int) (sLo >>> (8 * (g & 7) + 4 * (g >>> 3))) & 0xF;
            int high2 = (sHi >>> (8 * (g & 3) + 2 * (g >>> 2))) & 3;
            FloatVector dl = bc(d * ((low4 | high2 << 4) - 32));
            for (int l = l0; l < l0 + 16; l += L) {
                ByteVector low = shr(bytes(w, o + 32 + 32 * h + l), 2 * k).and((byte) 3);
                ByteVector hb = shl(shr(bytes(w, o + l), 4 * h + k).and((byte) 1), 2);
                FloatVector next = toF(low.or(hb).sub((byte) 4)).mul(dl).fma(xv(x, xo + 128 * h + 32 * k + l), acc0);
                acc0 = acc1;
                acc1 = next;
            }
        }
        return sum(acc0.add(acc1));
    }



    private static void q4_K(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                s += q4kBlock(w, o + 144L * b, x, 256 * b);
            }
            store(y, r, s);
        }
    }

    private static void q5_K(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                s += q5kBlock(w, o + 176L * b, x, 256 * b);
            }
            store(y, r, s);
        }
    }

    private static float q4kBlock(MemorySegment w, long o, MemorySegment x, int xo) {
        float d = f16(w, o);
        float dmin = f16(w, o + 2);
        long s0 = w.get(I64_LE, o + 4);  // packed scale bytes 0..7
        int s1 = w.get(I32_LE, o + 12);  // packed scale bytes 8..11
        // two accumulators, rotated every step, halve the FMA latency chain
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int g = 0; g < 8; g++) {
            // 6-bit scale and min of group g (see QUANT_FORMATS.md), decoded without calls
            int sc;
            int m;
            if (g < 4) {
                sc = (int) (s0 >>> (8 * g)) & 63;
                m = (int) (s0 >>> (8 * g + 32)) & 63;
            } else {
                int b = (s1 >>> (8 * (g - 4))) & 0xFF;
                sc = (b & 0xF) | ((int) (s0 >>> (8 * (g - 4) + 6)) & 3) << 4;
                m = (b >>> 4) | ((int) (s0 >>> (8 * g + 6)) & 3) << 4;
            }
            FloatVector dl = bc(d * sc);
            FloatVector ml = bc(-(dmin * m));
            for (int l = 0; l < 32; l += L) {
                // low nibbles (even g) or high nibbles (odd g) of qs[32 (g / 2) ..]
                ByteVector q = shr(bytes(w, o + 16 + 32 * (g >>> 1) + l), 4 * (g & 1)).and((byte) 0xF);
                FloatVector next = toF(q).fma(dl, ml).fma(xv(x, xo + 32 * g + l), acc0);
                acc0 = acc1;
                acc1 = next;
            }
        }
        return sum(acc0.add(acc1));
    }

    private static float q5kBlock(MemorySegment w, long o, MemorySegment x, int xo) {
        float d = f16(w, o);
        float dmin = f16(w, o + 2);
        long s0 = w.get(I64_LE, o + 4);  // packed scale bytes 0..7
        int s1 = w.get(I32_LE, o + 12);  // packed scale bytes 8..11
        // two accumulators, rotated every step, halve the FMA latency chain
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int g = 0; g < 8; g++) {
            // 6-bit scale and min of group g (see QUANT_FORMATS.md), decoded without calls
            int sc;
            int m;
            if (g < 4) {
                sc = (int) (s0 >>> (8 * g)) & 63;
                m = (int) (s0 >>> (8 * g + 32)) & 63;
            } else {
                int b = (s1 >>> (8 * (g - 4))) & 0xFF;
                sc = (b & 0xF) | ((int) (s0 >>> (8 * (g - 4) + 6)) & 3) << 4;
                m = (b >>> 4) | ((int) (s0 >>> (8 * g + 6)) & 3) << 4;
            }
            FloatVector dl = bc(d * sc);
            FloatVector ml = bc(-(dmin * m));
            for (int l = 0; l < 32; l += L) {
                // as Q4_K (nibbles from byte 48), plus the fifth bit: bit g of qh[l]
                ByteVector q = shr(bytes(w, o + 48 + 32 * (g >>> 1) + l), 4 * (g & 1)).and((byte) 0xF)
                        .or(shl(shr(bytes(w, o + 16 + l), g).and((byte) 1), 4));
                FloatVector next = toF(q).fma(dl, ml).fma(xv(x, xo + 32 * g + l), acc0);
                acc0 = acc1;
                acc1 = next;
            }
        }
        return sum(acc0.add(acc1));
    }

    private static void q6_K(MemorySegment w, long rb, int nb, MemorySegment x, MemorySegment y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            float s = 0;
            for (int b = 0; b < nb; b++) {
                s += q6kBlock(w, o + 210L * b, x, 256 * b);
            }
            store(y, r, s);
        }
    }

    private static float q6kBlock(MemorySegment w, long o, MemorySegment x, int xo) {
        float d = f16(w, o + 208);
        long sLo = w.get(I64_LE, o + 192); // signed scales 0..7
        long sHi = w.get(I64_LE, o + 200); // signed scales 8..15
        // two accumulators, rotated every step, halve the FMA latency chain
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int g = 0; g < 16; g++) {
            // group g = 8h + 2k + part: elements 128h + 32k + 16·part + (0..15); low four bits from
            // ql[64h + 32(k & 1) + l] (low nibble for k < 2, high nibble otherwise), top two bits
            // from bits 2k.. of qh[32h + l]
            int h = g >>> 3;
            int k = (g >>> 1) & 3;
            int l0 = 16 * (g & 1);
            FloatVector dl = bc(d * (byte) ((g < 8 ? sLo : sHi) >>> (8 * (g & 7))));
            for (int l = l0; l < l0 + 16; l += L) {
                ByteVector lo = shr(bytes(w, o + 64 * h + 32 * (k & 1) + l), 4 * (k >>> 1))
                        .and((byte) 0xF);
                ByteVector hi = shl(shr(bytes(w, o + 128 + 32 * h + l), 2 * k).and((byte) 3), 4);
                FloatVector next = toF(lo.or(hi).sub((byte) 32)).mul(dl).fma(xv(x, xo + 128 * h + 32 * k + l), acc0);
                acc0 = acc1;
                acc1 = next;
            }
        }
        return sum(acc0.add(acc1));
    }

    /**
     * The sum of the lanes. {@code reduceLanes(ADD)} is a single intrinsic (few IR nodes, which keeps
     * the kernels under C2's inlining node budget); its order of additions is unspecified, so the
     * interpreter and compiled code may differ in the last bits (within the documented error bound).
     */
    private static float sum(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }
}
