package dev.isthmus.nativebindings.dnnl;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DnnlMatmulTest {
    @BeforeAll
    static void loaded() {
        // oneDNN ships in a jar that is a dependency of this module: on linux-x86_64 it must load.
        assertTrue(DnnlLibrary.availability().available(), DnnlLibrary.availability().toString());
    }

    private static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2 - 1;
        return a;
    }

    /** Reference: dst[m][n] = sum_k src[m][k] * w(k, n), accumulated in double. */
    private static float[] reference(float[] src, float[] w, int m, int k, int n, boolean transposed) {
        float[] dst = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    acc += (double) src[i * k + p] * (transposed ? w[j * k + p] : w[p * n + j]);
                }
                dst[i * n + j] = (float) acc;
            }
        }
        return dst;
    }

    private static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1); // round to nearest even
        return (short) (bits >>> 16);
    }

    private static float fromBf16(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    private static void check(float[] expected, float[] actual, double relTol, double absTol) {
        double maxAbs = 0;
        for (float e : expected) maxAbs = Math.max(maxAbs, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            assertTrue(err <= relTol * Math.max(Math.abs(expected[i]), maxAbs * 1e-2) + absTol,
                    "element " + i + ": expected " + expected[i] + " got " + actual[i]);
        }
    }

    private static float[] run(int m, int k, int n, float[] src, MemorySegment weights, DnnlDataType wt,
                               DnnlMatmul.WeightsLayout layout, Arena arena) {
        return run(m, k, n, src, weights, wt, layout, Dnnl.dnnl_fpmath_mode_strict, arena);
    }

    private static float[] run(int m, int k, int n, float[] src, MemorySegment weights, DnnlDataType wt,
                               DnnlMatmul.WeightsLayout layout, int fpmath, Arena arena) {
        MemorySegment s = arena.allocateFrom(JAVA_FLOAT, src);
        MemorySegment d = arena.allocate(JAVA_FLOAT, (long) m * n);
        try (DnnlMatmul mm = DnnlMatmul.create(m, k, n, wt, layout, fpmath)) {
            mm.execute(s, weights, d);
        }
        return d.toArray(JAVA_FLOAT);
    }

    private void f32(int m, int k, int n, boolean transposed) {
        Random r = new Random(m * 31L + k * 7L + n);
        float[] src = random(r, m * k);
        float[] w = random(r, k * n);
        try (Arena arena = Arena.ofConfined()) {
            float[] got = run(m, k, n, src, arena.allocateFrom(JAVA_FLOAT, w), DnnlDataType.F32,
                    transposed ? DnnlMatmul.WeightsLayout.TRANSPOSED : DnnlMatmul.WeightsLayout.ROW_MAJOR, arena);
            check(reference(src, w, m, k, n, transposed), got, 1e-4, 1e-5);
        }
    }

    @Test
    void f32OddSizes() {
        f32(7, 13, 5, false);
    }

    @Test
    void f32Bigger() {
        f32(64, 256, 96, false);
    }

    @Test
    void f32TransposedWeights() {
        f32(7, 13, 5, true);
        f32(64, 256, 96, true);
    }

    @Test
    void bf16Weights() {
        int m = 9, k = 128, n = 33;
        for (boolean transposed : new boolean[] {false, true}) {
            Random r = new Random(42);
            float[] src = random(r, m * k);
            float[] w = random(r, k * n);
            short[] wb = new short[w.length];
            float[] wRounded = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                wb[i] = toBf16(w[i]);
                wRounded[i] = fromBf16(wb[i]);
            }
            DnnlMatmul.WeightsLayout layout = transposed ? DnnlMatmul.WeightsLayout.TRANSPOSED : DnnlMatmul.WeightsLayout.ROW_MAJOR;
            float[] expected = reference(src, wRounded, m, k, n, transposed);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment weights = arena.allocateFrom(JAVA_SHORT, wb);
                // strict: bf16 weights widened exactly, f32 math
                check(expected, run(m, k, n, src, weights, DnnlDataType.BF16, layout, arena), 1e-4, 1e-5);
                // fpmath bf16: the source may be rounded to bf16 too (8 significant bits)
                check(expected, run(m, k, n, src, weights, DnnlDataType.BF16, layout, Dnnl.dnnl_fpmath_mode_bf16, arena),
                        2e-2, 2e-2);
            }
        }
    }

    @Test
    void f16Weights() {
        int m = 9, k = 128, n = 33;
        for (boolean transposed : new boolean[] {false, true}) {
            Random r = new Random(43);
            float[] src = random(r, m * k);
            float[] w = random(r, k * n);
            short[] wh = new short[w.length];
            float[] wRounded = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                wh[i] = Float.floatToFloat16(w[i]);
                wRounded[i] = Float.float16ToFloat(wh[i]);
            }
            try (Arena arena = Arena.ofConfined()) {
                float[] got;
                try {
                    got = run(m, k, n, src, arena.allocateFrom(JAVA_SHORT, wh), DnnlDataType.F16,
                            transposed ? DnnlMatmul.WeightsLayout.TRANSPOSED : DnnlMatmul.WeightsLayout.ROW_MAJOR, arena);
                } catch (DnnlException e) {
                    throw new AssertionError("f16 weights on " + Dnnl.effectiveCpuIsaName() + ": " + e.getMessage(), e);
                }
                check(reference(src, wRounded, m, k, n, transposed), got, 1e-4, 1e-5);
            }
        }
    }

    @Test
    void rejectsShortOrHeapBuffers() {
        try (Arena arena = Arena.ofConfined(); DnnlMatmul mm = DnnlMatmul.create(4, 4, 4, DnnlDataType.F32,
                DnnlMatmul.WeightsLayout.ROW_MAJOR)) {
            MemorySegment ok = arena.allocate(JAVA_FLOAT, 16);
            MemorySegment shortSeg = arena.allocate(JAVA_FLOAT, 15);
            assertThrows(IllegalArgumentException.class, () -> mm.execute(shortSeg, ok, ok));
            assertThrows(IllegalArgumentException.class, () -> mm.execute(MemorySegment.ofArray(new float[16]), ok, ok));
            mm.execute(ok, ok, ok);
            assertEquals(0f, ok.getAtIndex(JAVA_FLOAT, 0));
        }
    }

    @Test
    void badDescriptorIsADnnlExceptionNamingTheCall() {
        DnnlException e = assertThrows(DnnlException.class,
                () -> Dnnl.memoryDescCreateWithTag(new long[] {2, 3}, Dnnl.dnnl_f32, Dnnl.dnnl_abcd));
        assertEquals("dnnl_memory_desc_create_with_tag", e.call());
        assertEquals(DnnlStatus.INVALID_ARGUMENTS, e.status());
        assertTrue(e.getMessage().contains("dnnl_invalid_arguments"), e.getMessage());
    }
}
