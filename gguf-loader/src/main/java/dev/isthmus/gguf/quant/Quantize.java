package dev.isthmus.gguf.quant;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Reference quantization of {@code float} data into llama.cpp's exact block layouts.
 *
 * <p>Supported targets: F32, F16, BF16 (round to nearest, ties to even), Q8_0, Q4_0, Q4_K, Q6_K
 * and MXFP4. A block written here dequantizes identically in llama.cpp (same bytes, same meaning;
 * see {@code docs/QUANT_FORMATS.md}). The search heuristics are Isthmus's own, chosen to give a
 * squared error no larger than llama.cpp's reference quantizers ({@code quantize_row_*_ref}):
 *
 * <ul>
 *   <li><b>Q8_0</b>: {@code d = absmax / 127} stored as f16; each code is the nearest integer to
 *       {@code x / d} using the <em>stored</em> (rounded) {@code d}, clamped to -128..127.
 *   <li><b>Q4_0</b>: a candidate search over block scales: the value with the largest magnitude is
 *       mapped to levels -8, -7.9, ..., -6.5 or +7, +6.9, ..., +6 (llama.cpp always uses -8), each
 *       candidate refined once by least squares; every candidate is judged by the exact error after
 *       f16 rounding of {@code d} and nearest-code rounding, and the best is kept.
 *   <li><b>Q4_K</b>: each 32-element group gets its own affine fit {@code x ≈ s·q − m}
 *       ({@code q} in 0..15, {@code m ≥ 0}) from a few candidates: the range {@code [min(x,0), max x]}
 *       spread over 14.5..18 steps, each candidate's codes solved by least squares for
 *       {@code (s, m)} with the error in closed form from running sums, the best refined once; then
 *       the eight scales and mins are quantized to 6 bits against f16 super-scales
 *       {@code d = max s / 63}, {@code dmin = max m / 63}, each group picking among its rounded
 *       6-bit pair and the eight neighbours (±1) by the closed-form error of its fitted codes, and
 *       the codes are finally re-chosen against the stored values.
 *   <li><b>Q6_K</b>: each 16-element group gets a signed scale from four candidates (largest
 *       magnitude mapped to -32, -31, +31 or +30, each candidate's codes given their least-squares
 *       scale, judged in closed form; the best refined once); the sixteen scales are quantized to
 *       signed 8 bits against {@code d = max|s| / 127} (f16), each group trying its rounded 8-bit
 *       scale and the neighbour towards the unrounded one by the exact error, and the codes are
 *       re-chosen against the stored scale.
 *   <li><b>MXFP4</b>: the shared exponent {@code e} is tried at llama.cpp's choice
 *       {@code floor(log2(absmax)) - 2 + 127} and one either side; each element takes the nearest
 *       E2M1 value; the exponent with the smallest error wins.
 * </ul>
 *
 * <p>Block-quantized targets reject non-finite input (NaN, ±Inf) with an
 * {@link IllegalArgumentException}; F16/BF16/F32 convert them. K-quant super-scales are f16, so
 * magnitudes beyond roughly {@code 65504 * 63} (Q4_K) or {@code 65504 * 127 * 32} (Q6_K) overflow,
 * as they do in llama.cpp.
 */
public final class Quantize {

    private static final int QK = 32;
    private static final int QK_K = 256;
    private static final int[] E2M1_TIMES_2 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    private Quantize() {
    }

    /** True when {@code type} can be produced by this class. */
    public static boolean supports(GgmlType type) {
        return switch (Objects.requireNonNull(type, "type")) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, MXFP4 -> true;
            default -> false;
        };
    }

    /**
     * Bytes that {@code n} elements take when quantized to {@code type}.
     *
     * @throws UnsupportedOperationException if {@code type} cannot be produced here
     * @throws IllegalArgumentException if {@code n} is negative or not a whole number of blocks
     */
    public static long bytesFor(GgmlType type, long n) {
        requireSupported(type);
        long bytes = type.byteSize(n);
        if (bytes < 0) {
            throw new IllegalArgumentException(n + " elements is not a whole number of " + type + " blocks of "
                    + type.blockSize());
        }
        return bytes;
    }

    /**
     * Quantizes {@code src[srcOffset .. srcOffset + n)} to {@code type} and returns the bytes.
     *
     * @throws UnsupportedOperationException if {@code type} cannot be produced here
     * @throws IllegalArgumentException if {@code n} is not a whole number of blocks, the source range
     *     is out of bounds, the output would not fit an array, or a block type meets a non-finite value
     */
    public static byte[] quantize(GgmlType type, float[] src, int srcOffset, int n) {
        long bytes = checkSource(type, src, srcOffset, n);
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(bytes + " bytes do not fit in a Java array");
        }
        byte[] out = new byte[(int) bytes];
        quantize(type, src, srcOffset, n, out, 0);
        return out;
    }

    /**
     * Quantizes {@code src[srcOffset .. srcOffset + n)} to {@code type} into
     * {@code dst[dstOffset ..]}, returning the number of bytes written ({@link #bytesFor}).
     *
     * @throws UnsupportedOperationException if {@code type} cannot be produced here
     * @throws IllegalArgumentException if a range is out of bounds, {@code n} is not a whole number
     *     of blocks, or a block type meets a non-finite value
     */
    public static int quantize(GgmlType type, float[] src, int srcOffset, int n, byte[] dst, int dstOffset) {
        Objects.requireNonNull(dst, "dst");
        long bytes = checkSource(type, src, srcOffset, n);
        if (dstOffset < 0 || dstOffset > dst.length || bytes > dst.length - dstOffset) {
            throw new IllegalArgumentException("destination array of length " + dst.length + " cannot hold "
                    + bytes + " bytes at offset " + dstOffset);
        }
        checkFinite(type, src, srcOffset, n);
        int bs = type.blockSize();
        int ts = type.typeSize();
        for (int i = 0, o = dstOffset; i < n; i += bs, o += ts) {
            encodeBlock(type, src, srcOffset + i, dst, o);
        }
        return (int) bytes;
    }

    /**
     * Quantizes {@code src[srcOffset .. srcOffset + n)} to {@code type} into {@code dst} starting at
     * byte 0, little-endian, returning the number of bytes written ({@link #bytesFor}).
     *
     * @throws UnsupportedOperationException if {@code type} cannot be produced here
     * @throws IllegalArgumentException if a range is out of bounds, {@code dst} is read-only or too
     *     small, {@code n} is not a whole number of blocks, or a block type meets a non-finite value
     */
    public static long quantize(GgmlType type, float[] src, int srcOffset, int n, MemorySegment dst) {
        Objects.requireNonNull(dst, "dst");
        long bytes = checkSource(type, src, srcOffset, n);
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("destination segment is read-only");
        }
        if (dst.byteSize() < bytes) {
            throw new IllegalArgumentException("destination segment of " + dst.byteSize() + " bytes cannot hold "
                    + bytes + " bytes");
        }
        checkFinite(type, src, srcOffset, n);
        int bs = type.blockSize();
        int ts = type.typeSize();
        // Encode a run of blocks into a small buffer, then copy it out.
        int blocksPerChunk = Math.max(1, 4096 / ts);
        byte[] buf = new byte[blocksPerChunk * ts];
        long o = 0;
        for (int i = 0; i < n; ) {
            int blocks = Math.min(blocksPerChunk, (n - i) / bs);
            for (int k = 0; k < blocks; k++) {
                encodeBlock(type, src, srcOffset + i + k * bs, buf, k * ts);
            }
            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_BYTE, o, blocks * ts);
            o += (long) blocks * ts;
            i += blocks * bs;
        }
        return bytes;
    }

    /** IEEE binary16 bits of {@code f}, rounded to nearest with ties to even (subnormals kept, NaN stays NaN). */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /**
     * bfloat16 bits of {@code f}: the upper 16 bits of the binary32, rounded to nearest with ties to
     * even; subnormals are kept (not flushed), overflow rounds to infinity, and a NaN becomes a quiet
     * NaN with its sign and top payload bits (as ggml's {@code ggml_compute_fp32_to_bf16}).
     */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    // ---------------------------------------------------------------------------------------------

    private static void requireSupported(GgmlType type) {
        if (!supports(type)) {
            throw new UnsupportedOperationException("no reference quantizer for ggml type " + type);
        }
    }

    private static long checkSource(GgmlType type, float[] src, int srcOffset, int n) {
        Objects.requireNonNull(src, "src");
        long bytes = bytesFor(type, n);
        if (srcOffset < 0 || srcOffset > src.length || n > src.length - srcOffset) {
            throw new IllegalArgumentException("source range [" + srcOffset + ", " + ((long) srcOffset + n)
                    + ") is outside an array of length " + src.length);
        }
        return bytes;
    }

    private static void checkFinite(GgmlType type, float[] src, int srcOffset, int n) {
        if (!type.isQuantized()) {
            return;
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(src[srcOffset + i])) {
                throw new IllegalArgumentException("cannot quantize non-finite value " + src[srcOffset + i]
                        + " at element " + i + " to " + type);
            }
        }
    }

    private static void encodeBlock(GgmlType type, float[] x, int xo, byte[] out, int o) {
        switch (type) {
            case F32 -> putI32(out, o, Float.floatToRawIntBits(x[xo]));
            case F16 -> putI16(out, o, floatToF16(x[xo]));
            case BF16 -> putI16(out, o, floatToBf16(x[xo]));
            case Q8_0 -> q8_0(x, xo, out, o);
            case Q4_0 -> q4_0(x, xo, out, o);
            case Q4_K -> q4_K(x, xo, out, o);
            case Q6_K -> q6_K(x, xo, out, o);
            case MXFP4 -> mxfp4(x, xo, out, o);
            default -> throw new UnsupportedOperationException("no reference quantizer for ggml type " + type);
        }
    }

    private static void putI16(byte[] b, int i, short v) {
        b[i] = (byte) v;
        b[i + 1] = (byte) (v >>> 8);
    }

    private static void putI32(byte[] b, int i, int v) {
        b[i] = (byte) v;
        b[i + 1] = (byte) (v >>> 8);
        b[i + 2] = (byte) (v >>> 16);
        b[i + 3] = (byte) (v >>> 24);
    }

    /** Writes {@code v} as f16 and returns the value the reader will see. */
    private static float putF16(byte[] b, int i, float v) {
        short h = Float.floatToFloat16(v);
        putI16(b, i, h);
        return Float.float16ToFloat(h);
    }

    /** Rounds to the nearest f16 value. */
    private static float roundF16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /** Nearest integer, ties away from zero (as C's roundf), clamped to [lo, hi]. */
    private static int nearest(float v, int lo, int hi) {
        int q = (int) Math.signum(v) * (int) Math.floor(Math.abs(v) + 0.5f);
        return Math.max(lo, Math.min(hi, q));
    }

    // ---------------------------------------------------------------------------------------------
    // Q8_0

    private static void q8_0(float[] x, int xo, byte[] out, int o) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(x[xo + j]));
        }
        float d = putF16(out, o, amax / 127f);
        for (int j = 0; j < QK; j++) {
            out[o + 2 + j] = (byte) (d == 0 ? 0 : nearest(x[xo + j] / d, -128, 127));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Q4_0: value = (q - 8) * d, q in 0..15

    private static void q4_0(float[] x, int xo, byte[] out, int o) {
        float max = 0;
        for (int j = 0; j < QK; j++) {
            if (Math.abs(x[xo + j]) > Math.abs(max)) {
                max = x[xo + j];
            }
        }
        float bestD = 0;
        double bestErr = q4_0Error(x, xo, 0);
        if (max != 0) {
            // Map the extreme value to level -r (r = 8 down to 6.5) or +r (r = 7 down to 6).
            for (int k = 0; k <= 25; k++) {
                float r = k <= 15 ? -(8f - 0.1f * k) : 7f - 0.1f * (k - 16);
                float d = roundF16(max / r);
                for (int pass = 0; pass < 2; pass++) {
                    double err = q4_0Error(x, xo, d);
                    if (err < bestErr) {
                        bestErr = err;
                        bestD = d;
                    }
                    // Least-squares refit of d for these codes.
                    double sxq = 0;
                    double sqq = 0;
                    for (int j = 0; j < QK; j++) {
                        int q = nearest(x[xo + j] / d, -8, 7);
                        sxq += (double) x[xo + j] * q;
                        sqq += (double) q * q;
                    }
                    if (sqq == 0) {
                        break;
                    }
                    d = roundF16((float) (sxq / sqq));
                    if (d == 0) {
                        break;
                    }
                }
            }
        }
        float d = putF16(out, o, bestD);
        for (int j = 0; j < 16; j++) {
            int lo = d == 0 ? 8 : nearest(x[xo + j] / d, -8, 7) + 8;
            int hi = d == 0 ? 8 : nearest(x[xo + j + 16] / d, -8, 7) + 8;
            out[o + 2 + j] = (byte) (lo | hi << 4);
        }
    }

    private static double q4_0Error(float[] x, int xo, float d) {
        double err = 0;
        for (int j = 0; j < QK; j++) {
            float v = d == 0 ? 0 : (nearest(x[xo + j] / d, -8, 7)) * d;
            double e = x[xo + j] - v;
            err += e * e;
        }
        return err;
    }

    // ---------------------------------------------------------------------------------------------
    // Q4_K: value = (d * sc) * q - (dmin * m), q in 0..15, sc and m 6-bit, eight groups of 32

    /**
     * Nearest integer of {@code v} (ties upward) clamped to [lo, hi], for {@code lo <= 0}: below
     * {@code lo − 0.5} the truncating cast lands at or below {@code lo} (saturating for huge values),
     * so the clamp is exact. Cheaper than {@code Math.round}; NaN gives {@code lo}.
     */
    private static int clampRound(float v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, (int) (v + (0.5f - lo)) + lo));
    }

    /** 1.5 · 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer. */
    private static final float ROUNDER = 0x1.8p23f;

    /**
     * {@code v} clamped to [lo, hi] and rounded to the nearest integer (ties to even), as a float,
     * without leaving the float registers (int conversions cost more than the arithmetic around
     * them in the search loops); NaN gives {@code lo}. {@code lo, hi} must be integers of magnitude
     * below 2^22.
     */
    private static float roundClampF(float v, float lo, float hi) {
        float t = v > lo ? v : lo; // false for NaN
        t = t < hi ? t : hi;
        return (t + ROUNDER) - ROUNDER;
    }

    private static void q4_K(float[] x, int xo, byte[] out, int o) {
        // per group: s, m, then the sums Σq, Σq², Σxq of the fitted codes and Σx, Σx² of the data
        double[] fit = new double[8 * AFFINE_FIT];
        for (int g = 0; g < 8; g++) {
            fitAffine(x, xo + 32 * g, fit, AFFINE_FIT * g);
        }
        float maxScale = 0;
        float maxMin = 0;
        for (int g = 0; g < 8; g++) {
            maxScale = Math.max(maxScale, (float) fit[AFFINE_FIT * g]);
            maxMin = Math.max(maxMin, (float) fit[AFFINE_FIT * g + 1]);
        }
        float d = putF16(out, o, maxScale / 63f);
        float dmin = putF16(out, o + 2, maxMin / 63f);
        int[] ls = new int[8];
        int[] lm = new int[8];
        for (int g = 0; g < 8; g++) {
            int f = AFFINE_FIT * g;
            int s0 = d == 0 ? 0 : clampRound((float) fit[f] / d, 0, 63);
            int m0 = dmin == 0 ? 0 : clampRound((float) fit[f + 1] / dmin, 0, 63);
            // The rounded 6-bit pair and its eight neighbours, judged in closed form with the fitted
            // codes held fixed (the final codes are re-chosen below, which can only lower the error).
            double best = Double.MAX_VALUE;
            for (int s = Math.max(0, s0 - 1); s <= Math.min(63, s0 + 1); s++) {
                for (int m = Math.max(0, m0 - 1); m <= Math.min(63, m0 + 1); m++) {
                    double err = affineSumError((double) d * s, (double) dmin * m, fit, f);
                    if (err < best) {
                        best = err;
                        ls[g] = s;
                        lm[g] = m;
                    }
                }
            }
        }
        // Pack: bytes 0..3 = sc0..3 (low 6 bits) + top 2 bits of sc4..7; bytes 4..7 = m0..3 + top 2
        // bits of m4..7; bytes 8..11 = low nibble sc4..7, high nibble m4..7.
        int sb = o + 4;
        for (int g = 0; g < 4; g++) {
            out[sb + g] = (byte) (ls[g] | (ls[g + 4] >>> 4) << 6);
            out[sb + 4 + g] = (byte) (lm[g] | (lm[g + 4] >>> 4) << 6);
            out[sb + 8 + g] = (byte) ((ls[g + 4] & 0xF) | (lm[g + 4] & 0xF) << 4);
        }
        for (int c = 0; c < 4; c++) {
            float d1 = d * ls[2 * c];
            float m1 = dmin * lm[2 * c];
            float d2 = d * ls[2 * c + 1];
            float m2 = dmin * lm[2 * c + 1];
            float i1 = d1 == 0 ? 0 : 1 / d1;
            float i2 = d2 == 0 ? 0 : 1 / d2;
            for (int l = 0; l < 32; l++) {
                int q1 = clampRound((x[xo + 64 * c + l] + m1) * i1, 0, 15);
                int q2 = clampRound((x[xo + 64 * c + 32 + l] + m2) * i2, 0, 15);
                out[o + 16 + 32 * c + l] = (byte) (q1 | q2 << 4);
            }
        }
    }

    /** Doubles per group in {@link #fitAffine}'s output: s, m, Σq, Σq², Σxq, Σx, Σx². */
    private static final int AFFINE_FIT = 7;

    /** {@code Σ (x − (s·q − m))²} over 32 values from the sums stored at {@code fit[f + 2 ..]}. */
    private static double affineSumError(double s, double m, double[] fit, int f) {
        double sq = fit[f + 2];
        double sqq = fit[f + 3];
        double sxq = fit[f + 4];
        double sx = fit[f + 5];
        double sxx = fit[f + 6];
        return sxx + s * s * sqq + 32 * m * m - 2 * s * sxq + 2 * m * sx - 2 * s * m * sq;
    }

    /** Offsets (in steps) added to 15 when spreading a group's range over the codes, one per candidate (an even count). */
    private static final float[] Q4K_STEPS = {-0.5f, 0f, 0.5f, 1f, 2f, 3f};

    /**
     * Fits {@code x ≈ s·q − m} (q in 0..15, {@code s > 0}, {@code m ≥ 0}) over the 32 values at
     * {@code x[xo..]}; stores {@code s, m} and the sums of the chosen codes at {@code fit[f ..]} (see
     * {@link #AFFINE_FIT}).
     *
     * <p>Few candidates, each in closed form: the range {@code [min(x, 0), max x]} is spread over
     * {@code 15 + δ} steps for each δ in {@link #Q4K_STEPS}; the codes that candidate implies get their
     * least-squares {@code (s, m)} and the exact squared error of those codes at that {@code (s, m)}
     * from five running sums (no second pass). Candidates are evaluated two at a time (independent
     * dependency chains). The best is refined once (codes re-chosen against its {@code (s, m)}).
     */
    private static void fitAffine(float[] x, int xo, double[] fit, int f) {
        float lo = 0;
        float hi = -Float.MAX_VALUE;
        float sxx = 0;
        float sx = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
            sxx = Math.fma(v, v, sxx);
            sx += v;
        }
        fit[f + 5] = sx;
        fit[f + 6] = sxx;
        for (int i = 0; i < 5; i++) {
            fit[f + i] = 0; // s = m = 0, no codes
        }
        if (!(hi > lo)) {
            if (lo < 0) {
                fit[f + 1] = -lo; // every value equals lo <= 0: s = 0, m = -lo is exact
            }
            return;
        }
        double[] best = {sxx, 0, 0, 0, 0, 0}; // error, s, m, Σq, Σq², Σxq (s = m = 0 to start)
        for (int k = 0; k <= Q4K_STEPS.length; k += 2) {
            boolean refine = k == Q4K_STEPS.length;
            if (refine && best[1] == 0) {
                break;
            }
            float inv1 = refine ? (float) (1 / best[1]) : (15 + Q4K_STEPS[k]) / (hi - lo);
            float inv2 = refine ? inv1 : (15 + Q4K_STEPS[k + 1]) / (hi - lo);
            float off = refine ? (float) best[2] : -lo;
            float sq1 = 0;
            float sqq1 = 0;
            float sxq1 = 0;
            float sq2 = 0;
            float sqq2 = 0;
            float sxq2 = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[xo + j];
                float q1 = roundClampF((v + off) * inv1, 0, 15);
                float q2 = roundClampF((v + off) * inv2, 0, 15);
                sq1 += q1;
                sq2 += q2;
                sqq1 = Math.fma(q1, q1, sqq1); // sums of small integers: exact in float
                sqq2 = Math.fma(q2, q2, sqq2);
                sxq1 = Math.fma(v, q1, sxq1);
                sxq2 = Math.fma(v, q2, sxq2);
            }
            affineCandidate(sq1, sqq1, sxq1, sx, sxx, best);
            affineCandidate(sq2, sqq2, sxq2, sx, sxx, best);
        }
        System.arraycopy(best, 1, fit, f, 5);
    }

    /**
     * The least-squares {@code (s, m)} for 32 codes with sums {@code Σq, Σq², Σxq} (and the data's
     * {@code Σx, Σx²}) and its squared error; replaces {@code best = {error, s, m, Σq, Σq², Σxq}} if
     * better.
     */
    private static void affineCandidate(float sq, float sqq, float sxq, float sx, float sxx, double[] best) {
        double det = 32.0 * sqq - (double) sq * sq;
        double s;
        double b;
        if (det > 0) {
            s = (32.0 * sxq - (double) sq * sx) / det;
            b = (sx - s * sq) / 32.0; // x ≈ s·q + b, b = −m
        } else if (sqq > 0) {
            s = 0; // every code is the same (a constant group): fit s alone below
            b = 1;
        } else {
            return;
        }
        if (b > 0) {
            // the best offset is positive, which the format cannot express: fit s alone
            b = 0;
            s = sxq / (double) sqq;
        }
        if (!(s > 0)) {
            return;
        }
        // Σ (s q + b − x)² from the sums
        double err = s * s * sqq + 32.0 * b * b + sxx + 2 * s * b * sq - 2 * s * sxq - 2 * b * sx;
        if (err < best[0]) {
            best[0] = err;
            best[1] = s;
            best[2] = -b;
            best[3] = sq;
            best[4] = sqq;
            best[5] = sxq;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Q6_K: value = (d * sc) * (q - 32), q - 32 in -32..31, sc signed 8-bit, sixteen groups of 16

    private static void q6_K(float[] x, int xo, byte[] out, int o) {
        float[] scale = new float[16];
        float maxAbs = 0;
        for (int g = 0; g < 16; g++) {
            scale[g] = fitSymmetric(x, xo + 16 * g);
            maxAbs = Math.max(maxAbs, Math.abs(scale[g]));
        }
        float d = putF16(out, o + 208, maxAbs / 127f);
        int[] sc = new int[16];
        for (int g = 0; g < 16; g++) {
            float r = d == 0 ? 0 : scale[g] / d;
            int s0 = clampRound(r, -128, 127);
            sc[g] = s0;
            // the rounded 8-bit scale, or its neighbour on the side of the unrounded one
            int s1 = r > s0 ? s0 + 1 : s0 - 1;
            if (d != 0 && s1 >= -128 && s1 <= 127
                    && symmetricError(x, xo + 16 * g, d * s1) < symmetricError(x, xo + 16 * g, d * s0)) {
                sc[g] = s1;
            }
            out[o + 192 + g] = (byte) sc[g];
        }
        int[] q = new int[QK_K];
        for (int g = 0; g < 16; g++) {
            float s = d * sc[g];
            float inv = s == 0 ? 0 : 1 / s;
            for (int j = 16 * g; j < 16 * g + 16; j++) {
                q[j] = clampRound(x[xo + j] * inv, -32, 31) + 32;
            }
        }
        // Pack: half h covers elements 128h..128h+127; for l < 32 the four elements l, l+32, l+64,
        // l+96 share ql[64h + l] / ql[64h + l + 32] nibbles and the four 2-bit fields of qh[32h + l].
        for (int h = 0; h < 2; h++) {
            int e = 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = q[e + l];
                int q2 = q[e + l + 32];
                int q3 = q[e + l + 64];
                int q4 = q[e + l + 96];
                out[o + 64 * h + l] = (byte) ((q1 & 0xF) | (q3 & 0xF) << 4);
                out[o + 64 * h + l + 32] = (byte) ((q2 & 0xF) | (q4 & 0xF) << 4);
                out[o + 128 + 32 * h + l] = (byte) ((q1 >>> 4) | (q2 >>> 4) << 2 | (q3 >>> 4) << 4 | (q4 >>> 4) << 6);
            }
        }
    }

    /** Squared error of 16 values against {@code s·q} with each {@code q} in -32..31 chosen nearest. */
    private static double symmetricError(float[] x, int xo, float s) {
        float inv = s == 0 ? 0 : 1 / s;
        float err0 = 0;
        float err1 = 0;
        for (int j = 0; j < 16; j += 2) {
            float e0 = x[xo + j] - s * roundClampF(x[xo + j] * inv, -32, 31);
            float e1 = x[xo + j + 1] - s * roundClampF(x[xo + j + 1] * inv, -32, 31);
            err0 = Math.fma(e0, e0, err0);
            err1 = Math.fma(e1, e1, err1);
        }
        return err0 + err1;
    }

    /** Levels the group's signed extreme is mapped to, one per candidate scale (an even count). */
    private static final float[] Q6K_LEVELS = {-32f, -31f, 31f, 30f};

    /**
     * A signed scale {@code s} for {@code x ≈ s·q}, q in -32..31, over the 16 values at {@code x[xo..]}.
     * Each candidate maps the signed extreme to one of {@link #Q6K_LEVELS}; its codes get the
     * least-squares scale {@code Σxq / Σq²}, whose error {@code Σx² − (Σxq)²/Σq²} is smallest where
     * {@code (Σxq)²/Σq²} is largest, so no error pass is needed. Candidates are evaluated two at a
     * time (independent dependency chains for the CPU to overlap). The best is refined once.
     */
    private static float fitSymmetric(float[] x, int xo) {
        float max = 0;
        for (int j = 0; j < 16; j++) {
            if (Math.abs(x[xo + j]) > Math.abs(max)) {
                max = x[xo + j];
            }
        }
        if (max == 0) {
            return 0;
        }
        float best = 0;
        double bestScore = 0;
        for (int k = 0; k <= Q6K_LEVELS.length; k += 2) {
            boolean refine = k == Q6K_LEVELS.length;
            if (refine && best == 0) {
                break;
            }
            // refinement: codes re-chosen against the best scale so far (its pair repeats it)
            float inv1 = refine ? 1 / best : Q6K_LEVELS[k] / max;
            float inv2 = refine ? inv1 : Q6K_LEVELS[k + 1] / max;
            float sxq1 = 0;
            float sxq2 = 0;
            float sqq1 = 0; // sums of squared small integers: exact in float
            float sqq2 = 0;
            for (int j = 0; j < 16; j++) {
                float v = x[xo + j];
                float q1 = roundClampF(v * inv1, -32, 31);
                float q2 = roundClampF(v * inv2, -32, 31);
                sxq1 = Math.fma(v, q1, sxq1);
                sxq2 = Math.fma(v, q2, sxq2);
                sqq1 = Math.fma(q1, q1, sqq1);
                sqq2 = Math.fma(q2, q2, sqq2);
            }
            if (sqq1 > 0 && (double) sxq1 * sxq1 / sqq1 > bestScore) {
                bestScore = (double) sxq1 * sxq1 / sqq1;
                best = sxq1 / sqq1;
            }
            if (sqq2 > 0 && (double) sxq2 * sxq2 / sqq2 > bestScore) {
                bestScore = (double) sxq2 * sxq2 / sqq2;
                best = sxq2 / sqq2;
            }
        }
        return best;
    }

    // ---------------------------------------------------------------------------------------------
    // MXFP4: value = e2m1(code) * 2^(e - 127)

    private static void mxfp4(float[] x, int xo, byte[] out, int o) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(x[xo + j]));
        }
        int bestE = 0;
        if (amax > 0) {
            int base = Math.getExponent((double) amax) - 2 + 127;
            double bestErr = Double.MAX_VALUE;
            for (int e = base - 1; e <= base + 1; e++) {
                if (e < 0 || e > 254) {
                    continue;
                }
                float half = Dequantize.e8m0Half(e);
                double err = 0;
                for (int j = 0; j < QK; j++) {
                    double diff = x[xo + j] - E2M1_TIMES_2[e2m1Code(x[xo + j], half)] * half;
                    err += diff * diff;
                }
                if (err < bestErr) {
                    bestErr = err;
                    bestE = e;
                }
            }
        }
        out[o] = (byte) bestE;
        float half = Dequantize.e8m0Half(bestE);
        for (int j = 0; j < 16; j++) {
            int lo = e2m1Code(x[xo + j], half);
            int hi = e2m1Code(x[xo + j + 16], half);
            out[o + 1 + j] = (byte) (lo | hi << 4);
        }
    }

    /** The E2M1 code whose value times {@code 2 * half} is nearest {@code v} (ties to the smaller magnitude). */
    private static int e2m1Code(float v, float half) {
        int best = 0;
        float bestDiff = Float.MAX_VALUE;
        int first = v < 0 ? 8 : 0;
        for (int c = first; c < first + 8; c++) {
            float diff = Math.abs(v - E2M1_TIMES_2[c] * half);
            if (diff < bestDiff) {
                bestDiff = diff;
                best = c;
            }
        }
        return best;
    }
}
