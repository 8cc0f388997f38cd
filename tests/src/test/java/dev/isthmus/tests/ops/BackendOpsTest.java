package dev.isthmus.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.isthmus.kernels.cpu.ref.Activations;
import dev.isthmus.kernels.cpu.ref.Attention;
import dev.isthmus.kernels.cpu.ref.AttentionOptions;
import dev.isthmus.kernels.cpu.ref.BasicOps;
import dev.isthmus.kernels.cpu.ref.Norms;
import dev.isthmus.kernels.cpu.ref.RopeTables;
import dev.isthmus.memory.BackendProvider;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.nativebindings.Availability;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

/**
 * Every op of every {@link Backend} found through {@link ServiceLoader} checked against the plain
 * reference ops of {@code kernels-cpu/.ref} (and, for matmul and embedding, the reference
 * dequantizer and a double-precision dot product) on random inputs, in the spirit of ggml's
 * {@code test-backend-ops}. A backend whose probe says it cannot run here, or that fails to open,
 * shows up as a skipped test with the reason.
 *
 * <h2>Tolerances (per element)</h2>
 * <ul>
 *   <li>add, addBias, scale, argmax, embedding of F32/F16/BF16: exact (one correctly rounded float
 *       operation, or none). Embedding of block types: {@code 2⁻²²·|ref|} (a backend may scale the
 *       dequantized value with a fused multiply-add).</li>
 *   <li>matmul: {@code 1.01·(k + 8)·2⁻²⁴·Σ(|w| + 2|offset|)·|x|}, the worst case of float summation of
 *       {@code k} products in any order (see {@code docs/GEMM.md}); {@code offset} is the additive block
 *       offset of Q4_1/Q5_1/K-quants, which a kernel may sum apart. For Q8_0, Q4_0, Q4_K and Q6_K a
 *       backend may also round {@code x} to 8 bits per 32-element block (scale {@code max|x|/127}, as
 *       llama.cpp's integer dot products do): plus {@code Σ|w|·d_x/2}. CUDA's tensor-core GEMM (8 or more
 *       tokens, every type but F32) rounds {@code w} and {@code x} to 16 bits (f16, or bf16 for BF16 and MXFP4):
 *       plus {@code 1.01·(2u + u²)·Σ|w·x| + 2⁻²⁴·Σ(|w| + |x|)} with {@code u} = 2⁻¹¹ (f16) or 2⁻⁸ (bf16);
 *       see {@code docs/CUDA.md}.</li>
 *   <li>rmsNorm/layerNorm: {@code (dim + 8)·2⁻²⁴·|x̂·w|} (+ {@code 2⁻²⁴·|b|}) with {@code x̂} the
 *       normalized value: the mean square summed in float in any order.</li>
 *   <li>RoPE: {@code 8·2⁻²⁴·(|x₁| + |x₂|)·scaling} for each rotated pair (a few roundings of the
 *       products and of cos/sin; dimensions beyond the rotary part must pass through exactly).</li>
 *   <li>activations: {@code 1e-5·|ref| + 4e-7·|x|} (a last-bit difference of exp/tanh/erf where
 *       {@code 1 + f(x)} cancels); gated: the same times {@code |up|}. Soft-cap: {@code 4·2⁻²⁴·cap}.</li>
 *   <li>attention: {@code 1e-4·max|v|} over the values, against the reference run on the K/V as the
 *       cache stores them (F16/BF16/Q8_0 rounded through {@code KvCodec}). Scores are dot products of
 *       at most 96 terms, so float error is below {@code 1e-5} of the output's range; a wrong mask,
 *       scale, sink or head mapping moves the output by percent.</li>
 * </ul>
 */
class BackendOpsTest {
    private static final double U = 0x1p-24;
    private static final List<AutoCloseable> OPEN = new ArrayList<>();
    private static final Arena ARENA = Arena.ofShared();

    private static final DType[] WEIGHT_TYPES = {DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_1,
        DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.MXFP4};

    @AfterAll
    static void closeAll() throws Exception {
        for (AutoCloseable c : OPEN) {
            c.close();
        }
        OPEN.clear();
        ARENA.close();
    }

    @Test
    void theCpuBackendIsFound() {
        assertTrue(ServiceLoader.load(BackendProvider.class).stream().anyMatch(p -> p.get().name().equals("cpu")),
                "no cpu BackendProvider on the class path");
    }

    @TestFactory
    Stream<DynamicNode> everyOpOfEveryBackend() {
        List<DynamicNode> nodes = new ArrayList<>();
        for (BackendProvider provider : ServiceLoader.load(BackendProvider.class)) {
            String name = provider.name();
            Availability a = provider.probe();
            if (!a.available()) {
                nodes.add(skipped(name, "backend " + name + " cannot run here: " + a.reason()));
                continue;
            }
            Backend b;
            try {
                b = provider.open(2);
            } catch (RuntimeException | LinkageError e) {
                nodes.add(skipped(name, "backend " + name + " probed available but open(2) failed: " + e));
                continue;
            }
            OPEN.add(b);
            List<DynamicNode> cases = new ArrayList<>();
            cases.add(dynamicContainer("matmul", matmulCases(b)));
            cases.add(dynamicContainer("embedding", embeddingCases(b)));
            cases.add(dynamicContainer("elementwise", elementwiseCases(b)));
            cases.add(dynamicContainer("norms", normCases(b)));
            cases.add(dynamicContainer("rope", ropeCases(b)));
            cases.add(dynamicContainer("activations", activationCases(b)));
            cases.add(dynamicContainer("attention", attentionCases(b)));
            cases.add(dynamicContainer("bad input", badInputCases(b)));
            cases.add(dynamicTest("ops after close throw IllegalStateException", () -> afterClose(provider)));
            nodes.add(dynamicContainer(name, cases));
        }
        return nodes.stream();
    }

    private static DynamicNode skipped(String name, String why) {
        return dynamicTest(name + " (skipped)", () -> Assumptions.abort(why));
    }

    // ---------------------------------------------------------------- helpers

    private static Tensor tensor(Backend b, int rows, int cols, float[] v) {
        Tensor t = b.allocate(rows, cols);
        b.write(v, 0, t);
        return t;
    }

    private static float[] read(Backend b, Tensor t) {
        float[] v = new float[(int) t.elements()];
        b.read(t, v, 0);
        return v;
    }

    private static SplittableRandom rnd(String name) {
        return new SplittableRandom(name.hashCode() * 0x9E3779B97F4A7C15L);
    }

    /** Asserts {@code |got[i] - ref[i]| <= tol[i]} for every i, naming the worst element. */
    private static void assertClose(String what, float[] got, double[] ref, double[] tol) {
        assertEquals(ref.length, got.length, what + ": length");
        int worst = -1;
        double worstRatio = 1;
        int bad = 0;
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            boolean ok = err <= tol[i] || (Double.isNaN(ref[i]) && Float.isNaN(got[i]));
            if (!ok) {
                bad++;
                double ratio = tol[i] == 0 ? Double.POSITIVE_INFINITY : err / tol[i];
                if (worst < 0 || ratio > worstRatio) {
                    worst = i;
                    worstRatio = ratio;
                }
            }
        }
        if (worst >= 0) {
            throw new AssertionError(what + ": " + bad + " of " + ref.length + " elements off; worst [" + worst + "] got "
                    + got[worst] + ", expected " + ref[worst] + " ± " + tol[worst]);
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    // ---------------------------------------------------------------- matmul and embedding

    /** Inner sizes per block size: odd whole numbers of blocks, and not multiples of any vector width. */
    private static int[] innerSizes(DType t) {
        return switch (t.blockSize()) {
            case 1 -> new int[] {37, 300};
            case 32 -> new int[] {96, 160};
            default -> new int[] {256, 768};
        };
    }

    private Stream<DynamicNode> matmulCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (DType t : WEIGHT_TYPES) {
            int[] in = innerSizes(t);
            int[][] shapes = {{1, 13, in[0]}, {3, 40, in[1]}, {17, 7, in[0]}, {1, 1, in[1]}};
            for (int[] s : shapes) {
                String name = t + " x[" + s[0] + "][" + s[2] + "] · w[" + s[1] + "][" + s[2] + "]ᵀ";
                out.add(dynamicTest(name, () -> matmul(b, t, s[0], s[1], s[2], name)));
            }
        }
        return out.stream();
    }

    /** Weight types whose matmul may round the activations to 8 bits per 32-block (see the class comment). */
    private static final java.util.Set<DType> Q8_ACTIVATIONS = java.util.EnumSet.of(DType.Q8_0, DType.Q4_0, DType.Q4_K,
            DType.Q6_K);

    /**
     * Unit roundoff of the 16-bit operands of CUDA's tensor-core GEMM (8 or more tokens, every type but F32; see
     * docs/CUDA.md): bf16 for BF16 and MXFP4 weights, f16 for the others; 0 for other backends and sizes.
     */
    private static double tensorCoreRoundoff(Backend b, DType t, int n) {
        if (!b.name().equals("cuda") || n < 8 || t == DType.F32) {
            return 0;
        }
        return t == DType.BF16 || t == DType.MXFP4 ? 0x1p-8 : 0x1p-11;
    }

    private static void matmul(Backend b, DType t, int n, int rows, int cols, String name) {
        Assumptions.assumeTrue(b.supports(t), b.name() + " does not support " + t + " weights");
        SplittableRandom rnd = rnd(name);
        byte[] wb = OpsData.weights(t, rows, cols, rnd);
        Tensor w = b.weight(t, rows, cols, OpsData.nativeCopy(ARENA, wb));
        float[] x = OpsData.gauss(n * cols, 1, rnd);
        Tensor xt = tensor(b, n, cols, x);
        Tensor yt = b.allocate(n, rows);
        b.matmul(xt, w, yt);
        double[] ref = new double[n * rows];
        double[] tol = new double[n * rows];
        double u16 = tensorCoreRoundoff(b, t, n);
        int rowOff = (int) t.rowBytes(cols);
        for (int r = 0; r < rows; r++) {
            float[] row = OpsData.dequantizedRow(t, wb, r, cols);
            for (int tok = 0; tok < n; tok++) {
                double s = 0;
                double mag = 0;
                double q8 = 0;
                for (int i = 0; i < cols; i++) {
                    double xi = x[tok * cols + i];
                    s += row[i] * xi;
                    mag += (Math.abs(row[i]) + 2 * OpsData.offset(t, wb, r * rowOff, i)) * Math.abs(xi);
                    if (Q8_ACTIVATIONS.contains(t) && cols % 32 == 0) {
                        double amax = 0;
                        int b0 = tok * cols + i / 32 * 32;
                        for (int j = 0; j < 32; j++) {
                            amax = Math.max(amax, Math.abs(x[b0 + j]));
                        }
                        q8 += Math.abs(row[i]) * (amax / 127) / 2;
                    }
                }
                ref[tok * rows + r] = s;
                tol[tok * rows + r] = 1.01 * (cols + 8) * U * mag + 1.01 * q8 + Float.MIN_NORMAL;
                if (u16 > 0) {
                    double wx = 0;
                    double mags = 0;
                    for (int i = 0; i < cols; i++) {
                        wx += Math.abs(row[i] * (double) x[tok * cols + i]);
                        mags += Math.abs(row[i]) + Math.abs(x[tok * cols + i]);
                    }
                    tol[tok * rows + r] += 1.01 * (2 * u16 + u16 * u16) * wx + 0x1p-24 * mags;
                }
            }
        }
        assertClose(name, read(b, yt), ref, tol);
    }

    private Stream<DynamicNode> embeddingCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (DType t : WEIGHT_TYPES) {
            int dim = innerSizes(t)[0];
            out.add(dynamicTest(t + " 4 tokens, scale 1", () -> embedding(b, t, dim, new int[] {0, 10, 3, 3}, 1f)));
            out.add(dynamicTest(t + " 1 token, scale 0.7", () -> embedding(b, t, dim, new int[] {7}, 0.7f)));
        }
        return out.stream();
    }

    private static void embedding(Backend b, DType t, int dim, int[] tokens, float scale) {
        Assumptions.assumeTrue(b.supports(t), b.name() + " does not support " + t + " tables");
        int vocab = 11;
        byte[] wb = OpsData.weights(t, vocab, dim, rnd(t + "emb" + dim));
        Tensor table = b.weight(t, vocab, dim, OpsData.nativeCopy(ARENA, wb));
        Tensor o = b.allocate(tokens.length, dim);
        b.embedding(table, tokens, scale, o);
        double[] ref = new double[tokens.length * dim];
        double[] tol = new double[ref.length];
        for (int k = 0; k < tokens.length; k++) {
            float[] row = OpsData.dequantizedRow(t, wb, tokens[k], dim);
            for (int i = 0; i < dim; i++) {
                ref[k * dim + i] = row[i] * scale;
                tol[k * dim + i] = t.isQuantized() ? 0x1p-22 * Math.abs(ref[k * dim + i]) : 0;
            }
        }
        assertClose(t + " embedding", read(b, o), ref, tol);
    }

    // ---------------------------------------------------------------- elementwise

    private Stream<DynamicNode> elementwiseCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (int[] s : new int[][] {{1, 1}, {1, 67}, {5, 33}, {3, 1000}}) {
            int n = s[0];
            int dim = s[1];
            String shape = "[" + n + "][" + dim + "]";
            out.add(dynamicTest("add " + shape, () -> add(b, n, dim, false)));
            out.add(dynamicTest("add in place " + shape, () -> add(b, n, dim, true)));
            out.add(dynamicTest("addBias " + shape, () -> addBias(b, n, dim)));
            out.add(dynamicTest("scale " + shape, () -> scale(b, n, dim)));
            out.add(dynamicTest("softCap " + shape, () -> softCap(b, n, dim)));
            out.add(dynamicTest("argmax " + shape, () -> argmax(b, n, dim)));
        }
        out.add(dynamicTest("argmax ties pick the first", () -> argmaxTies(b)));
        return out.stream();
    }

    private static void add(Backend b, int n, int dim, boolean inPlace) {
        SplittableRandom rnd = rnd("add" + n + dim);
        float[] x = OpsData.gauss(n * dim, 1, rnd);
        float[] y = OpsData.gauss(n * dim, 1, rnd);
        Tensor xt = tensor(b, n, dim, x);
        Tensor yt = tensor(b, n, dim, y);
        Tensor o = inPlace ? xt : b.allocate(n, dim);
        b.add(xt, yt, o);
        float[] ref = new float[x.length];
        BasicOps.add(x, 0, y, 0, ref, 0, x.length);
        assertClose("add", read(b, o), toDouble(ref), new double[ref.length]);
    }

    private static void addBias(Backend b, int n, int dim) {
        SplittableRandom rnd = rnd("bias" + n + dim);
        float[] y = OpsData.gauss(n * dim, 1, rnd);
        float[] bias = OpsData.gauss(dim, 1, rnd);
        Tensor yt = tensor(b, n, dim, y);
        b.addBias(yt, tensor(b, 1, dim, bias));
        float[] ref = new float[y.length];
        for (int t = 0; t < n; t++) {
            BasicOps.add(y, t * dim, bias, 0, ref, t * dim, dim);
        }
        assertClose("addBias", read(b, yt), toDouble(ref), new double[ref.length]);
    }

    private static void scale(Backend b, int n, int dim) {
        float[] x = OpsData.gauss(n * dim, 3, rnd("scale" + n + dim));
        Tensor xt = tensor(b, n, dim, x);
        b.scale(xt, 0.37f);
        double[] ref = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            ref[i] = x[i] * 0.37f;
        }
        assertClose("scale", read(b, xt), ref, new double[ref.length]);
    }

    private static void softCap(Backend b, int n, int dim) {
        for (float cap : new float[] {30f, 5f}) {
            float[] x = OpsData.gauss(n * dim, 20, rnd("cap" + n + dim + cap));
            Tensor xt = tensor(b, n, dim, x);
            b.softCap(xt, cap);
            float[] ref = x.clone();
            BasicOps.softCap(ref, 0, ref.length, cap);
            double[] tol = new double[ref.length];
            Arrays.fill(tol, 4 * U * cap);
            assertClose("softCap " + cap, read(b, xt), toDouble(ref), tol);
        }
    }

    private static void argmax(Backend b, int n, int dim) {
        SplittableRandom rnd = rnd("argmax" + n + dim);
        float[] x = OpsData.gauss(n * dim, 1, rnd);
        int[] where = new int[n];
        for (int t = 0; t < n; t++) {
            where[t] = t == n - 1 ? dim - 1 : rnd.nextInt(dim); // the last row's max sits in the tail
            x[t * dim + where[t]] = 10f + t;
        }
        Tensor xt = tensor(b, n, dim, x);
        for (int t = 0; t < n; t++) {
            assertEquals(BasicOps.argmax(x, t * dim, dim), b.argmax(xt, t), "argmax of row " + t);
            assertEquals(where[t], b.argmax(xt, t), "argmax of row " + t);
        }
    }

    private static void argmaxTies(Backend b) {
        float[] x = new float[301];
        Arrays.fill(x, -1f);
        x[299] = 5f;
        x[17] = 5f;
        x[170] = 5f;
        assertEquals(17, b.argmax(tensor(b, 1, x.length, x), 0));
        float[] all = new float[45];
        Arrays.fill(all, -3f);
        assertEquals(0, b.argmax(tensor(b, 1, all.length, all), 0));
    }

    // ---------------------------------------------------------------- norms

    private Stream<DynamicNode> normCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (int[] s : new int[][] {{1, 7}, {1, 64}, {4, 100}, {3, 1031}}) {
            int n = s[0];
            int dim = s[1];
            String shape = "[" + n + "][" + dim + "]";
            for (boolean plusOne : new boolean[] {false, true}) {
                String v = plusOne ? " (1+w)" : "";
                out.add(dynamicTest("rmsNorm" + v + " " + shape, () -> rmsNorm(b, n, 1, dim, plusOne, false)));
                out.add(dynamicTest("rmsNorm" + v + " in place " + shape, () -> rmsNorm(b, n, 1, dim, plusOne, true)));
            }
            out.add(dynamicTest("layerNorm with bias " + shape, () -> layerNorm(b, n, dim, true, false)));
            out.add(dynamicTest("layerNorm without bias, in place " + shape, () -> layerNorm(b, n, dim, false, true)));
        }
        for (int[] s : new int[][] {{1, 4, 24}, {5, 3, 128}, {2, 6, 36}}) {
            String shape = s[0] + " tokens × " + s[1] + " heads of " + s[2];
            out.add(dynamicTest("QK-norm (per-head weight) " + shape, () -> rmsNorm(b, s[0], s[1], s[2], false, false)));
            out.add(dynamicTest("QK-norm (1+w), in place " + shape, () -> rmsNorm(b, s[0], s[1], s[2], true, true)));
        }
        return out.stream();
    }

    /** RMSNorm over groups of {@code dim} values, {@code groups} of them a row (QK-norm when > 1). */
    private static void rmsNorm(Backend b, int n, int groups, int dim, boolean plusOne, boolean inPlace) {
        SplittableRandom rnd = rnd("rms" + n + groups + dim + plusOne);
        int cols = groups * dim;
        float[] x = OpsData.gauss(n * cols, 2, rnd);
        float[] w = OpsData.gauss(dim, 0.5, rnd);
        float eps = plusOne ? 1e-6f : 1e-5f;
        Tensor xt = tensor(b, n, cols, x);
        Tensor o = inPlace ? xt : b.allocate(n, cols);
        b.rmsNorm(xt, tensor(b, 1, dim, w), eps, plusOne, o);
        float[] ref = new float[x.length];
        double[] tol = new double[x.length];
        for (int g = 0; g < n * groups; g++) {
            int off = g * dim;
            if (plusOne) {
                Norms.gemmaRmsNorm(x, off, w, eps, ref, off);
            } else {
                Norms.rmsNorm(x, off, w, eps, ref, off);
            }
            for (int i = 0; i < dim; i++) {
                tol[off + i] = (dim + 8) * U * Math.abs(ref[off + i]) + Float.MIN_NORMAL;
            }
        }
        assertClose("rmsNorm", read(b, o), toDouble(ref), tol);
    }

    private static void layerNorm(Backend b, int n, int dim, boolean withBias, boolean inPlace) {
        SplittableRandom rnd = rnd("ln" + n + dim + withBias);
        float[] x = OpsData.gauss(n * dim, 2, rnd);
        for (int i = 0; i < x.length; i++) {
            x[i] += 0.5f; // a mean to subtract
        }
        float[] w = OpsData.gauss(dim, 0.5, rnd);
        float[] bias = withBias ? OpsData.gauss(dim, 0.5, rnd) : null;
        Tensor xt = tensor(b, n, dim, x);
        Tensor o = inPlace ? xt : b.allocate(n, dim);
        b.layerNorm(xt, tensor(b, 1, dim, w), withBias ? tensor(b, 1, dim, bias) : null, 1e-5f, o);
        float[] ref = new float[x.length];
        Norms.layerNorm(x, dim, w, bias, 1e-5f, ref);
        double[] tol = new double[x.length];
        for (int t = 0; t < n; t++) {
            double sumAbs = 0;
            double mean = 0;
            for (int i = 0; i < dim; i++) {
                sumAbs += Math.abs(x[t * dim + i]);
                mean += x[t * dim + i];
            }
            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++) {
                var += (x[t * dim + i] - mean) * (x[t * dim + i] - mean);
            }
            double r = 1 / Math.sqrt(var / dim + 1e-5);
            for (int i = 0; i < dim; i++) {
                int k = t * dim + i;
                double normalized = Math.abs(ref[k] - (withBias ? bias[i] : 0));
                // the mean is a float sum of the row: its error scales with mean |x|, times r·|w|
                tol[k] = (dim + 8) * U * (normalized + sumAbs / dim * r * Math.abs(w[i]))
                        + (withBias ? 2 * U * Math.abs(bias[i]) : 0) + Float.MIN_NORMAL;
            }
        }
        assertClose("layerNorm", read(b, o), toDouble(ref), tol);
    }

    // ---------------------------------------------------------------- rope

    private Stream<DynamicNode> ropeCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (RopeLayout layout : RopeLayout.values()) {
            for (float scaling : new float[] {1f, 1.2f}) {
                // {tokens, heads, headDim, rotaryDim}
                for (int[] s : new int[][] {{1, 4, 64, 64}, {3, 2, 128, 128}, {2, 3, 20, 12}, {5, 5, 80, 20}}) {
                    String name = layout + " scaling " + scaling + ", " + s[0] + " tokens × " + s[1] + " heads of "
                            + s[2] + ", rotary " + s[3];
                    out.add(dynamicTest(name, () -> rope(b, layout, scaling, s[0], s[1], s[2], s[3], name)));
                }
            }
        }
        return out.stream();
    }

    private static void rope(Backend b, RopeLayout layout, float scaling, int n, int heads, int headDim, int rotary,
                             String name) {
        SplittableRandom rnd = rnd(name);
        float[] inv = new float[rotary / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / rotary));
        }
        int[] positions = new int[n];
        int[] choices = {0, 1, 7, 131, 4099, 100_000};
        for (int t = 0; t < n; t++) {
            positions[t] = choices[(t + n) % choices.length];
        }
        float[] x = OpsData.gauss(n * heads * headDim, 1, rnd);
        Tensor xt = tensor(b, n, heads * headDim, x);
        b.rope(xt, heads, headDim, positions, new RopeSpec(inv, scaling, rotary, layout));
        float[] ref = x.clone();
        new RopeTables(inv, scaling, rotary).apply(ref, heads, headDim, positions,
                layout == RopeLayout.NEOX ? dev.isthmus.kernels.cpu.ref.RopeLayout.NEOX
                        : dev.isthmus.kernels.cpu.ref.RopeLayout.INTERLEAVED);
        double[] tol = new double[x.length];
        int half = rotary / 2;
        for (int t = 0; t < n * heads; t++) {
            int base = t * headDim;
            for (int i = 0; i < half; i++) {
                int ia = layout == RopeLayout.NEOX ? base + i : base + 2 * i;
                int ib = layout == RopeLayout.NEOX ? base + i + half : base + 2 * i + 1;
                double mag = 8 * U * (Math.abs(x[ia]) + Math.abs(x[ib])) * scaling;
                tol[ia] = mag;
                tol[ib] = mag;
            }
        }
        assertClose(name, read(b, xt), toDouble(ref), tol);
    }

    // ---------------------------------------------------------------- activations

    private Stream<DynamicNode> activationCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (Activation act : Activation.values()) {
            for (int[] s : new int[][] {{1, 1}, {1, 43}, {4, 517}}) {
                String shape = "[" + s[0] + "][" + s[1] + "]";
                out.add(dynamicTest(act + " " + shape, () -> activation(b, act, s[0], s[1], false, false)));
                out.add(dynamicTest(act + " in place " + shape, () -> activation(b, act, s[0], s[1], true, false)));
                out.add(dynamicTest("gated " + act + " " + shape, () -> activation(b, act, s[0], s[1], false, true)));
                out.add(dynamicTest("gated " + act + " in place " + shape, () -> activation(b, act, s[0], s[1], true, true)));
            }
        }
        return out.stream();
    }

    private static float ref(Activation act, float x) {
        return switch (act) {
            case SILU -> Activations.silu(x);
            case GELU_TANH -> Activations.geluTanh(x);
            case GELU_ERF -> Activations.geluErf(x);
        };
    }

    private static void activation(Backend b, Activation act, int n, int dim, boolean inPlace, boolean gated) {
        SplittableRandom rnd = rnd(act + "act" + n + dim + gated);
        float[] x = OpsData.gauss(n * dim, 3, rnd);
        float[] special = {0f, -0f, 1e-3f, -1e-3f, 5f, -5f, 20f, -20f, 88f, -88f, -100f, 100f, 1e-30f};
        for (int i = 0; i < Math.min(special.length, x.length); i++) {
            x[x.length - 1 - i] = special[i];
        }
        float[] up = OpsData.gauss(n * dim, 1, rnd);
        Tensor xt = tensor(b, n, dim, x);
        Tensor o = inPlace ? xt : b.allocate(n, dim);
        if (gated) {
            b.gatedActivation(act, xt, tensor(b, n, dim, up), o);
        } else {
            b.activation(act, xt, o);
        }
        double[] ref = new double[x.length];
        double[] tol = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            float r = ref(act, x[i]);
            double g = gated ? Math.abs(up[i]) : 1;
            ref[i] = gated ? r * up[i] : r;
            tol[i] = (1e-5 * Math.abs(r) + 4e-7 * Math.abs(x[i])) * g + Float.MIN_NORMAL;
        }
        assertClose((gated ? "gated " : "") + act, read(b, o), ref, tol);
    }

    // ---------------------------------------------------------------- attention

    /**
     * One attention scenario: a layer of the paged cache (full, or sliding with {@code layerWindow}),
     * a spec, and the steps: each step reserves {@code steps[i]} tokens, stores their K/V and runs
     * attention for them (prefill when more than one, decode when one), compared with the reference
     * every time.
     */
    record AttnCase(String name, int heads, int kvHeads, int headDim, int layerWindow, int window, int chunk,
                    float softCap, float scale, boolean sinks, int tokensPerBlock, int[] steps, boolean expectRelease) {
    }

    private static int[] steps(int first, int ones) {
        return IntStream.concat(IntStream.of(first), IntStream.generate(() -> 1).limit(ones)).toArray();
    }

    private Stream<DynamicNode> attentionCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        for (KvType type : KvType.values()) {
            int hd = type == KvType.Q8_0 ? 64 : 36;
            int hd2 = type == KvType.Q8_0 ? 32 : 20;
            float dflt = Float.NaN;
            List<AttnCase> cases = List.of(
                    new AttnCase("prefill MHA", 3, 3, hd, 0, 0, 0, 0, dflt, false, 4, new int[] {7}, false),
                    new AttnCase("prefill GQA in two chunks", 6, 2, hd, 0, 0, 0, 0, dflt, false, 4, new int[] {5, 6}, false),
                    new AttnCase("decode GQA", 8, 2, hd, 0, 0, 0, 0, dflt, false, 16, new int[] {19, 1, 1}, false),
                    new AttnCase("decode MQA", 4, 1, hd2, 0, 0, 0, 0, dflt, false, 4, new int[] {9, 1}, false),
                    new AttnCase("sliding window 4 (mask only)", 4, 2, hd, 0, 4, 0, 0, dflt, false, 4,
                            new int[] {11, 1, 1}, false),
                    new AttnCase("chunked attention, chunk 4", 2, 1, hd, 0, 0, 4, 0, dflt, false, 4,
                            new int[] {10, 1, 3, 1}, false),
                    new AttnCase("sinks", 4, 2, hd2, 0, 0, 0, 0, dflt, true, 4, new int[] {6, 1}, false),
                    new AttnCase("soft-cap 5 and scale 0.5", 4, 4, hd, 0, 0, 0, 5f, 0.5f, false, 4, new int[] {8, 1},
                            false),
                    new AttnCase("custom scale 0.03", 2, 1, hd, 0, 0, 0, 0, 0.03f, false, 4, new int[] {5, 1}, false),
                    new AttnCase("sliding layer releases blocks", 4, 2, hd, 6, 6, 0, 0, dflt, false, 4, steps(3, 30), true),
                    new AttnCase("sliding layer, sinks, soft-cap, GQA", 6, 3, hd2, 8, 8, 0, 30f, 0.2f, true, 4,
                            IntStream.concat(IntStream.of(9, 4), IntStream.generate(() -> 1).limit(20)).toArray(), true));
            for (AttnCase c : cases) {
                String name = type + " " + c.name() + " (" + c.heads() + "/" + c.kvHeads() + " heads of " + c.headDim()
                        + ", " + describe(c.steps()) + ")";
                out.add(dynamicTest(name, () -> attention(b, type, c, name)));
            }
        }
        return out.stream();
    }

    /** "tokens 11, then 2 decode steps" for steps {11, 1, 1}. */
    private static String describe(int[] steps) {
        StringBuilder sb = new StringBuilder("tokens");
        int i = 0;
        for (; i < steps.length && (i == 0 || steps[i] > 1); i++) {
            sb.append(i == 0 ? " " : " + ").append(steps[i]);
        }
        int rest = steps.length - i;
        if (rest > 0) {
            sb.append(", then ").append(rest).append(" more steps");
        }
        return sb.toString();
    }

    private static KvCacheConfig config(KvType type, AttnCase c, int tokens) {
        KvCacheConfig.Builder cb = KvCacheConfig.builder().type(type).tokensPerBlock(c.tokensPerBlock())
                .totalBlocks(tokens / c.tokensPerBlock() + 2);
        return (c.layerWindow() > 0 ? cb.slidingLayer(c.layerWindow(), c.kvHeads(), c.headDim())
                : cb.fullLayer(c.kvHeads(), c.headDim())).build();
    }

    private static void attention(Backend b, KvType type, AttnCase c, String name) {
        SplittableRandom rnd = rnd(name);
        int tokens = Arrays.stream(c.steps()).sum();
        int kvCols = c.kvHeads() * c.headDim();
        int qCols = c.heads() * c.headDim();
        float scale = Float.isNaN(c.scale()) ? (float) (1.0 / Math.sqrt(c.headDim())) : c.scale();
        float[] sinks = c.sinks() ? OpsData.gauss(c.heads(), 1, rnd) : null;
        AttentionSpec spec = new AttentionSpec(c.heads(), c.kvHeads(), c.headDim(), scale, c.window(), c.chunk(),
                c.softCap(), sinks);
        AttentionOptions opts = new AttentionOptions(true, c.window(), c.chunk(), sinks, c.softCap(), scale);
        float[] allK = new float[tokens * kvCols];
        float[] allV = new float[tokens * kvCols];
        try (KvBlockPool pool = b.newKvPool(config(type, c, tokens)); KvSequence seq = pool.newSequence()) {
            for (int len : c.steps()) {
                int first = seq.reserve(len);
                float[] k = OpsData.gauss(len * kvCols, 1, rnd);
                float[] v = OpsData.gauss(len * kvCols, 1, rnd);
                b.storeKv(seq, 0, first, tensor(b, len, kvCols, k), tensor(b, len, kvCols, v));
                for (int r = 0; r < len * c.kvHeads(); r++) {
                    OpsData.roundTrip(type, k, r * c.headDim(), c.headDim());
                    OpsData.roundTrip(type, v, r * c.headDim(), c.headDim());
                }
                System.arraycopy(k, 0, allK, first * kvCols, k.length);
                System.arraycopy(v, 0, allV, first * kvCols, v.length);
                float[] q = OpsData.gauss(len * qCols, 1.5, rnd);
                Tensor o = b.allocate(len, qCols);
                b.attention(tensor(b, len, qCols, q), seq, 0, first, spec, o);
                int[] positions = IntStream.range(first, first + len).toArray();
                float[] ref = new float[len * qCols];
                Attention.attend(q, len, c.heads(), c.headDim(), positions, allK, allV, first + len, c.kvHeads(), opts, ref);
                double maxV = 0;
                for (int i = 0; i < (first + len) * kvCols; i++) {
                    maxV = Math.max(maxV, Math.abs(allV[i]));
                }
                double[] tol = new double[ref.length];
                Arrays.fill(tol, 1e-4 * maxV);
                assertClose(name + " at positions " + first + ".." + (first + len - 1), read(b, o), toDouble(ref), tol);
            }
            if (c.expectRelease()) {
                assertTrue(seq.firstLiveToken(0) > 0 && seq.block(0, 0) == -1,
                        "the scenario should have released sliding-window blocks; first live token "
                                + seq.firstLiveToken(0));
            }
        }
    }

    // ---------------------------------------------------------------- bad input

    private Stream<DynamicNode> badInputCases(Backend b) {
        List<DynamicNode> out = new ArrayList<>();
        Tensor x = b.allocate(2, 8);
        Tensor x3 = b.allocate(3, 8);
        Tensor x9 = b.allocate(2, 9);
        Tensor w8 = b.allocate(1, 8);
        Tensor w5 = b.allocate(1, 5);
        Tensor y = b.allocate(2, 4);
        Tensor wq = b.weight(DType.F16, 4, 8, OpsData.nativeCopy(ARENA, new byte[64]));
        RopeSpec rope = new RopeSpec(new float[] {1f, 0.1f}, 1f, 4, RopeLayout.NEOX);
        bad(out, "matmul: inner sizes differ", () -> b.matmul(x9, wq, y));
        bad(out, "matmul: y of the wrong shape", () -> b.matmul(x, wq, x));
        bad(out, "matmul: x not F32", () -> b.matmul(wq, wq, y));
        bad(out, "addBias: bias of the wrong size", () -> b.addBias(x, w5));
        bad(out, "addBias: y not F32", () -> b.addBias(wq, w8));
        bad(out, "add: shapes differ", () -> b.add(x, x3, x));
        bad(out, "add: out of another shape", () -> b.add(x, x, x3));
        bad(out, "add: not F32", () -> b.add(wq, wq, wq));
        bad(out, "scale: not F32", () -> b.scale(wq, 2f));
        bad(out, "rmsNorm: weight does not divide the row", () -> b.rmsNorm(x, w5, 1e-6f, false, x));
        bad(out, "rmsNorm: out of another shape", () -> b.rmsNorm(x, w8, 1e-6f, false, x3));
        bad(out, "rmsNorm: weight not F32", () -> b.rmsNorm(x, wq, 1e-6f, false, x));
        bad(out, "layerNorm: weight of the wrong size", () -> b.layerNorm(x, w5, null, 1e-6f, x));
        bad(out, "layerNorm: bias of the wrong size", () -> b.layerNorm(x, w8, w5, 1e-6f, x));
        bad(out, "layerNorm: out of another shape", () -> b.layerNorm(x, w8, w8, 1e-6f, x3));
        bad(out, "rope: heads·headDim is not the row", () -> b.rope(x, 3, 4, new int[] {0, 1}, rope));
        bad(out, "rope: positions for another token count", () -> b.rope(x, 2, 4, new int[] {0}, rope));
        bad(out, "rope: rotary dim above head dim", () -> b.rope(x, 4, 2, new int[] {0, 1}, rope));
        bad(out, "rope: negative position", () -> b.rope(x, 2, 4, new int[] {0, -1}, rope));
        bad(out, "activation: shapes differ", () -> b.activation(Activation.SILU, x, x3));
        bad(out, "gatedActivation: shapes differ", () -> b.gatedActivation(Activation.SILU, x, x3, x));
        bad(out, "gatedActivation: not F32", () -> b.gatedActivation(Activation.GELU_TANH, wq, wq, wq));
        bad(out, "embedding: token outside the vocabulary", () -> b.embedding(wq, new int[] {0, 4}, 1f, x));
        bad(out, "embedding: negative token", () -> b.embedding(wq, new int[] {-1, 0}, 1f, x));
        bad(out, "embedding: out of the wrong shape", () -> b.embedding(wq, new int[] {0}, 1f, x));
        bad(out, "softCap: cap not positive", () -> b.softCap(x, 0f));
        bad(out, "softCap: cap NaN", () -> b.softCap(x, Float.NaN));
        bad(out, "argmax: row outside the tensor", () -> b.argmax(x, 2));
        bad(out, "argmax: negative row", () -> b.argmax(x, -1));
        bad(out, "argmax: not F32", () -> b.argmax(wq, 0));
        out.add(dynamicTest("storeKv and attention reject bad shapes, positions and layers", () -> badKv(b)));
        return out.stream();
    }

    private static void bad(List<DynamicNode> out, String name, Executable call) {
        out.add(dynamicTest(name, () -> assertThrows(IllegalArgumentException.class, call, name)));
    }

    private static void badKv(Backend b) {
        KvCacheConfig cfg = KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(4).totalBlocks(16)
                .fullLayer(2, 8).slidingLayer(4, 2, 8).build();
        try (KvBlockPool pool = b.newKvPool(cfg); KvSequence seq = pool.newSequence()) {
            seq.reserve(3);
            Tensor k = b.allocate(3, 16);
            Tensor k2 = b.allocate(2, 16);
            Tensor k8 = b.allocate(3, 8);
            Tensor q = b.allocate(3, 32);
            AttentionSpec spec = AttentionSpec.causal(4, 2, 8);
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, 0, 0, k8, k8), "wrong row size");
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, 0, 0, k, k2), "k and v differ");
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, 0, 1, k, k), "positions not reserved");
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, 0, -1, k2, k2), "negative position");
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, 2, 0, k, k), "no layer 2");
            assertThrows(IllegalArgumentException.class, () -> b.storeKv(seq, -1, 0, k, k), "no layer -1");
            b.storeKv(seq, 0, 0, k, k);
            b.storeKv(seq, 1, 0, k, k);
            Tensor o = b.allocate(3, 32);
            assertThrows(IllegalArgumentException.class, () -> b.attention(q, seq, 0, 1, spec, o), "beyond the cache");
            assertThrows(IllegalArgumentException.class, () -> b.attention(q, seq, 0, -1, spec, o), "negative position");
            assertThrows(IllegalArgumentException.class, () -> b.attention(q, seq, 2, 0, spec, o), "no layer 2");
            assertThrows(IllegalArgumentException.class,
                    () -> b.attention(q, seq, 0, 0, AttentionSpec.causal(4, 1, 8), o), "KV heads differ from the layer");
            assertThrows(IllegalArgumentException.class,
                    () -> b.attention(q, seq, 0, 0, AttentionSpec.causal(2, 2, 16), o), "head dim differs from the layer");
            assertThrows(IllegalArgumentException.class, () -> b.attention(q, seq, 0, 0, spec, k), "out of another shape");
            // layer 1 slides over 4 tokens: after 8 more tokens its first blocks are gone, and a spec
            // that asks for a longer window must be refused rather than silently answered.
            for (int i = 0; i < 8; i++) {
                seq.reserve(1);
            }
            assertTrue(seq.firstLiveToken(1) > 0, "blocks of the sliding layer were released");
            Tensor q1 = b.allocate(1, 32);
            Tensor o1 = b.allocate(1, 32);
            int last = seq.length() - 1;
            b.storeKv(seq, 1, last, b.allocate(1, 16), b.allocate(1, 16));
            assertThrows(IllegalArgumentException.class, () -> b.attention(q1, seq, 1, last, spec, o1),
                    "keys the sliding layer released");
        }
    }

    // ---------------------------------------------------------------- after close

    private static void afterClose(BackendProvider provider) {
        Backend b = provider.open(2);
        Tensor x = b.allocate(2, 8);
        Tensor w8 = b.allocate(1, 8);
        Tensor wq = b.weight(DType.F16, 4, 8, OpsData.nativeCopy(ARENA, new byte[64]));
        Tensor y = b.allocate(2, 4);
        KvCacheConfig cfg = KvCacheConfig.builder().type(KvType.F16).tokensPerBlock(4).totalBlocks(4).fullLayer(1, 8).build();
        KvBlockPool pool = b.newKvPool(cfg);
        KvSequence seq = pool.newSequence();
        seq.reserve(2);
        Tensor k = b.allocate(2, 8);
        Tensor q = b.allocate(2, 16);
        RopeSpec rope = new RopeSpec(new float[] {1f, 0.1f}, 1f, 4, RopeLayout.NEOX);
        b.close();
        b.close(); // idempotent
        List<Executable> calls = List.of(
                () -> b.matmul(x, wq, y), () -> b.addBias(x, w8), () -> b.add(x, x, x), () -> b.scale(x, 2f),
                () -> b.rmsNorm(x, w8, 1e-6f, false, x), () -> b.layerNorm(x, w8, null, 1e-6f, x),
                () -> b.rope(x, 2, 4, new int[] {0, 1}, rope), () -> b.activation(Activation.SILU, x, x),
                () -> b.gatedActivation(Activation.SILU, x, x, x), () -> b.embedding(wq, new int[] {0, 1}, 1f, x),
                () -> b.softCap(x, 3f), () -> b.argmax(x, 0), () -> b.storeKv(seq, 0, 0, k, k),
                () -> b.attention(q, seq, 0, 0, AttentionSpec.causal(2, 1, 8), q), () -> b.allocate(1, 1),
                () -> b.weight(DType.F16, 4, 8, wq.data()), () -> b.newKvPool(cfg),
                () -> b.write(new float[16], 0, x), () -> b.read(x, new float[16], 0));
        for (int i = 0; i < calls.size(); i++) {
            assertThrows(IllegalStateException.class, calls.get(i), "call " + i + " after close");
        }
        assertFalse(pool.isOpen(), "closing the backend frees the KV pools it made");
        seq.close();
        pool.close();
    }
}
