package dev.isthmus.kernels.cpu.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.kernels.cpu.matvec.MatVec;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The op pool, driven through {@link MatVecPool} (one of its two production jobs, so that the test adds
 * no third receiver type to the pool's job call site: C2 compiles that site differently once it is
 * megamorphic, which once made {@code CpuBackendAllocationTest}'s attention box vectors in the same JVM):
 * every chunk of every call runs once, whether the workers were spinning, parked or quiesced.
 */
class OpPoolTest {

    @Test
    void everyRowOfEveryCallIsComputedWhateverTheWorkersWereDoing() throws Exception {
        int rows = 37;
        int cols = 64;
        SplittableRandom rnd = new SplittableRandom(5);
        try (Arena arena = Arena.ofShared(); OpPool pool = new OpPool(3); MatVecPool mv = new MatVecPool(pool)) {
            MemorySegment w = arena.allocate(4L * rows * cols, 64);
            MemorySegment x = arena.allocate(4L * cols, 64);
            MemorySegment y = arena.allocate(4L * rows, 64);
            MemorySegment ref = arena.allocate(4L * rows, 64);
            for (int i = 0; i < rows * cols; i++) {
                w.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
            for (int call = 0; call < 200; call++) {
                for (int i = 0; i < cols; i++) {
                    x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
                }
                y.fill((byte) 0xFF);   // NaN everywhere: a row the pool skipped stays NaN
                mv.matvec(GgmlType.F32, w, rows, cols, x, y);
                MatVec.matvec(GgmlType.F32, w, rows, cols, x, ref);
                for (int r = 0; r < rows; r++) {
                    float got = y.getAtIndex(ValueLayout.JAVA_FLOAT, r);
                    float want = ref.getAtIndex(ValueLayout.JAVA_FLOAT, r);
                    // same code per row; the lane reduction may differ in the last bits between JIT tiers
                    assertEquals(want, got, 1e-4f * (1 + Math.abs(want)), "row " + r + " of call " + call);
                }
                // alternate between back-to-back calls (spinning workers), quiesced workers and parked ones
                switch (call % 3) {
                    case 0 -> pool.quiesce();
                    case 1 -> Thread.sleep(2);   // past the spin: the workers park
                    default -> { }
                }
            }
        }
    }

    @Test
    void closedPoolRefusesWork() {
        OpPool pool = new OpPool(2);
        MatVecPool mv = new MatVecPool(pool);
        pool.close();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(4L * 8 * 8, 64);
            MemorySegment x = arena.allocate(4L * 8, 64);
            MemorySegment y = arena.allocate(4L * 8, 64);
            assertThrows(IllegalStateException.class, () -> mv.matvec(GgmlType.F32, w, 8, 8, x, y));
        }
        pool.close(); // idempotent
    }
}
