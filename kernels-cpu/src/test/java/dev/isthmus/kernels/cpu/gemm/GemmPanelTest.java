package dev.isthmus.kernels.cpu.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.gguf.quant.Quantize;
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

/**
 * The panel paths ({@link Gemm.Path#ONEDNN_PANELS}, {@link Gemm.Path#VECTOR_GEMM}) for every type,
 * against {@code Σ Dequantize(W)·X} in double, on shapes that are not multiples of the register tile
 * (4 × 3), the vector width, the k block (1024) or the panel, with panels small enough that one call
 * uses many of them on several threads.
 */
class GemmPanelTest {

    static final List<GgmlType> TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K,
            GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.MXFP4);

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (GgmlType t : TYPES) {
            int bs = t.blockSize();
            // k: one block, a few blocks, and past the 1024-float k block with a ragged end
            int[] ks = bs == 1 ? new int[] {1, 13, 1037} : bs == 32 ? new int[] {32, 96, 1056} : new int[] {256, 1280};
            for (Gemm.Policy p : new Gemm.Policy[] {Gemm.Policy.PANELS_VECTOR, Gemm.Policy.PANELS_ONEDNN}) {
                for (int m : new int[] {1, 6, 13}) {
                    for (int k : ks) {
                        for (int n : new int[] {1, 7, 50}) {
                            out.add(Arguments.of(t, p, m, k, n));
                        }
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} m={2} k={3} n={4}")
    @MethodSource("cases")
    void matchesReference(GgmlType type, Gemm.Policy policy, int m, int k, int n) {
        if (policy == Gemm.Policy.PANELS_ONEDNN) {
            assumeTrue(Gemm.onednnAvailable(), "oneDNN not loadable here; the Vector API cases still run");
        }
        // 3 threads over panels of (1024 bytes / 4k) rows: many panels, a ragged last one
        try (Gemm gemm = new Gemm(policy, null, 4, 3, 1024)) {
            Gemm.Path want = policy == Gemm.Policy.PANELS_ONEDNN ? Gemm.Path.ONEDNN_PANELS : Gemm.Path.VECTOR_GEMM;
            assertEquals(want, run(gemm, type, m, k, n, 17L * m + 31L * k + n + type.ordinal(), true));
        }
    }

    @Test
    void defaultPanelSizeOnALargerShape() {
        for (Gemm.Policy p : new Gemm.Policy[] {Gemm.Policy.PANELS_VECTOR, Gemm.Policy.PANELS_ONEDNN}) {
            try (Gemm gemm = new Gemm(p, null, 4, 2)) {
                for (GgmlType t : List.of(GgmlType.Q4_K, GgmlType.F16)) {
                    run(gemm, t, 33, 2048, 301, 5, true);
                }
            }
        }
    }

    @Test
    void panelRowsFitTheBudgetAndSplitTheWork() {
        PanelGemm pg = new PanelGemm(2, 256 * 1024);
        assertEquals(24, pg.rowsPerPanel(2048, 2048, false));     // 32 rows fit, rounded to 24
        assertEquals(6, pg.rowsPerPanel(8192, 2048, false));      // 8 fit, rounded to a multiple of 3
        assertEquals(24, pg.rowsPerPanel(8192, 2048, true));      // oneDNN: never narrower than 24
        assertEquals(3, pg.rowsPerPanel(100_000, 2048, false));   // never fewer than 3 (one tile) ...
        assertEquals(2, pg.rowsPerPanel(100_000, 2, true));       // ... unless W has fewer rows
        assertEquals(3, pg.rowsPerPanel(64, 10, true));           // 10 rows over 2 threads: >= 2 panels each
        pg.close();
    }

    @Test
    void heapAndReadOnlySegments() {
        SplittableRandom rnd = new SplittableRandom(9);
        int m = 5, k = 64, n = 11;
        for (Gemm.Policy p : new Gemm.Policy[] {Gemm.Policy.PANELS_VECTOR, Gemm.Policy.PANELS_ONEDNN, Gemm.Policy.AUTO}) {
            try (Gemm gemm = new Gemm(p, null, 4, 2)) {
                byte[] w = weights(GgmlType.Q8_0, n, k, rnd);
                float[] x = floats(m * k, rnd);
                float[] y = new float[m * n];
                Gemm.Path path = gemm.gemm(GgmlType.Q8_0, MemorySegment.ofArray(w).asReadOnly(), m, k, n,
                        MemorySegment.ofArray(x), MemorySegment.ofArray(y));
                assertEquals(Gemm.Path.VECTOR_GEMM, path, "heap X: no oneDNN, the Vector API GEMM");
                check(GgmlType.Q8_0, w, m, k, n, x, y);
                assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.Q8_0, MemorySegment.ofArray(w),
                        m, k, n, MemorySegment.ofArray(x), MemorySegment.ofArray(y).asReadOnly()));
            }
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyRead() {
        try (Arena arena = Arena.ofConfined(); Gemm gemm = new Gemm(Gemm.Policy.PANELS_VECTOR, null, 4, 2)) {
            MemorySegment w = arena.allocate(GgmlType.Q4_K.rowSize(256) * 4 - 1);
            MemorySegment x = arena.allocate(4 * 256 * 8);
            MemorySegment y = arena.allocate(4 * 4 * 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gemm.gemm(GgmlType.Q4_K, w, 8, 256, 4, x, y));
            assertTrue(e.getMessage().contains("weights"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> gemm.gemm(GgmlType.Q4_K, w, 8, 128, 1, x, y));
            assertThrows(UnsupportedOperationException.class, () -> gemm.gemm(GgmlType.Q8_1, w, 8, 32, 1, x, y));
            assertThrows(IllegalArgumentException.class, () -> new Gemm(Gemm.Policy.AUTO, null, 4, 0));
            assertThrows(IllegalArgumentException.class, () -> new Gemm(Gemm.Policy.AUTO, null, 4, 1, 100));
        }
    }

    @Test
    void closedAfterPanelUseThrowsAndStopsWorkers() throws InterruptedException {
        Gemm gemm = new Gemm(Gemm.Policy.PANELS_VECTOR, null, 4, 2);
        run(gemm, GgmlType.Q4_0, 4, 64, 9, 1, true);
        assertTrue(workerThreads() >= 2, "workers started");
        gemm.close();
        gemm.close();   // idempotent
        assertThrows(IllegalStateException.class, () -> run(gemm, GgmlType.Q4_0, 4, 64, 9, 1, false));
        for (int i = 0; i < 100 && workerThreads() > 0; i++) {
            Thread.sleep(20);
        }
        assertEquals(0, workerThreads(), "closing stops the workers");
    }

    @Test
    void concurrentCallersShareTheWorkers() throws Exception {
        Gemm.Policy policy = Gemm.onednnAvailable() ? Gemm.Policy.PANELS_ONEDNN : Gemm.Policy.PANELS_VECTOR;
        try (Gemm gemm = new Gemm(policy, null, 4, 2, 4096)) {
            ExecutorService ex = Executors.newFixedThreadPool(3);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    final int id = t;
                    fs.add(ex.submit(() -> {
                        for (int it = 0; it < 10; it++) {
                            GgmlType type = TYPES.get((id * 5 + it) % TYPES.size());
                            int k = type.blockSize() == 256 ? 256 : 96;
                            run(gemm, type, 3 + it % 5, k, 40 + id, id * 100L + it, true);
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
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static long workerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("isthmus-gemm-") && t.isAlive()).count();
    }

    /** Random W and X (native unless asked otherwise), one call, checked; returns the path. */
    static Gemm.Path run(Gemm gemm, GgmlType type, int m, int k, int n, long seed, boolean check) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] w = weights(type, n, k, rnd);
        float[] x = floats(m * k, rnd);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ws = copy(arena, MemorySegment.ofArray(w), w.length).asReadOnly();
            MemorySegment xs = copy(arena, MemorySegment.ofArray(x), 4L * x.length);
            MemorySegment ys = arena.allocate(4L * m * n);
            ys.fill((byte) 0x7F);   // garbage: every element must be written
            Gemm.Path p = gemm.gemm(type, ws, m, k, n, xs, ys);
            if (check) {
                check(type, w, m, k, n, x, ys.toArray(ValueLayout.JAVA_FLOAT));
            }
            return p;
        }
    }

    /**
     * Per element, {@code |y - Σ w·x| <= 1.01·(k + 8)·2⁻²⁴·Σ|w||x|} with {@code w} the reference
     * dequantized weight: the panels hold exactly the reference's values (same float expressions), so
     * the only error is the float summation of k products in some order (see {@code GemmTest}).
     */
    static void check(GgmlType type, byte[] w, int m, int k, int n, float[] x, float[] y) {
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
                assertTrue(err <= bound, type + " m=" + m + " k=" + k + " n=" + n + ": Y[" + r + "][" + c + "] = "
                        + y[r * n + c] + ", reference " + s + ", error " + err + " > " + bound);
            }
        }
    }

    /**
     * Weights of any type: {@link Quantize} where it can make the type, else random block bytes with
     * the f16 scale fields set to small finite values (every other bit pattern is a valid code).
     */
    static byte[] weights(GgmlType type, int n, int k, SplittableRandom rnd) {
        if (type == GgmlType.F32 || Quantize.supports(type)) {
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
        int ts = type.typeSize();
        int blocks = n * (k / type.blockSize());
        byte[] out = new byte[blocks * ts];
        rnd.nextBytes(out);
        int[] fields = switch (type) {
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q5_0, Q8_0, Q4_0 -> new int[] {0};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            default -> new int[0];
        };
        for (int b = 0; b < blocks; b++) {
            for (int f : fields) {
                short h = Quantize.floatToF16((float) rnd.nextDouble(-0.01, 0.01));
                out[b * ts + f] = (byte) h;
                out[b * ts + f + 1] = (byte) (h >> 8);
            }
        }
        return out;
    }

    static float[] floats(int len, SplittableRandom rnd) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static MemorySegment copy(Arena arena, MemorySegment src, long bytes) {
        MemorySegment s = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        MemorySegment.copy(src, 0, s, 0, bytes);
        return s;
    }
}
