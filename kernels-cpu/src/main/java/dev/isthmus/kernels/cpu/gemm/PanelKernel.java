package dev.isthmus.kernels.cpu.gemm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API micro-kernel of {@link Gemm.Path#VECTOR_GEMM}: {@code acc[i][j] += Σ_t x[i][t]·w[j][t]}
 * for a float panel {@code w} of {@code p} weight rows (k-contiguous, as decoded by
 * {@link PanelDequant}) and all {@code m} rows of {@code x}.
 *
 * <p>Register tile: 4 rows of X × 3 rows of W, 12 vector accumulators (dot-product form, reduced
 * across lanes once per k block), so every W vector loaded feeds 4 FMAs and every X vector 3. The
 * k dimension is cut into blocks of {@link #KB} floats so that 4 X rows and 3 W rows of a block stay
 * in L1 while the panel (sized by the caller to stay in L2) is swept. Edges (m % 4, p % 3, k % lanes)
 * take smaller tiles and a scalar tail. Allocation-free.
 */
final class PanelKernel {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() >= 8
            ? FloatVector.SPECIES_256 : FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Floats of k per block: 4 X rows + 3 W rows of a block = 28 KB. */
    static final int KB = 1024;

    private PanelKernel() {
    }

    /**
     * {@code acc[i*p + j] = Σ_t x[i*k + t] · w[j*k + t]} for {@code i < m, j < p}, {@code k >= 1}
     * ({@code acc} is overwritten by the first k block, then accumulated into).
     */
    static void panel(float[] x, int m, int k, float[] w, int p, float[] acc) {
        for (int k0 = 0; k0 < k; k0 += KB) {
            int k1 = Math.min(k, k0 + KB);
            boolean first = k0 == 0;
            int i = 0;
            for (; i + 4 <= m; i += 4) {
                int j = 0;
                for (; j + 3 <= p; j += 3) {
                    tile4x3(x, k, i, w, j, k0, k1, acc, p, first);
                }
                for (; j < p; j++) {
                    for (int ii = i; ii < i + 4; ii++) {
                        tile1x1(x, k, ii, w, j, k0, k1, acc, p, first);
                    }
                }
            }
            for (; i < m; i++) {
                int j = 0;
                for (; j + 3 <= p; j += 3) {
                    tile1x3(x, k, i, w, j, k0, k1, acc, p, first);
                }
                for (; j < p; j++) {
                    tile1x1(x, k, i, w, j, k0, k1, acc, p, first);
                }
            }
        }
    }

    private static void tile4x3(float[] x, int k, int i, float[] w, int j, int k0, int k1, float[] acc, int p,
            boolean first) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F);
        int x0 = i * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        int w0 = j * k, w1 = w0 + k, w2 = w1 + k;
        int t = k0;
        int end = k0 + (k1 - k0) / L * L;
        for (; t < end; t += L) {
            FloatVector v0 = FloatVector.fromArray(F, w, w0 + t);
            FloatVector v1 = FloatVector.fromArray(F, w, w1 + t);
            FloatVector v2 = FloatVector.fromArray(F, w, w2 + t);
            FloatVector u = FloatVector.fromArray(F, x, x0 + t);
            a00 = u.fma(v0, a00);
            a01 = u.fma(v1, a01);
            a02 = u.fma(v2, a02);
            u = FloatVector.fromArray(F, x, x1 + t);
            a10 = u.fma(v0, a10);
            a11 = u.fma(v1, a11);
            a12 = u.fma(v2, a12);
            u = FloatVector.fromArray(F, x, x2 + t);
            a20 = u.fma(v0, a20);
            a21 = u.fma(v1, a21);
            a22 = u.fma(v2, a22);
            u = FloatVector.fromArray(F, x, x3 + t);
            a30 = u.fma(v0, a30);
            a31 = u.fma(v1, a31);
            a32 = u.fma(v2, a32);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD), s01 = a01.reduceLanes(VectorOperators.ADD);
        float s02 = a02.reduceLanes(VectorOperators.ADD), s10 = a10.reduceLanes(VectorOperators.ADD);
        float s11 = a11.reduceLanes(VectorOperators.ADD), s12 = a12.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD), s21 = a21.reduceLanes(VectorOperators.ADD);
        float s22 = a22.reduceLanes(VectorOperators.ADD), s30 = a30.reduceLanes(VectorOperators.ADD);
        float s31 = a31.reduceLanes(VectorOperators.ADD), s32 = a32.reduceLanes(VectorOperators.ADD);
        for (; t < k1; t++) {
            float c0 = w[w0 + t], c1 = w[w1 + t], c2 = w[w2 + t];
            float r0 = x[x0 + t], r1 = x[x1 + t], r2 = x[x2 + t], r3 = x[x3 + t];
            s00 += r0 * c0;
            s01 += r0 * c1;
            s02 += r0 * c2;
            s10 += r1 * c0;
            s11 += r1 * c1;
            s12 += r1 * c2;
            s20 += r2 * c0;
            s21 += r2 * c1;
            s22 += r2 * c2;
            s30 += r3 * c0;
            s31 += r3 * c1;
            s32 += r3 * c2;
        }
        int o = i * p + j;
        put(acc, o, s00, s01, s02, first);
        put(acc, o + p, s10, s11, s12, first);
        put(acc, o + 2 * p, s20, s21, s22, first);
        put(acc, o + 3 * p, s30, s31, s32, first);
    }

    private static void put(float[] acc, int o, float s0, float s1, float s2, boolean first) {
        if (first) {
            acc[o] = s0;
            acc[o + 1] = s1;
            acc[o + 2] = s2;
        } else {
            acc[o] += s0;
            acc[o + 1] += s1;
            acc[o + 2] += s2;
        }
    }

    private static void tile1x3(float[] x, int k, int i, float[] w, int j, int k0, int k1, float[] acc, int p,
            boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F);
        int x0 = i * k;
        int w0 = j * k, w1 = w0 + k, w2 = w1 + k;
        int t = k0;
        int end = k0 + (k1 - k0) / L * L;
        for (; t < end; t += L) {
            FloatVector u = FloatVector.fromArray(F, x, x0 + t);
            a0 = u.fma(FloatVector.fromArray(F, w, w0 + t), a0);
            a1 = u.fma(FloatVector.fromArray(F, w, w1 + t), a1);
            a2 = u.fma(FloatVector.fromArray(F, w, w2 + t), a2);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        for (; t < k1; t++) {
            float r = x[x0 + t];
            s0 += r * w[w0 + t];
            s1 += r * w[w1 + t];
            s2 += r * w[w2 + t];
        }
        put(acc, i * p + j, s0, s1, s2, first);
    }

    private static void tile1x1(float[] x, int k, int i, float[] w, int j, int k0, int k1, float[] acc, int p,
            boolean first) {
        FloatVector a = FloatVector.zero(F);
        int x0 = i * k;
        int w0 = j * k;
        int t = k0;
        int end = k0 + (k1 - k0) / L * L;
        for (; t < end; t += L) {
            a = FloatVector.fromArray(F, x, x0 + t).fma(FloatVector.fromArray(F, w, w0 + t), a);
        }
        float s = a.reduceLanes(VectorOperators.ADD);
        for (; t < k1; t++) {
            s += x[x0 + t] * w[w0 + t];
        }
        int o = i * p + j;
        acc[o] = first ? s : acc[o] + s;
    }
}
