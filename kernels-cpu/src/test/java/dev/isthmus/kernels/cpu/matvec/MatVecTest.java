package dev.isthmus.kernels.cpu.matvec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MatVecTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (GgmlType t : MatVecTestData.TYPES) {
            int bs = t.blockSize();
            if (bs == 1) {
                for (int cols : new int[] {1, 7, 8, 37, 64, 100, 1027}) {
                    out.add(Arguments.of(t, 5, cols));
                }
            } else {
                out.add(Arguments.of(t, 3, bs));          // one block
                out.add(Arguments.of(t, 7, bs * 3));
                out.add(Arguments.of(t, 4, bs * 17));      // many blocks
            }
            out.add(Arguments.of(t, 1, bs == 1 ? 2048 : 2048 / bs * bs));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @MethodSource("cases")
    void matchesTheScalarReference(GgmlType type, int rows, int cols) {
        SplittableRandom rnd = new SplittableRandom(type.ordinal() * 7919L + rows * 31L + cols);
        byte[] w = MatVecTestData.weights(type, rows, cols, rnd);
        float[] x = MatVecTestData.vector(cols, rnd);
        MatVecTestData.Ref ref = MatVecTestData.reference(type, w, rows, cols, x);

        // native, read-only, odd address (as a slice of a mapped file may be)
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(w.length + 3L).asSlice(3, w.length);
            MemorySegment.copy(MemorySegment.ofArray(w), 0, ws, 0, w.length);
            MemorySegment xs = arena.allocate(4L * cols + 1).asSlice(1, 4L * cols);
            MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, cols);
            MemorySegment ys = arena.allocate(4L * rows + 2).asSlice(2, 4L * rows);
            MatVec.matvecQ8(type, ws.asReadOnly(), rows, cols, xs.asReadOnly(), ys);
            float[] y2 = ys.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
            check(type, cols, ref, y2, false);
            // and aligned
            MemorySegment ys2 = arena.allocate(4L * rows);
            MatVec.matvecQ8(type, MatVecTestData.off(arena, w), rows, cols, MatVecTestData.off(arena, x), ys2);
            check(type, cols, ref, ys2.toArray(ValueLayout.JAVA_FLOAT), false);
            // float activations: float rounding only, for every type
            MatVec.matvec(type, ws.asReadOnly(), rows, cols, xs.asReadOnly(), ys);
            check(type, cols, ref, ys.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED), true);
        }
    }

    private static void check(GgmlType type, int cols, MatVecTestData.Ref ref, float[] y, boolean exact) {
        for (int r = 0; r < y.length; r++) {
            double err = Math.abs(y[r] - ref.y()[r]);
            double bound = exact ? MatVecTestData.bound(cols, ref.magnitude()[r])
                    : MatVecTestData.matvecBound(type, cols, ref, r);
            assertTrue(err <= bound, type + (exact ? " exact" : "") + " row " + r + ": got " + y[r] + ", reference "
                    + ref.y()[r] + ", error " + err + " > bound " + bound);
        }
    }

    @Test
    void eightBitActivationsAreMuchCloserThanTheirBound() {
        // The bound is a worst case; typical errors of the 8-bit-activation kernels are far smaller
        // (errors of independent terms cancel). Measured here so that docs/MATVEC.md can quote it.
        for (GgmlType type : MatVecTestData.TYPES) {
            if (!MatVec.quantizesActivations(type)) {
                continue;
            }
            int rows = 64;
            int cols = 2048;
            SplittableRandom rnd = new SplittableRandom(type.ordinal());
            byte[] w = MatVecTestData.weights(type, rows, cols, rnd);
            float[] x = MatVecTestData.vector(cols, rnd);
            MatVecTestData.Ref ref = MatVecTestData.reference(type, w, rows, cols, x);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment ys = arena.allocate(4L * rows);
                MatVec.matvecQ8(type, MatVecTestData.off(arena, w), rows, cols, MatVecTestData.off(arena, x), ys);
                double errSq = 0;
                double refSq = 0;
                double worstOfBound = 0;
                for (int r = 0; r < rows; r++) {
                    double e = ys.getAtIndex(ValueLayout.JAVA_FLOAT, r) - ref.y()[r];
                    errSq += e * e;
                    refSq += ref.y()[r] * ref.y()[r];
                    worstOfBound = Math.max(worstOfBound, Math.abs(e) / MatVecTestData.matvecBound(type, cols, ref, r));
                }
                double rel = Math.sqrt(errSq / refSq);
                System.out.printf("%s 8-bit activations: rms error / rms y = %.2e, worst error / bound = %.3f%n",
                        type, rel, worstOfBound);
                assertTrue(rel < 0.01, type + " relative rms error " + rel);
                assertTrue(worstOfBound < 0.5, type + " error reaches " + worstOfBound + " of the bound");
            }
        }
    }

    @Test
    void zeroRowsAndZeroColumns() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment y = MatVecTestData.off(arena, new float[] {5f, 5f});
            MatVec.matvecQ8(GgmlType.Q4_K, MatVecTestData.off(arena, new byte[0]), 2, 0,
                    MatVecTestData.off(arena, new float[0]), y);
            assertEquals(0f, y.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(0f, y.getAtIndex(ValueLayout.JAVA_FLOAT, 1));
            MatVec.matvecQ8(GgmlType.Q8_0, MatVecTestData.off(arena, new byte[0]), 0, 32,
                    MatVecTestData.off(arena, new float[32]), MatVecTestData.off(arena, new float[0]));
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyRead() {
        MemorySegment w = MemorySegment.ofArray(new byte[144 * 4]);
        MemorySegment x = MemorySegment.ofArray(new float[512]);
        MemorySegment y = MemorySegment.ofArray(new float[4]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MatVec.matvecQ8(GgmlType.Q4_K, w, 2, 300, x, y));
        assertTrue(e.getMessage().contains("whole number"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MatVec.matvecQ8(GgmlType.Q4_K, w, 3, 512, x, y));
        assertTrue(e.getMessage().contains("bytes of weights"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MatVec.matvecQ8(GgmlType.Q4_K, w, 2, 512, MemorySegment.ofArray(new float[511]), y));
        assertTrue(e.getMessage().contains("x holds"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MatVec.matvecQ8(GgmlType.Q4_K, w, 2, 256, x, MemorySegment.ofArray(new float[1])));
        assertTrue(e.getMessage().contains("y holds"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MatVec.matvecQ8(GgmlType.Q4_K, w, 2, 256, x, y.asReadOnly()));
        assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MatVec.matvecQ8(GgmlType.F32, w, -1, 4, x, y));
        assertThrows(IllegalArgumentException.class,
                () -> MatVec.matvecQ8(GgmlType.F32, w, Integer.MAX_VALUE, Integer.MAX_VALUE, x, y));
        UnsupportedOperationException u = assertThrows(UnsupportedOperationException.class,
                () -> MatVec.matvecQ8(GgmlType.IQ2_XXS, w, 1, 256, x, y));
        assertTrue(u.getMessage().contains("IQ2_XXS"), u.getMessage());
        assertFalse(MatVec.supports(GgmlType.Q8_K));
        for (GgmlType t : MatVecTestData.TYPES) {
            assertTrue(MatVec.supports(t), t::toString);
        }
    }

    @Test
    void nonFiniteValuesPropagate() {
        // F16 infinity and NaN must come out as in the reference (inf * x, NaN).
        short[] h = {0x7C00, 0x3C00, 0x0001, (short) 0x8400, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (short) 0x7E00};
        byte[] w = new byte[h.length * 2];
        for (int i = 0; i < h.length; i++) {
            w[2 * i] = (byte) h[i];
            w[2 * i + 1] = (byte) (h[i] >> 8);
        }
        float[] x = new float[h.length];
        x[0] = 1f;
        float[] y = new float[1];
        matvecF16(w, 16, x, y);
        assertEquals(Float.POSITIVE_INFINITY, y[0]);
        w[0] = 0; // drop the infinity (0 * inf would be NaN)
        w[1] = 0;
        x[2] = 1f;
        x[3] = 1f;
        matvecF16(w, 16, x, y);
        assertEquals(0x1p-24f - 0x1p-14f, y[0]); // a subnormal and a negative normal half
        x[16] = 1f;
        matvecF16(w, 17, x, y);
        assertTrue(Float.isNaN(y[0]));
    }

    private static void matvecF16(byte[] w, int cols, float[] x, float[] y) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ys = MatVecTestData.off(arena, y);
            MatVec.matvecQ8(GgmlType.F16, MatVecTestData.off(arena, w), 1, cols, MatVecTestData.off(arena, x), ys);
            y[0] = ys.getAtIndex(ValueLayout.JAVA_FLOAT, 0);
        }
    }
}
