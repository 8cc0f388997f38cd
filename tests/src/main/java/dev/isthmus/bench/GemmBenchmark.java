package dev.isthmus.bench;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.kernels.cpu.gemm.Gemm;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import dev.isthmus.nativebindings.dnnl.DnnlLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code Y[m][n] = X[m][k] · Wᵀ} through {@link Gemm} for any weight type and each implementation:
 * {@code ONEDNN} (direct oneDNN matmul, F32/F16/BF16 only), {@code VECTOR} (row-by-row Vector API
 * GEMV on a {@link MatVecPool}), {@code ONEDNN_PANELS} and {@code VECTOR_GEMM} (W decoded to f32
 * panels, multiplied by single-threaded oneDNN or the blocked Vector API kernel, on {@code threads}
 * panel workers). Weight bytes per call: {@code n * type.rowSize(k)}; flops: {@code 2 m n k} (both
 * printed at setup). For {@code ONEDNN}, oneDNN's OpenMP thread count is set with
 * {@code omp_set_num_threads} (found in the {@code libgomp} that {@code libdnnl} loads) on the
 * benchmark thread, which is the thread that calls oneDNN; the panel workers set theirs to 1.
 *
 * <p>The JMH jar leaves {@code org/bytedeco/**} out, so oneDNN must be given by path:
 * <pre>java -Disthmus.dnnl.path=$HOME/.cache/isthmus/native/SHA/libdnnl.so.3 -jar tests/target/benchmarks.jar GemmBenchmark</pre>
 * A case fails (rather than silently measuring a fallback) when the path taken is not the one asked
 * for, e.g. a oneDNN case when oneDNN is not loaded.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class GemmBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String type;

    /** k x n (W is [n][k]). */
    @Param({"2048x2048", "2048x8192"})
    public String shape;

    /** Rows of X: 1 = decode, 64 = a prefill chunk. */
    @Param({"1", "64"})
    public int m;

    @Param({"2"})
    public int threads;

    @Param({"ONEDNN", "VECTOR", "ONEDNN_PANELS", "VECTOR_GEMM"})
    public String impl;

    private GgmlType t;
    private int k;
    private int n;
    private Arena arena;
    private MemorySegment w;
    private MemorySegment x;
    private MemorySegment y;
    private MatVecPool pool;
    private Gemm gemm;
    private Gemm.Path expected;

    @Setup(Level.Trial)
    public void setUp() throws Throwable {
        t = GgmlType.valueOf(type);
        String[] kn = shape.split("x");
        k = Integer.parseInt(kn[0]);
        n = Integer.parseInt(kn[1]);
        arena = Arena.ofShared();
        long bytes = n * t.rowSize(k);
        w = arena.allocate(bytes, 64);
        x = arena.allocate(4L * m * k, 64);
        y = arena.allocate(4L * m * n, 64);
        SplittableRandom rnd = new SplittableRandom(42);
        MatVecBenchmark.fill(t, w, bytes, rnd);
        for (long i = 0; i < (long) m * k; i++) {
            x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
        expected = Gemm.Path.valueOf(impl);
        if (expected == Gemm.Path.ONEDNN || expected == Gemm.Path.ONEDNN_PANELS) {
            if (!DnnlLibrary.availability().available()) {
                throw new IllegalStateException("oneDNN unavailable (" + DnnlLibrary.availability().reason()
                        + "); pass -D" + DnnlLibrary.PATH_PROPERTY + "=.../libdnnl.so.3");
            }
        }
        switch (expected) {
            case ONEDNN -> {
                MethodHandle set = DnnlLibrary.require().downcall("omp_set_num_threads",
                        FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
                set.invokeExact(threads);
                MethodHandle get = DnnlLibrary.require().downcall("omp_get_max_threads",
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                int now = (int) get.invokeExact();
                System.out.printf("%n# omp_get_max_threads() on %s = %d%n", Thread.currentThread().getName(), now);
                gemm = new Gemm(Gemm.Policy.PREFER_ONEDNN, null, 4);
            }
            case VECTOR -> {
                pool = threads > 1 ? new MatVecPool(threads) : null;
                gemm = new Gemm(Gemm.Policy.VECTOR_ONLY, pool, 4);
            }
            case ONEDNN_PANELS -> gemm = new Gemm(Gemm.Policy.PANELS_ONEDNN, null, 4, threads);
            case VECTOR_GEMM -> gemm = new Gemm(Gemm.Policy.PANELS_VECTOR, null, 4, threads);
        }
        System.out.printf("%n# %s m=%d k=%d n=%d: %d weight bytes, %d flops per call%n", type, m, k, n, bytes,
                2L * m * n * k);
    }
    @TearDown(Level.Trial)
    public void tearDown() {
        gemm.close();
        if (pool != null) {
            pool.close();
        }
        arena.close();
    }

    @Benchmark
    public float gemm() {
        Gemm.Path p = gemm.gemm(t, w, m, k, n, x, y);
        if (p != expected) {
            throw new IllegalStateException("took " + p + ", wanted " + expected);
        }
        return y.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
    }

    /**
     * A second measurement that survives a shared, oversubscribed machine: per call, the wall time and
     * the whole process's CPU time (so oneDNN's OpenMP threads and the panel workers are counted), as
     * {@code GFLOP/s} on the wall clock and per CPU-second. On a quiet machine with {@code t} free
     * cores, a path that keeps {@code t} threads busy runs at about {@code t ×} its per-CPU-second rate;
     * under contention the wall figure drops while the per-CPU-second one does not (much).
     *
     * <pre>java -cp tests/target/benchmarks.jar dev.isthmus.bench.GemmBenchmark\$CpuTime TYPE M K N THREADS IMPL[,IMPL..] [SECONDS]</pre>
     * IMPL as {@link GemmBenchmark#impl}. Same data, same setup as the JMH benchmark.
     */
    public static final class CpuTime {
        private CpuTime() {
        }

        /**
         * Runs the measurement and prints one line per implementation.
         *
         * @param args type, m, k, n, threads, comma-separated implementations, optional seconds per round
         */
        public static void main(String[] args) throws Throwable {
            if (args.length < 6) {
                System.err.println("usage: TYPE M K N THREADS IMPL[,IMPL..] [SECONDS]");
                System.exit(2);
            }
            Object os = Class.forName("java.lang.management.ManagementFactory").getMethod("getOperatingSystemMXBean")
                    .invoke(null);
            java.lang.reflect.Method cpu = Class.forName("com.sun.management.OperatingSystemMXBean")
                    .getMethod("getProcessCpuTime");
            double seconds = args.length > 6 ? Double.parseDouble(args[6]) : 2;
            for (String impl : args[5].split(",")) {
                GemmBenchmark b = new GemmBenchmark();
                b.type = args[0];
                b.m = Integer.parseInt(args[1]);
                b.shape = args[2] + "x" + args[3];
                b.threads = Integer.parseInt(args[4]);
                b.impl = impl;
                b.setUp();
                try {
                    double flops = 2.0 * b.m * b.k * b.n;
                    long end = System.nanoTime() + (long) (seconds * 1e9);
                    while (System.nanoTime() < end) {      // warm-up round
                        b.gemm();
                    }
                    double bestWall = Double.MAX_VALUE;
                    double bestCpu = Double.MAX_VALUE;
                    for (int round = 0; round < 3; round++) {
                        long calls = 0;
                        long c0 = (long) cpu.invoke(os);
                        long t0 = System.nanoTime();
                        end = t0 + (long) (seconds * 1e9);
                        long t;
                        do {
                            b.gemm();
                            calls++;
                            t = System.nanoTime();
                        } while (t < end);
                        long c1 = (long) cpu.invoke(os);
                        bestWall = Math.min(bestWall, (double) (t - t0) / calls);
                        bestCpu = Math.min(bestCpu, (double) (c1 - c0) / calls);
                    }
                    System.out.printf("CPUTIME %s %s m=%d k=%d n=%d threads=%d: wall %.3f ms (%.1f GFLOP/s), "
                            + "cpu %.3f ms (%.1f GFLOP/s per CPU-second)%n", b.type, impl, b.m, b.k, b.n, b.threads,
                            bestWall / 1e6, flops / bestWall, bestCpu / 1e6, flops / bestCpu);
                } finally {
                    b.tearDown();
                }
            }
        }
    }
}
