package dev.isthmus.kernels.cpu.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class GemmTest {

    private static final List<GgmlType> DENSE = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16);
    /** Quantized types {@link Quantize} can produce and whose blocks have no additive offset. */
    private static final List<GgmlType> QUANT = List.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q6_K, GgmlType.MXFP4);

    static Stream<Arguments> denseCases() {
        List<Arguments> out = new ArrayList<>();
        for (GgmlType t : DENSE) {
            for (Gemm.Policy p : new Gemm.Policy[] {Gemm.Policy.PREFER_ONEDNN, Gemm.Policy.VECTOR_ONLY}) {
                for (int m : new int[] {1, 3, 17}) {
                    for (int k : new int[] {64, 96, 1024}) {
                        for (int n : new int[] {5, 130}) {
                            out.add(Arguments.of(t, p, m, k, n));
                        }
                    }
                }
            }
        }
        return out.stream();
    }

    static Stream<Arguments> quantCases() {
        List<Arguments> out = new ArrayList<>();
        for (GgmlType t : QUANT) {
            for (int m : new int[] {1, 3, 17}) {
                for (int k : new int[] {64, 96, 1024}) {
                    if (k % t.blockSize() != 0) {
                        continue;
                    }
                    for (int n : new int[] {5, 130}) {
                        out.add(Arguments.of(t, m, k, n));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} m={2} k={3} n={4}")
    @MethodSource("denseCases")
    void denseMatchesReference(GgmlType type, Gemm.Policy policy, int m, int k, int n) {
        if (policy == Gemm.Policy.PREFER_ONEDNN) {
            assumeTrue(Gemm.onednnAvailable(), "oneDNN not loadable here; the Vector API cases still run");
        }
        try (Gemm gemm = new Gemm(policy, null, 4)) {
            Gemm.Path expected = policy == Gemm.Policy.VECTOR_ONLY ? Gemm.Path.VECTOR : Gemm.Path.ONEDNN;
            assertEquals(expected, runAndCheck(gemm, type, m, k, n, seed(type, m, k, n)));
        }
    }

    @ParameterizedTest(name = "{0} m={1} k={2} n={3}")
    @MethodSource("quantCases")
    void quantizedFollowsTheTableAndMatchesReference(GgmlType type, int m, int k, int n) {
        try (Gemm gemm = new Gemm(Gemm.Policy.PREFER_ONEDNN, null, 4)) {
            Gemm.Path want = Gemm.onednnAvailable() ? Gemm.measuredChoice(type, m)
                    : Gemm.measuredChoiceWithoutOnednn(type, m);
            assertEquals(want, gemm.pathFor(type, m));
            assertEquals(want, runAndCheck(gemm, type, m, k, n, seed(type, m, k, n)));
            assertEquals(0, gemm.primitivesCreated(), "quantized types never use the direct oneDNN path");
        }
    }

    @Test
    void autoPolicyFollowsTheMeasuredTableAndIsCorrect() {
        try (Gemm gemm = new Gemm()) {
            for (GgmlType t : DENSE) {
                for (int m : new int[] {1, 17}) {
                    Gemm.Path want = Gemm.onednnAvailable() ? Gemm.measuredChoice(t, m)
                            : Gemm.measuredChoiceWithoutOnednn(t, m);
                    assertEquals(want, gemm.pathFor(t, m));
                    assertEquals(want, runAndCheck(gemm, t, m, 96, 130, seed(t, m, 96, 130)));
                }
            }
            assertEquals(Gemm.Path.ONEDNN_PANELS, Gemm.measuredChoice(GgmlType.Q4_K, 64));
            assertEquals(Gemm.Path.VECTOR, Gemm.measuredChoice(GgmlType.Q4_K, 1));
            assertEquals(Gemm.Path.VECTOR_GEMM, Gemm.measuredChoiceWithoutOnednn(GgmlType.Q4_K, 64));
            if (Gemm.onednnAvailable()) {
                assertEquals(Gemm.Path.ONEDNN_PANELS, gemm.pathFor(GgmlType.Q4_K, 64));
                assertEquals(Gemm.Path.ONEDNN_PANELS, runAndCheck(gemm, GgmlType.Q4_0, 64, 64, 30, 7));
                // F16/BF16 prompts take the panels too in AUTO (isthmus.gemm.dense; F32 stays direct)
                Gemm.Path dense = Gemm.DENSE_AS_PANELS ? Gemm.Path.ONEDNN_PANELS : Gemm.Path.ONEDNN;
                assertEquals(dense, gemm.pathFor(GgmlType.F16, 64));
                assertEquals(dense, runAndCheck(gemm, GgmlType.BF16, 64, 96, 130, 11));
                assertEquals(Gemm.Path.ONEDNN, gemm.pathFor(GgmlType.F32, 64));
            }
        }
    }

    @Test
    void vectorPathOnAPool() {
        try (MatVecPool pool = new MatVecPool(2); Gemm gemm = new Gemm(Gemm.Policy.VECTOR_ONLY, pool, 4)) {
            for (GgmlType t : List.of(GgmlType.F16, GgmlType.Q8_0)) {
                assertEquals(Gemm.Path.VECTOR, runAndCheck(gemm, t, 3, 1024, 130, seed(t, 3, 1024, 130)));
            }
        }
    }

    @Test
    void heapSegmentsFallBackToTheVectorApi() {
        try (Gemm gemm = new Gemm(Gemm.Policy.PREFER_ONEDNN, null, 4)) {
            SplittableRandom rnd = new SplittableRandom(3);
            int m = 3, k = 64, n = 5;
            byte[] w = weights(GgmlType.F32, n, k, rnd);
            float[] x = floats(m * k, rnd);
            float[] y = new float[m * n];
            Gemm.Path p = gemm.gemm(GgmlType.F32, MemorySegment.ofArray(w), m, k, n, MemorySegment.ofArray(x),
                    MemorySegment.ofArray(y));
            assertEquals(Gemm.Path.VECTOR_GEMM, p, "heap segments: no oneDNN; m >= 2: the Vector API GEMM");
            check(GgmlType.F32, w, m, k, n, x, y);
            p = gemm.gemm(GgmlType.F32, MemorySegment.ofArray(w), 1, k, n, MemorySegment.ofArray(x),
                    MemorySegment.ofArray(y));
            assertEquals(Gemm.Path.VECTOR, p, "heap segments, m = 1: the GEMV");
            check(GgmlType.F32, w, m, k, n, x, y);
            assertEquals(0, gemm.primitivesCreated());
        }
    }

    @Test
    void primitiveCacheReusesAndStaysBounded() {
        assumeTrue(Gemm.onednnAvailable(), "oneDNN not loadable here");
        try (Arena arena = Arena.ofShared(); Gemm gemm = new Gemm(Gemm.Policy.PREFER_ONEDNN, null, 2)) {
            int k = 64;
            int n = 5;
            SplittableRandom rnd = new SplittableRandom(11);
            MemorySegment w = native_(arena, weights(GgmlType.F32, n, k, rnd));
            MemorySegment x = native_(arena, floats(8 * k, rnd));
            MemorySegment y = arena.allocate(4L * 8 * n);
            for (int i = 0; i < 5; i++) {
                gemm.gemm(GgmlType.F32, w, 1, k, n, x, y);
            }
            assertEquals(1, gemm.primitivesCreated(), "one shape, sequential calls: one primitive");
            assertEquals(1, gemm.cachedPrimitives());
            for (int m = 2; m <= 5; m++) {   // four more shapes through a cache of two
                gemm.gemm(GgmlType.F32, w, m, k, n, x, y);
                assertTrue(gemm.cachedPrimitives() <= 2);
            }
            assertEquals(5, gemm.primitivesCreated());
            gemm.gemm(GgmlType.F32, w, 5, k, n, x, y);      // most recent: still cached
            assertEquals(5, gemm.primitivesCreated());
            gemm.gemm(GgmlType.F32, w, 1, k, n, x, y);      // least recent: evicted, recreated
            assertEquals(6, gemm.primitivesCreated());
            assertEquals(2, gemm.cachedPrimitives());
            gemm.gemm(GgmlType.F16, native_(arena, weights(GgmlType.F16, n, k, rnd)), 1, k, n, x, y);
            assertEquals(7, gemm.primitivesCreated(), "the type is part of the key");
            assertEquals(2, gemm.cachedPrimitives());
        }
    }

    @Test
    void concurrentCallsAreCorrect() throws Exception {
        Gemm.Policy policy = Gemm.onednnAvailable() ? Gemm.Policy.PREFER_ONEDNN : Gemm.Policy.VECTOR_ONLY;
        int threads = 4;
        try (Gemm gemm = new Gemm(policy, null, 3)) {
            ExecutorService ex = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    final int id = t;
                    fs.add(ex.submit(() -> {
                        for (int it = 0; it < 30; it++) {
                            GgmlType type = DENSE.get((id + it) % 3);
                            int m = 1 + (it % 3) * 8;     // 1, 9, 17: shapes shared between threads
                            runAndCheck(gemm, type, m, 96, 130, seed(type, m, 96, 130) + id * 1_000L + it);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get();
                }
            } finally {
                ex.shutdownNow();
            }
            assertTrue(gemm.cachedPrimitives() <= 3);
        }
    }

    @Test
    void badArguments() {
        try (Arena arena = Arena.ofConfined(); Gemm gemm = new Gemm()) {
            MemorySegment w = arena.allocate(4 * 64 * 5);
            MemorySegment x = arena.allocate(4 * 64);
            MemorySegment y = arena.allocate(4 * 5);
            assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.F32, w, 2, 64, 5, x, y));
            assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.F32, w, 1, 64, 6, x, y));
            assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.F32, w, -1, 64, 5, x, y));
            assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.Q8_0, w, 1, 60, 1, x, y));
            assertThrows(UnsupportedOperationException.class, () -> gemm.gemm(GgmlType.Q8_1, w, 1, 32, 1, x, y));
            assertEquals(Gemm.Path.VECTOR, gemm.gemm(GgmlType.F32, w, 0, 64, 5, x, y));
            assertThrows(IllegalArgumentException.class, () -> new Gemm(Gemm.Policy.AUTO, null, 0));
            Gemm closed = new Gemm();
            closed.close();
            assertThrows(IllegalStateException.class, () -> closed.gemm(GgmlType.F32, w, 1, 64, 5, x, y));
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static long seed(GgmlType t, int m, int k, int n) {
        return t.ordinal() * 1_000_003L + m * 7919L + k * 31L + n;
    }

    /** Random W [n][k] and X [m][k] in native (shared) segments, one call, checked; returns the path. */
    private static Gemm.Path runAndCheck(Gemm gemm, GgmlType type, int m, int k, int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] w = weights(type, n, k, rnd);
        float[] x = floats(m * k, rnd);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ws = native_(arena, w).asReadOnly();
            MemorySegment xs = native_(arena, x);
            MemorySegment ys = arena.allocate(4L * m * n);
            Gemm.Path p = gemm.gemm(type, ws, m, k, n, xs, ys);
            check(type, w, m, k, n, x, ys.toArray(ValueLayout.JAVA_FLOAT));
            return p;
        }
    }

    /**
     * Compares with {@code Σ_j Dequantize(W)[c][j] · X[r][j]} in double. Tolerance, per element:
     * {@code 1.01 · (k + 8) · 2^-24 · Σ_j |W[c][j]|·|X[r][j]|}. Any order of float summation of k
     * products (oneDNN's blocking is not specified; the Vector API uses lanes and a tree reduction)
     * has error at most {@code (k-1)·u·Σ|terms|} to first order, plus one rounding per product
     * (u = 2^-24); the +8 covers the few extra roundings of the dequantization (a block sum scaled by
     * {@code d}, {@code d·sc} products in Q6_K), the 1% the second-order terms. The types tested have
     * no additive block offset, so {@code Σ|w||x|} bounds every partial sum.
     */
    private static void check(GgmlType type, byte[] w, int m, int k, int n, float[] x, float[] y) {
        float[] wf = Dequantize.toFloats(type, MemorySegment.ofArray(w), (long) n * k);
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < n; c++) {
                double s = 0;
                double mag = 0;
                for (int j = 0; j < k; j++) {
                    double p = (double) wf[c * k + j] * x[r * k + j];
                    s += p;
                    mag += Math.abs(p);
                }
                double bound = 1.01 * (k + 8) * 0x1p-24 * mag;
                double err = Math.abs(y[r * n + c] - s);
                assertTrue(err <= bound, type + " Y[" + r + "][" + c + "] = " + y[r * n + c] + ", reference " + s
                        + ", error " + err + " > " + bound);
            }
        }
    }

    private static byte[] weights(GgmlType type, int n, int k, SplittableRandom rnd) {
        float[] v = new float[n * k];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * (rnd.nextInt(100) == 0 ? 2.0 : 0.1));
        }
        if (type == GgmlType.F32) {
            byte[] out = new byte[v.length * 4];
            MemorySegment.ofArray(out).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
            return out;
        }
        return Quantize.quantize(type, v, 0, v.length);
    }

    private static float[] floats(int len, SplittableRandom rnd) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static MemorySegment native_(Arena arena, byte[] b) {
        MemorySegment s = arena.allocate(Math.max(1, b.length), 64).asSlice(0, b.length);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, b.length);
        return s;
    }

    private static MemorySegment native_(Arena arena, float[] f) {
        MemorySegment s = arena.allocate(Math.max(4, 4L * f.length), 64).asSlice(0, 4L * f.length);
        MemorySegment.copy(MemorySegment.ofArray(f), 0, s, 0, 4L * f.length);
        return s;
    }
}
