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
 *       ({@code q} in 0..15, {@code m ≥ 0}) by alternating nearest-code assignment and a
 *       least-squares solve for {@code (s, m)}, started from several ranges; then the eight scales
 *       and eight mins are quantized to 6 bits against f16 super-scales {@code d = max s / 63},
 *       {@code dmin = max m / 63}; each group then tries its 6-bit scale and min ±1 and keeps the
 *       pair with the smallest error, and the codes are finally re-chosen against the stored values.
 *   <li><b>Q6_K</b>: each 16-element group gets a signed scale from a candidate search (largest
 *       magnitude mapped to -32..-29 or +31..+28 in steps of 0.25, each refined by least squares),
 *       the sixteen scales are quantized to signed 8 bits against {@code d = max|s| / 127} (f16),
 *       each group tries its 8-bit scale ±1, and the codes are re-chosen against the stored scale.
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

    private static void q4_K(float[] x, int xo, byte[] out, int o) {
        float[] scale = new float[8];
        float[] min = new float[8];
        for (int g = 0; g < 8; g++) {
            float[] sm = fitAffine(x, xo + 32 * g, 32, 15);
            scale[g] = sm[0];
            min[g] = sm[1];
        }
        float maxScale = 0;
        float maxMin = 0;
        for (int g = 0; g < 8; g++) {
            maxScale = Math.max(maxScale, scale[g]);
            maxMin = Math.max(maxMin, min[g]);
        }
        float d = putF16(out, o, maxScale / 63f);
        float dmin = putF16(out, o + 2, maxMin / 63f);
        int[] ls = new int[8];
        int[] lm = new int[8];
        for (int g = 0; g < 8; g++) {
            int s0 = d == 0 ? 0 : nearest(scale[g] / d, 0, 63);
            int m0 = dmin == 0 ? 0 : nearest(min[g] / dmin, 0, 63);
            double best = Double.MAX_VALUE;
            for (int ds = -1; ds <= 1; ds++) {
                for (int dm = -1; dm <= 1; dm++) {
                    int s = s0 + ds;
                    int m = m0 + dm;
                    if (s < 0 || s > 63 || m < 0 || m > 63) {
                        continue;
                    }
                    double err = affineError(x, xo + 32 * g, 32, 15, d * s, dmin * m);
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
            for (int l = 0; l < 32; l++) {
                int q1 = affineCode(x[xo + 64 * c + l], d1, m1, 15);
                int q2 = affineCode(x[xo + 64 * c + 32 + l], d2, m2, 15);
                out[o + 16 + 32 * c + l] = (byte) (q1 | q2 << 4);
            }
        }
    }

    /** The code in 0..nmax that {@code s * q - m} best matches to {@code v}. */
    private static int affineCode(float v, float s, float m, int nmax) {
        return s == 0 ? 0 : nearest((v + m) / s, 0, nmax);
    }

    private static double affineError(float[] x, int xo, int n, int nmax, float s, float m) {
        double err = 0;
        for (int j = 0; j < n; j++) {
            float v = s * affineCode(x[xo + j], s, m, nmax) - m;
            double e = x[xo + j] - v;
            err += e * e;
        }
        return err;
    }

    /**
     * Least-squares fit of {@code x ≈ s * q - m} with {@code q} in 0..nmax and {@code s, m ≥ 0}
     * over {@code x[xo .. xo + n)}; returns {s, m}.
     */
    private static float[] fitAffine(float[] x, int xo, int n, int nmax) {
        float lo = 0;
        float hi = 0;
        for (int j = 0; j < n; j++) {
            lo = Math.min(lo, x[xo + j]);
            hi = Math.max(hi, x[xo + j]);
        }
        if (hi == lo) {
            return new float[] {0, 0};
        }
        float bestS = 0;
        float bestM = 0;
        double bestErr = affineError(x, xo, n, nmax, 0, 0);
        int[] q = new int[n];
        for (int k = -4; k <= 8; k++) {
            // Start from the full range spread over nmax + k/4 steps, then alternate code assignment
            // with a least-squares solve for (s, m).
            float s = (hi - lo) / (nmax + 0.25f * k);
            float m = -lo;
            for (int iter = 0; iter < 6; iter++) {
                double err = affineError(x, xo, n, nmax, s, m);
                if (err < bestErr) {
                    bestErr = err;
                    bestS = s;
                    bestM = m;
                }
                double sq = 0, sqq = 0, sx = 0, sxq = 0;
                for (int j = 0; j < n; j++) {
                    q[j] = affineCode(x[xo + j], s, m, nmax);
                    sq += q[j];
                    sqq += (double) q[j] * q[j];
                    sx += x[xo + j];
                    sxq += (double) x[xo + j] * q[j];
                }
                double det = n * sqq - sq * sq;
                if (det <= 0) {
                    break;
                }
                double ns = (n * sxq - sq * sx) / det;
                double nm = -(sx - ns * sq) / n;
                if (nm < 0) {
                    // The best offset would be positive, which the format cannot express: fit s alone.
                    nm = 0;
                    ns = sxq / sqq;
                }
                if (!(ns > 0)) {
                    break;
                }
                s = (float) ns;
                m = (float) nm;
            }
        }
        return new float[] {bestS, bestM};
    }

    // ---------------------------------------------------------------------------------------------
    // Q6_K: value = (d * sc) * (q - 32), q - 32 in -32..31, sc signed 8-bit, sixteen groups of 16

    private static void q6_K(float[] x, int xo, byte[] out, int o) {
        float[] scale = new float[16];
        float maxAbs = 0;
        for (int g = 0; g < 16; g++) {
            scale[g] = fitSymmetric(x, xo + 16 * g, 16);
            maxAbs = Math.max(maxAbs, Math.abs(scale[g]));
        }
        float d = putF16(out, o + 208, maxAbs / 127f);
        int[] sc = new int[16];
        for (int g = 0; g < 16; g++) {
            int s0 = d == 0 ? 0 : nearest(scale[g] / d, -128, 127);
            double best = Double.MAX_VALUE;
            for (int ds = -1; ds <= 1; ds++) {
                int s = s0 + ds;
                if (s < -128 || s > 127) {
                    continue;
                }
                double err = symmetricError(x, xo + 16 * g, 16, d * s);
                if (err < best) {
                    best = err;
                    sc[g] = s;
                }
            }
            out[o + 192 + g] = (byte) sc[g];
        }
        int[] q = new int[QK_K];
        for (int j = 0; j < QK_K; j++) {
            float s = d * sc[j / 16];
            q[j] = (s == 0 ? 0 : nearest(x[xo + j] / s, -32, 31)) + 32;
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

    private static double symmetricError(float[] x, int xo, int n, float s) {
        double err = 0;
        for (int j = 0; j < n; j++) {
            float v = s == 0 ? 0 : s * nearest(x[xo + j] / s, -32, 31);
            double e = x[xo + j] - v;
            err += e * e;
        }
        return err;
    }

    /** A signed scale s minimising the error of {@code x ≈ s * q}, q in -32..31. */
    private static float fitSymmetric(float[] x, int xo, int n) {
        float max = 0;
        for (int j = 0; j < n; j++) {
            if (Math.abs(x[xo + j]) > Math.abs(max)) {
                max = x[xo + j];
            }
        }
        if (max == 0) {
            return 0;
        }
        float best = 0;
        double bestErr = symmetricError(x, xo, n, 0);
        for (int k = 0; k <= 25; k++) {
            // The extreme value maps to -32 .. -29 (k <= 12) or +31 .. +28.
            float r = k <= 12 ? -(32f - 0.25f * k) : 31f - 0.25f * (k - 13);
            float s = max / r;
            for (int pass = 0; pass < 2; pass++) {
                double err = symmetricError(x, xo, n, s);
                if (err < bestErr) {
                    bestErr = err;
                    best = s;
                }
                double sxq = 0;
                double sqq = 0;
                for (int j = 0; j < n; j++) {
                    int q = nearest(x[xo + j] / s, -32, 31);
                    sxq += (double) x[xo + j] * q;
                    sqq += (double) q * q;
                }
                if (sqq == 0) {
                    break;
                }
                s = (float) (sxq / sqq);
                if (s == 0) {
                    break;
                }
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
