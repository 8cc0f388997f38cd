package dev.isthmus.kernels.cpu.ops;

import dev.isthmus.kernels.cpu.ref.Activations;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU backend's pointwise, norm, RoPE and argmax kernels: Java Vector API loops
 * ({@link FloatVector#SPECIES_PREFERRED}) over off-heap F32 tensors in native byte order, with a
 * scalar tail for sizes that are not a multiple of the vector width. Each follows the float order of
 * operations of its reference in {@code dev.isthmus.kernels.cpu.ref} (sums of squares, means and
 * lane reductions aside, which are float sums in lane order). Indices and counts are in floats;
 * callers check shapes. Nothing here allocates once compiled.
 */
public final class VectorOps {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final float GELU_BETA = (float) (Math.sqrt(2.0) * (2.0 / Math.sqrt(Math.PI)) * 0.5);
    private static final float GELU_KAPPA = 0.044715f;
    /** Swaps the two lanes of every pair: (x0, x1, x2, x3, ...) to (x1, x0, x3, x2, ...). */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);

    private VectorOps() {
    }

    static FloatVector load(MemorySegment s, long index) {
        return FloatVector.fromMemorySegment(F, s, index * 4, NATIVE);
    }

    static void store(FloatVector v, MemorySegment s, long index) {
        v.intoMemorySegment(s, index * 4, NATIVE);
    }

    /** {@code o[i] = a[i] + b[i]} for {@code n} values. */
    public static void add(MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment o, long oOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            store(load(a, aOff + i).add(load(b, bOff + i)), o, oOff + i);
        }
        for (; i < n; i++) {
            o.setAtIndex(F32, oOff + i, a.getAtIndex(F32, aOff + i) + b.getAtIndex(F32, bOff + i));
        }
    }

    /** {@code x[i] *= factor} for {@code n} values. */
    public static void scale(MemorySegment x, long n, float factor) {
        long i = 0;
        for (long bound = F.loopBound(n); i < bound; i += L) {
            store(load(x, i).mul(factor), x, i);
        }
        for (; i < n; i++) {
            x.setAtIndex(F32, i, x.getAtIndex(F32, i) * factor);
        }
    }

    /** The float sum of {@code x[off + i]²}, in lane order. */
    private static float sumSquares(MemorySegment x, long off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector v = load(x, off + i);
            acc = v.fma(v, acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float v = x.getAtIndex(F32, off + i);
            s = Math.fma(v, v, s);
        }
        return s;
    }

    private static float sum(MemorySegment x, long off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            acc = acc.add(load(x, off + i));
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += x.getAtIndex(F32, off + i);
        }
        return s;
    }

    /**
     * RMSNorm of the {@code dim} values at {@code off}: {@code o = w · (x · r)} (or
     * {@code (x · r) · (1 + w)} when {@code plusOne}), {@code r = 1/sqrt(mean(x²) + eps)}.
     */
    public static void rmsNorm(MemorySegment x, long off, MemorySegment w, int dim, float eps, boolean plusOne,
                               MemorySegment o) {
        float variance = sumSquares(x, off, dim) / dim;
        float r = (float) (1.0 / Math.sqrt(variance + eps));
        int i = 0;
        for (int bound = F.loopBound(dim); i < bound; i += L) {
            FloatVector n = load(x, off + i).mul(r);
            FloatVector wv = load(w, i);
            store(plusOne ? n.mul(wv.add(1f)) : wv.mul(n), o, off + i);
        }
        for (; i < dim; i++) {
            float n = x.getAtIndex(F32, off + i) * r;
            float wv = w.getAtIndex(F32, i);
            o.setAtIndex(F32, off + i, plusOne ? n * (1f + wv) : wv * n);
        }
    }

    /** LayerNorm of the {@code dim} values at {@code off}: {@code (x - mean) · r · w + b}; b may be null. */
    public static void layerNorm(MemorySegment x, long off, MemorySegment w, MemorySegment b, int dim, float eps,
                                 MemorySegment o) {
        float mean = sum(x, off, dim) / dim;
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        int bound = F.loopBound(dim);
        for (; i < bound; i += L) {
            FloatVector d = load(x, off + i).sub(mean);
            acc = d.fma(d, acc);
        }
        float ss = acc.reduceLanes(VectorOperators.ADD);
        for (; i < dim; i++) {
            float d = x.getAtIndex(F32, off + i) - mean;
            ss = Math.fma(d, d, ss);
        }
        float r = (float) (1.0 / Math.sqrt(ss / dim + eps));
        for (i = 0; i < bound; i += L) {
            FloatVector y = load(x, off + i).sub(mean).mul(r).mul(load(w, i));
            if (b != null) {
                y = y.add(load(b, i));
            }
            store(y, o, off + i);
        }
        for (; i < dim; i++) {
            float y = (x.getAtIndex(F32, off + i) - mean) * r * w.getAtIndex(F32, i);
            if (b != null) {
                y += b.getAtIndex(F32, i);
            }
            o.setAtIndex(F32, off + i, y);
        }
    }

    /**
     * RoPE of one head at {@code base}, NEOX layout (dimension {@code i} pairs with {@code i + half}):
     * {@code a' = a·cos - b·sin}, {@code b' = b·cos + a·sin}.
     */
    public static void ropeNeox(MemorySegment x, long base, int half, float[] cos, float[] sin) {
        int i = 0;
        for (int bound = F.loopBound(half); i < bound; i += L) {
            FloatVector a = load(x, base + i);
            FloatVector b = load(x, base + half + i);
            FloatVector c = FloatVector.fromArray(F, cos, i);
            FloatVector s = FloatVector.fromArray(F, sin, i);
            store(a.mul(c).sub(b.mul(s)), x, base + i);
            store(b.mul(c).add(a.mul(s)), x, base + half + i);
        }
        for (; i < half; i++) {
            float a = x.getAtIndex(F32, base + i);
            float b = x.getAtIndex(F32, base + half + i);
            x.setAtIndex(F32, base + i, a * cos[i] - b * sin[i]);
            x.setAtIndex(F32, base + half + i, b * cos[i] + a * sin[i]);
        }
    }

    /**
     * RoPE of one head at {@code base}, interleaved layout (pairs {@code (2i, 2i+1)}), with the tables
     * expanded per dimension: {@code cosDup = (c0, c0, c1, c1, ...)}, {@code sinSigned = (-s0, s0,
     * -s1, s1, ...)}, so that {@code x' = x·cosDup + swapPairs(x)·sinSigned}.
     */
    public static void ropeInterleaved(MemorySegment x, long base, int rotary, float[] cosDup, float[] sinSigned) {
        int i = 0;
        if ((L & 1) == 0) {
            for (int bound = F.loopBound(rotary); i < bound; i += L) {
                FloatVector v = load(x, base + i);
                FloatVector swapped = v.rearrange(SWAP_PAIRS);
                FloatVector c = FloatVector.fromArray(F, cosDup, i);
                FloatVector s = FloatVector.fromArray(F, sinSigned, i);
                store(v.mul(c).add(swapped.mul(s)), x, base + i);
            }
        }
        for (; i < rotary; i += 2) {
            float a = x.getAtIndex(F32, base + i);
            float b = x.getAtIndex(F32, base + i + 1);
            x.setAtIndex(F32, base + i, a * cosDup[i] + b * sinSigned[i]);
            x.setAtIndex(F32, base + i + 1, b * cosDup[i + 1] + a * sinSigned[i + 1]);
        }
    }

    /** SiLU {@code x / (1 + exp(-x))} (times {@code up}) over {@code n} values; returns where the tail starts. */
    private static long silu(MemorySegment x, MemorySegment up, MemorySegment o, long n) {
        long i = 0;
        for (long bound = F.loopBound(n); i < bound; i += L) {
            FloatVector v = load(x, i);
            FloatVector y = v.div(v.neg().lanewise(VectorOperators.EXP).add(1f));
            if (up != null) {
                y = y.mul(load(up, i));
            }
            store(y, o, i);
        }
        return i;
    }

    /** tanh-GELU (times {@code up}) over {@code n} values; returns where the tail starts. */
    private static long geluTanh(MemorySegment x, MemorySegment up, MemorySegment o, long n) {
        long i = 0;
        for (long bound = F.loopBound(n); i < bound; i += L) {
            FloatVector v = load(x, i);
            FloatVector inner = v.add(v.mul(v).mul(v).mul(GELU_KAPPA)).mul(GELU_BETA);
            FloatVector y = v.mul(0.5f).mul(inner.lanewise(VectorOperators.TANH).add(1f));
            if (up != null) {
                y = y.mul(load(up, i));
            }
            store(y, o, i);
        }
        return i;
    }

    private static final float SQRT1_2 = (float) Math.sqrt(0.5);
    // Abramowitz & Stegun 7.1.26: erf(a) = 1 - t·(c1 + t·(c2 + t·(c3 + t·(c4 + t·c5))))·exp(-a²),
    // t = 1/(1 + p·a), a >= 0, absolute error below 1.5e-7.
    private static final float ERF_P = 0.3275911f;
    private static final float ERF_C1 = 0.254829592f;
    private static final float ERF_C2 = -0.284496736f;
    private static final float ERF_C3 = 1.421413741f;
    private static final float ERF_C4 = -1.453152027f;
    private static final float ERF_C5 = 1.061405429f;

    /**
     * Exact GELU {@code (x·0.5)·(1 + erf(x/√2))} (times {@code up}) over {@code n} values, erf by the
     * approximation above, odd-extended to negative inputs; returns where the tail starts. Everything
     * is inline: a vector passed to or returned from a method C2 does not inline is boxed (hence one
     * small loop method per activation).
     */
    private static long geluErf(MemorySegment x, MemorySegment up, MemorySegment o, long n) {
        FloatVector one = FloatVector.broadcast(F, 1f);
        long i = 0;
        for (long bound = F.loopBound(n); i < bound; i += L) {
            FloatVector v = load(x, i);
            FloatVector z = v.mul(SQRT1_2);
            FloatVector a = z.abs();
            FloatVector t = one.div(a.mul(ERF_P).add(1f));
            FloatVector poly = t.mul(ERF_C5).add(ERF_C4).mul(t).add(ERF_C3).mul(t).add(ERF_C2).mul(t).add(ERF_C1).mul(t);
            FloatVector e = one.sub(poly.mul(a.mul(a).neg().lanewise(VectorOperators.EXP)));
            e = e.blend(e.neg(), z.lt(0f));
            FloatVector y = v.mul(0.5f).mul(e.add(1f));
            if (up != null) {
                y = y.mul(load(up, i));
            }
            store(y, o, i);
        }
        return i;
    }

    /**
     * {@code o = act(x)}, or {@code o = act(x) · up} when {@code up} is not null, for {@code n} values.
     * All three are vectorized; exact GELU uses an approximation of {@code erf} (the Vector API has
     * none) within 1.5e-7 absolute, the scalar tail the reference's error function.
     */
    public static void activation(int act, MemorySegment x, MemorySegment up, MemorySegment o, long n) {
        long i = switch (act) {
            case SILU -> silu(x, up, o, n);
            case GELU_TANH -> geluTanh(x, up, o, n);
            default -> geluErf(x, up, o, n);
        };
        for (; i < n; i++) {
            float v = x.getAtIndex(F32, i);
            float y = switch (act) {
                case SILU -> Activations.silu(v);
                case GELU_TANH -> Activations.geluTanh(v);
                default -> Activations.geluErf(v);
            };
            if (up != null) {
                y *= up.getAtIndex(F32, i);
            }
            o.setAtIndex(F32, i, y);
        }
    }

    /** {@link #activation} code for SiLU. */
    public static final int SILU = 0;
    /** {@link #activation} code for tanh-approximated GELU. */
    public static final int GELU_TANH = 1;
    /** {@link #activation} code for exact GELU. */
    public static final int GELU_ERF = 2;

    /** {@code x = cap · tanh(x / cap)} for {@code n} values. */
    public static void softCap(MemorySegment x, long n, float cap) {
        long i = 0;
        for (long bound = F.loopBound(n); i < bound; i += L) {
            store(load(x, i).div(cap).lanewise(VectorOperators.TANH).mul(cap), x, i);
        }
        for (; i < n; i++) {
            x.setAtIndex(F32, i, (float) Math.tanh(x.getAtIndex(F32, i) / cap) * cap);
        }
    }

    /**
     * Index (relative to {@code off}) of the largest of the {@code n} values at {@code off}: the first
     * one on ties, the first NaN if there is one (as {@code torch.argmax}).
     */
    public static int argmax(MemorySegment x, long off, int n) {
        FloatVector best = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += L) {
            best = best.max(load(x, off + i)); // max propagates NaN
        }
        float max = best.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float v = x.getAtIndex(F32, off + i);
            max = Math.max(max, v);
        }
        if (Float.isNaN(max)) {
            for (int j = 0; j < n; j++) {
                if (Float.isNaN(x.getAtIndex(F32, off + j))) {
                    return j;
                }
            }
        }
        for (i = 0; i < bound; i += L) {
            VectorMask<Float> eq = load(x, off + i).eq(max);
            if (eq.anyTrue()) {
                return i + eq.firstTrue();
            }
        }
        for (; i < n; i++) {
            if (x.getAtIndex(F32, off + i) == max) {
                return i;
            }
        }
        return 0; // n == 0 is refused by the caller
    }
}
