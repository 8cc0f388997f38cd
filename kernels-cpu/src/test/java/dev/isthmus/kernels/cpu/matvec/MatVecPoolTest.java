package dev.isthmus.kernels.cpu.matvec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MatVecPoolTest {

    @Test
    void everyTypeAndOddRowCountsMatchTheSingleThreadedKernel() {
        int[][] shapes = {{37, 512}, {1, 256}, {2, 256}, {129, 256}};
        for (int threads : new int[] {1, 2, 3}) {
            try (MatVecPool pool = new MatVecPool(threads)) {
                assertEquals(threads, pool.threads());
                for (GgmlType type : MatVecTestData.TYPES) {
                    for (int[] s : shapes) {
                        int rows = s[0];
                        int cols = type.blockSize() == 1 ? s[1] + 3 : s[1];
                        SplittableRandom rnd = new SplittableRandom(rows * 1000L + cols + type.ordinal());
                        byte[] w = MatVecTestData.weights(type, rows, cols, rnd);
                        float[] x = MatVecTestData.vector(cols, rnd);
                        float[] expected;
                        float[] got;
                        float[] expectedExact;
                        float[] gotExact;
                        try (Arena arena = Arena.ofShared()) {
                            MemorySegment ws = MatVecTestData.off(arena, w);
                            MemorySegment xs = MatVecTestData.off(arena, x);
                            MemorySegment ys = arena.allocate(4L * rows);
                            MatVec.matvecQ8(type, ws, rows, cols, xs, ys);
                            expected = ys.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                            pool.matvecQ8(type, ws, rows, cols, xs, ys);
                            got = ys.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                            MatVec.matvec(type, ws, rows, cols, xs, ys);
                            expectedExact = ys.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                            pool.matvec(type, ws, rows, cols, xs, ys);
                            gotExact = ys.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                        }
                        // Same row code; the lane reduction's order may differ between interpreted
                        // and compiled code, so compare within the reference error bound.
                        MatVecTestData.Ref ref = MatVecTestData.reference(type, w, rows, cols, x);
                        for (int r = 0; r < rows; r++) {
                            // same x codes on every thread: only the float rounding may differ
                            double bound = 2 * MatVecTestData.bound(cols,
                                    ref.magnitude()[r] + 2 * ref.xquant()[r]);
                            assertTrue(Math.abs(expected[r] - got[r]) <= bound,
                                    type + " " + rows + "x" + cols + " threads=" + threads + " row " + r);
                            assertTrue(Math.abs(expectedExact[r] - gotExact[r]) <= bound,
                                    type + " exact " + rows + "x" + cols + " threads=" + threads + " row " + r);
                        }
                    }
                }
            }
        }
    }

    @Test
    void closedPoolRejectsCallsAndBadArgumentsAreChecked() {
        MatVecPool pool = new MatVecPool(2);
        Arena arena = Arena.ofAuto();
        MemorySegment w = arena.allocate(34);
        MemorySegment x = arena.allocate(4 * 32);
        MemorySegment y = arena.allocate(4);
        assertThrows(IllegalArgumentException.class, () -> pool.matvecQ8(GgmlType.Q8_0, w, 2, 32, x, y));
        assertThrows(UnsupportedOperationException.class, () -> pool.matvecQ8(GgmlType.Q8_K, w, 1, 256, x, y));
        pool.matvecQ8(GgmlType.Q8_0, w, 1, 32, x, y);
        pool.close();
        pool.close();
        assertThrows(IllegalStateException.class, () -> pool.matvecQ8(GgmlType.Q8_0, w, 1, 32, x, y));
        assertThrows(IllegalArgumentException.class, () -> new MatVecPool(0));
        assertTrue(MatVecPool.physicalCores() >= 1);
    }
}
