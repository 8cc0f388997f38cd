package dev.isthmus.kernels.cpu.matvec;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Steady-state allocation of {@link MatVec#matvec}, {@link MatVec#matvecQ8} and the pool's: zero once C2 has
 * compiled the kernels with the Vector API intrinsified (a vector that is not intrinsified is boxed,
 * so this also checks intrinsification). Runs in its own JVM (surefire {@code reuseForks=false}) on
 * native segments, as production does, so other tests' profiles do not shape the compiled code.
 */
class MatVecAllocationTest {

    @Test
    void allocatesNothingPerCallAfterWarmUp() throws ReflectiveOperationException {
        // com.sun.management.ThreadMXBean through reflection: the test sources compile inside the
        // named module, which does not read jdk.management; at run time tests are on the class path.
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocated = Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getThreadAllocatedBytes", long[].class);
        try (MatVecPool pool = new MatVecPool(2); Arena arena = Arena.ofShared()) {
            List<Thread> threads = new ArrayList<>();
            threads.add(Thread.currentThread());
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("isthmus-matvec-")) {
                    threads.add(t);
                }
            }
            long[] ids = threads.stream().mapToLong(Thread::threadId).toArray();
            int rows = 64;
            int cols = 512;
            StringBuilder report = new StringBuilder();
            for (GgmlType type : MatVecTestData.TYPES) {
                SplittableRandom rnd = new SplittableRandom(type.ordinal());
                // native segments, as in production (weights are a slice of the mapped file)
                byte[] wb = MatVecTestData.weights(type, rows, cols, rnd);
                MemorySegment w = arena.allocate(wb.length);
                MemorySegment.copy(MemorySegment.ofArray(wb), 0, w, 0, wb.length);
                MemorySegment x = arena.allocate(4L * cols);
                MemorySegment.copy(MemorySegment.ofArray(MatVecTestData.vector(cols, rnd)), 0, x, 0, 4L * cols);
                MemorySegment y = arena.allocate(4L * rows);
                // types on 8-bit activations also run their float-activation kernels
                boolean both = MatVec.quantizesActivations(type);
                for (int i = 0; i < 4000; i++) { // warm up until the kernels are compiled by C2
                    pool.matvecQ8(type, w, rows, cols, x, y);
                    MatVec.matvecQ8(type, w, rows, cols, x, y);
                    if (both) {
                        pool.matvec(type, w, rows, cols, x, y);
                        MatVec.matvec(type, w, rows, cols, x, y);
                    }
                }
                // Steady state: the best of a few rounds, since a background (re)compilation may
                // still be landing during the first one.
                int calls = 1000;
                double perCall = Double.MAX_VALUE;
                for (int round = 0; round < 6 && perCall >= 16; round++) {
                    long before = sum((long[]) allocated.invoke(mx, (Object) ids));
                    for (int i = 0; i < calls; i++) {
                        pool.matvecQ8(type, w, rows, cols, x, y);
                        MatVec.matvecQ8(type, w, rows, cols, x, y);
                        if (both) {
                            pool.matvec(type, w, rows, cols, x, y);
                            MatVec.matvec(type, w, rows, cols, x, y);
                        }
                    }
                    long after = sum((long[]) allocated.invoke(mx, (Object) ids));
                    perCall = Math.min(perCall, (after - before) / ((both ? 4.0 : 2.0) * calls));
                }
                report.append(type).append('=').append(perCall).append(' ');
                // "Near zero": a rare deoptimization or JIT event may allocate a little once.
                assertTrue(perCall < 16, type + " allocates " + perCall + " bytes per call; " + report);
            }
            System.out.println("matvec bytes allocated per call: " + report);
        }
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long a : v) {
            s += Math.max(0, a);
        }
        return s;
    }
}
