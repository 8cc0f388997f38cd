package dev.isthmus.kernels.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures the memory read bandwidth that inference sees: several threads stream through an
 * off-heap buffer much larger than the caches, each summing its own stripe with the Vector API
 * (decode reads every weight once per token, so read bandwidth is the roofline that matters).
 * The best of a few passes is reported, after a warm-up pass that also faults the pages in.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private MemoryBandwidth() {
    }

    /** Result of a measurement. */
    public record Result(double bytesPerSecond, int threads, long bufferBytes, int passes) {
        public double gigabytesPerSecond() {
            return bytesPerSecond / 1e9;
        }
    }

    /**
     * Streams {@code bufferBytes} (rounded down to whole vectors per thread) with {@code threads}
     * threads, {@code passes} times after one warm-up pass, and returns the best rate.
     */
    public static Result measure(int threads, long bufferBytes, int passes) {
        if (threads < 1 || passes < 1 || bufferBytes < (long) threads * F.vectorByteSize()) {
            throw new IllegalArgumentException("threads=" + threads + ", passes=" + passes + ", bufferBytes=" + bufferBytes);
        }
        long stripe = bufferBytes / threads / F.vectorByteSize() * F.vectorByteSize();
        long total = stripe * threads;
        try (Arena arena = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "isthmus-bandwidth");
            t.setDaemon(true);
            return t;
        })) {
            warmUp(arena);
            MemorySegment buf = arena.allocate(total, 64);
            // Fill with small non-zero values so that pages are really backed.
            for (long i = 0; i < total; i += 4096) {
                buf.set(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1.0f);
            }
            double best = 0;
            double sink = 0;
            for (int pass = 0; pass <= passes; pass++) {
                List<Future<Float>> parts = new ArrayList<>(threads);
                long start = System.nanoTime();
                for (int t = 0; t < threads; t++) {
                    MemorySegment part = buf.asSlice(t * stripe, stripe);
                    parts.add(pool.submit(() -> sum(part)));
                }
                for (Future<Float> f : parts) {
                    sink += f.get();
                }
                long ns = System.nanoTime() - start;
                if (pass > 0) {
                    best = Math.max(best, total / (ns / 1e9));
                }
            }
            if (Double.isNaN(sink)) {
                throw new AssertionError("unreachable: keeps the sums alive");
            }
            return new Result(best, threads, total, passes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("bandwidth measurement interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("bandwidth measurement failed", e.getCause());
        }
    }

    /**
     * Gets {@link #sum} compiled before it is timed: one long call per pass would otherwise run it
     * interpreted (boxing every vector) or as an on-stack-replacement compile, and report a fraction
     * of the real bandwidth.
     */
    private static void warmUp(Arena arena) {
        MemorySegment small = arena.allocate(4096, 64);
        float sink = 0;
        for (int i = 0; i < 30_000; i++) {
            sink += sum(small);
        }
        if (Float.isNaN(sink)) {
            throw new AssertionError("unreachable: keeps the sums alive");
        }
    }

    /** Sums a segment of floats with four independent accumulators (keeps several loads in flight). */
    static float sum(MemorySegment seg) {
        long n = seg.byteSize();
        int step = F.vectorByteSize();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long i = 0;
        for (; i + 4L * step <= n; i += 4L * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, seg, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, seg, i + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, seg, i + 2L * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, seg, i + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        for (; i + step <= n; i += step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, seg, i, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
