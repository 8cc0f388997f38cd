package dev.isthmus.bench;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.kernels.cpu.matvec.MatVec;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
 * Decode GEMV {@code y = W·x} over weights in their GGUF block layout ({@link MatVec}), on one thread
 * or a {@link MatVecPool}. Reports time per call; weight bytes read per call are
 * {@code rows * type.rowSize(cols)} (printed at setup), so GB/s = bytes / time.
 *
 * <p>Weights are random block bytes with every f16/E8M0 scale field set to a small finite value
 * (speed does not depend on the values, but NaN or subnormal scales could), in a native segment
 * much larger than the caches for the big shapes, as a mapped file would be.
 *
 * <pre>java -jar tests/target/benchmarks.jar MatVecBenchmark -p shape=2048x2048 -p threads=2 -p exact=false,true</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class MatVecBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
            "MXFP4"})
    public String type;

    /**
     * rows x cols: Llama-3.2-1B's q/o (2048x2048), gate/up (8192x2048), down (2048x8192) and output
     * (128256x2048) projections; Qwen3-0.6B's 1024x1024, 3072x1024 and output (151936x1024).
     */
    @Param({"2048x2048", "8192x2048", "2048x8192", "128256x2048", "1024x1024", "3072x1024", "151936x1024"})
    public String shape;

    /** 1: {@link MatVec#matvec} on the benchmark thread; more: a {@link MatVecPool} of that size. */
    @Param({"1", "2"})
    public int threads;

    /**
     * {@code true}: {@link MatVec#matvec} (float activations, every type dequantized to float);
     * {@code false}: {@link MatVec#matvecQ8} (8-bit activations and integer kernels where
     * {@link MatVec#quantizesActivations} says so, identical to the exact path otherwise).
     */
    @Param({"false"})
    public boolean exact;

    private GgmlType t;
    private int rows;
    private int cols;
    private Arena arena;
    private MemorySegment w;
    private MemorySegment x;
    private MemorySegment y;
    private MatVecPool pool;

    @Setup(Level.Trial)
    public void setUp() {
        t = GgmlType.valueOf(type);
        String[] rc = shape.split("x");
        rows = Integer.parseInt(rc[0]);
        cols = Integer.parseInt(rc[1]);
        arena = Arena.ofShared();
        long bytes = rows * t.rowSize(cols);
        w = arena.allocate(bytes, 64);
        x = arena.allocate(4L * cols, 64);
        y = arena.allocate(4L * rows, 64);
        SplittableRandom rnd = new SplittableRandom(42);
        fill(t, w, bytes, rnd);
        for (int i = 0; i < cols; i++) {
            x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        }
        pool = threads > 1 ? new MatVecPool(threads) : null;
        System.out.printf("%n# %s %s: %d weight bytes per call%n", type, shape, bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (pool != null) {
            pool.close();
        }
        arena.close();
    }

    @Benchmark
    public float matvec() {
        if (pool != null) {
            if (exact) {
                pool.matvec(t, w, rows, cols, x, y);
            } else {
                pool.matvecQ8(t, w, rows, cols, x, y);
            }
        } else if (exact) {
            MatVec.matvec(t, w, rows, cols, x, y);
        } else {
            MatVec.matvecQ8(t, w, rows, cols, x, y);
        }
        return y.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
    }

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Random data with sane scales: F32/F16/BF16 from Gaussian floats, blocks from random bytes. */
    static void fill(GgmlType t, MemorySegment w, long bytes, SplittableRandom rnd) {
        switch (t) {
            case F32 -> {
                for (long o = 0; o < bytes; o += 4) {
                    w.set(F32, o, (float) rnd.nextGaussian());
                }
                return;
            }
            case F16, BF16 -> {
                for (long o = 0; o < bytes; o += 2) {
                    float v = (float) rnd.nextGaussian();
                    w.set(I16, o, t == GgmlType.F16 ? Quantize.floatToF16(v) : Quantize.floatToBf16(v));
                }
                return;
            }
            default -> {
            }
        }
        for (long o = 0; o + 8 <= bytes; o += 8) {
            w.set(ValueLayout.JAVA_LONG_UNALIGNED, o, rnd.nextLong());
        }
        int[] f16Fields = switch (t) {
            case Q8_0, Q4_0, Q5_0 -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            case MXFP4 -> new int[0];
            default -> throw new IllegalArgumentException(t.toString());
        };
        int ts = t.typeSize();
        for (long o = 0; o + ts <= bytes; o += ts) {
            for (int f : f16Fields) {
                w.set(I16, o + f, Quantize.floatToF16((float) rnd.nextDouble(0.001, 0.01)));
            }
            if (t == GgmlType.MXFP4) {
                w.set(ValueLayout.JAVA_BYTE, o, (byte) (120 + rnd.nextInt(8)));
            }
        }
    }
}
