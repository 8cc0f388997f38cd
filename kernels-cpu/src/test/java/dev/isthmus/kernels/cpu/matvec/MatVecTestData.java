package dev.isthmus.kernels.cpu.matvec;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.gguf.quant.Quantize;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;

/** Random weights in every supported type, and the double-precision reference product. */
final class MatVecTestData {

    static final List<GgmlType> TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K,
            GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.MXFP4);

    private MatVecTestData() {
    }

    /**
     * Row-major weights: through {@link Quantize} where it can produce the type (Gaussian values
     * with a few outliers), otherwise random block bytes with the f16 scale fields written explicitly
     * as small finite values (every other bit pattern is a valid code in those layouts).
     */
    static byte[] weights(GgmlType type, int rows, int cols, SplittableRandom rnd) {
        if (type == GgmlType.F32 || Quantize.supports(type)) {
            float[] v = new float[rows * cols];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextGaussian() * (rnd.nextInt(100) == 0 ? 2.0 : 0.1));
            }
            if (type == GgmlType.F32) {
                byte[] out = new byte[v.length * 4];
                MemorySegment.ofArray(out).asByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
                return out;
            }
            return Quantize.quantize(type, v, 0, v.length);
        }
        int ts = type.typeSize();
        int blocks = rows * (cols / type.blockSize());
        byte[] out = new byte[blocks * ts];
        rnd.nextBytes(out);
        for (int b = 0; b < blocks; b++) {
            int o = b * ts;
            switch (type) {
                case Q4_1, Q5_1 -> {
                    f16(out, o, scale(rnd));
                    f16(out, o + 2, scale(rnd));
                }
                case Q5_0 -> f16(out, o, scale(rnd));
                case Q2_K -> {
                    f16(out, o + 80, scale(rnd) * 0.1f);
                    f16(out, o + 82, Math.abs(scale(rnd)) * 0.1f);
                }
                case Q3_K -> f16(out, o + 108, scale(rnd) * 0.1f);
                case Q5_K -> {
                    f16(out, o, scale(rnd) * 0.1f);
                    f16(out, o + 2, Math.abs(scale(rnd)) * 0.1f);
                }
                default -> throw new AssertionError(type);
            }
        }
        return out;
    }

    private static float scale(SplittableRandom rnd) {
        float s = (float) rnd.nextDouble(0.001, 0.05);
        return rnd.nextBoolean() ? s : -s;
    }

    private static void f16(byte[] b, int o, float v) {
        short h = Quantize.floatToF16(v);
        b[o] = (byte) h;
        b[o + 1] = (byte) (h >> 8);
    }

    /**
     * A native copy. The kernel tests use native segments only (as production does: mapped weights,
     * off-heap activations): a heap segment in the same JVM makes the segment accesses polymorphic
     * for C2, which can then leave Vector API loads un-intrinsified (correct, but boxed and slow) and
     * would turn the allocation test into a test of profile pollution.
     */
    static MemorySegment off(java.lang.foreign.Arena arena, byte[] b) {
        MemorySegment s = arena.allocate(Math.max(1, b.length)).asSlice(0, b.length);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, b.length);
        return s;
    }

    static MemorySegment off(java.lang.foreign.Arena arena, float[] f) {
        MemorySegment s = arena.allocate(Math.max(4, 4L * f.length)).asSlice(0, 4L * f.length);
        MemorySegment.copy(MemorySegment.ofArray(f), 0, s, 0, 4L * f.length);
        return s;
    }

    static float[] vector(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /**
     * Result of the reference product: the exact-ish value, the magnitude the float-rounding bound
     * scales with, and the activation-quantization bound {@code xquant} (for the kernels that
     * quantize x to 8 bits, {@link MatVec#quantizesActivations}).
     */
    record Ref(double[] y, double[] magnitude, double[] xquant) {
    }

    /**
     * {@code y = Σ Dequantize(row)·x} in double. {@code magnitude[r] = Σ (|w_i| + 2|bias_i|)·|x_i|}
     * where {@code bias_i} is the block offset subtracted (K-quant {@code dmin·m}) or added (Q4_1/Q5_1
     * {@code m}) to element i: every float product or sum the kernel forms is bounded by it.
     * {@code xquant[r] = Σ |w_i|·d_x(i)/2}, {@code d_x} = max|x|/127 over element i's 32-element
     * block: replacing every x by its 8-bit value (codes and block offsets alike) moves each term
     * by at most that much.
     */
    static Ref reference(GgmlType type, byte[] w, int rows, int cols, float[] x) {
        MemorySegment seg = MemorySegment.ofArray(w);
        long rb = type.rowSize(cols);
        double[] y = new double[rows];
        double[] mag = new double[rows];
        double[] xq = new double[rows];
        float[] row = new float[cols];
        double[] halfStep = new double[(cols + 31) / 32];
        for (int b = 0; b < halfStep.length; b++) {
            float m = 0;
            for (int i = 32 * b; i < Math.min(cols, 32 * b + 32); i++) {
                m = Math.max(m, Math.abs(x[i]));
            }
            halfStep[b] = m / 127f / 2;
        }
        for (int r = 0; r < rows; r++) {
            Dequantize.dequantize(type, seg.asSlice(r * rb, rb), cols, row, 0);
            double s = 0;
            double m = 0;
            double q = 0;
            for (int i = 0; i < cols; i++) {
                double bias = bias(type, w, (int) (r * rb), i);
                s += (double) row[i] * x[i];
                m += (Math.abs((double) row[i]) + 2 * bias) * Math.abs(x[i]);
                q += Math.abs((double) row[i]) * halfStep[i / 32];
            }
            y[r] = s;
            mag[r] = m;
            xq[r] = q;
        }
        return new Ref(y, mag, xq);
    }

    /**
     * The bound for {@link MatVec#matvecQ8} on row {@code r}: for float activations {@link #bound}; for
     * 8-bit activations the quantization term (1% margin: the codes are rounded from a float
     * product) plus float rounding relative to the magnitude with x moved by up to half a step.
     */
    static double matvecBound(GgmlType type, int cols, Ref ref, int r) {
        if (!MatVec.quantizesActivations(type)) {
            return bound(cols, ref.magnitude()[r]);
        }
        double xq = ref.xquant()[r];
        return 1.01 * xq + bound(cols, ref.magnitude()[r] + 2 * xq);
    }

    private static float f16At(byte[] b, int o) {
        return Float.float16ToFloat((short) ((b[o] & 0xFF) | (b[o + 1] << 8)));
    }

    /** |offset| added to element i of the row starting at byte {@code rowOff}; 0 for types without one. */
    private static double bias(GgmlType type, byte[] w, int rowOff, int i) {
        int blk = rowOff + (i / type.blockSize()) * type.typeSize();
        int e = i % type.blockSize();
        return switch (type) {
            case Q4_1, Q5_1 -> Math.abs(f16At(w, blk + 2));
            case Q2_K -> Math.abs(f16At(w, blk + 82) * ((w[blk + e / 16] & 0xFF) >>> 4));
            case Q4_K, Q5_K -> {
                int j = e / 32;
                int s = blk + 4;
                int m = j < 4 ? (w[s + j + 4] & 63) : ((w[s + j + 4] & 0xFF) >>> 4) | ((w[s + j] & 0xFF) >>> 6) << 4;
                yield Math.abs(f16At(w, blk + 2) * m);
            }
            default -> 0;
        };
    }

    /**
     * The error bound: each output is a float sum of about {@code cols / L} fused multiply-adds per
     * lane (plus one level for a per-block partial sum and the dequantization FMA, and log2 L for the
     * lane reduction), each rounding with unit roundoff u = 2^-24 relative to a partial sum bounded by
     * {@code magnitude}; the reference's own float dequantization adds up to two more roundings.
     * Hence |y - y_ref| ≤ k·u·magnitude with k = cols/L + 32/L + log2(L) + 8 (a 1% margin on top).
     */
    static double bound(int cols, double magnitude) {
        int l = MatVec.L;
        double k = (double) cols / l + 32.0 / l + Integer.numberOfTrailingZeros(l) + 8;
        return 1.01 * k * 0x1p-24 * magnitude + Float.MIN_NORMAL;
    }
}
