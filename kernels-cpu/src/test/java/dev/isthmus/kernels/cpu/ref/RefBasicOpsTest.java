package dev.isthmus.kernels.cpu.ref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RefBasicOpsTest {
    @Test
    void softmaxSumsToOneAndIsShiftInvariant() {
        Random random = new Random(7);
        float[] x = new float[33];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 5);
        }
        float[] shifted = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            shifted[i] = x[i] + 1000f; // would overflow exp without the max subtraction
        }
        float[] a = x.clone();
        BasicOps.softmax(a, 0, a.length);
        BasicOps.softmax(shifted, 0, shifted.length);
        double sum = 0;
        for (float v : a) {
            sum += v;
            assertTrue(v >= 0);
        }
        assertEquals(1.0, sum, 1e-6);
        for (int i = 0; i < x.length; i++) {
            assertEquals(a[i], shifted[i], 2e-5);
        }
    }

    @Test
    void softmaxHandCase() {
        float[] x = {5, 0, (float) Math.log(3), Float.NEGATIVE_INFINITY, 7};
        BasicOps.softmax(x, 1, 3); // only [0, ln 3, -inf]
        assertEquals(0.25f, x[1], 1e-7);
        assertEquals(0.75f, x[2], 1e-7);
        assertEquals(0f, x[3]);
        assertEquals(5f, x[0]);
        assertEquals(7f, x[4]);
    }

    @Test
    void softCapBoundsLogits() {
        float cap = 30f;
        float[] x = {0, 1, -1, 1e6f, -1e6f, 45};
        BasicOps.softCap(x, 0, x.length, cap);
        assertEquals(0f, x[0]);
        assertEquals(30 * Math.tanh(1 / 30.0), x[1], 1e-6);
        assertEquals(-x[1], x[2]);
        for (float v : x) {
            assertTrue(Math.abs(v) <= cap);
        }
        assertEquals(30 * Math.tanh(1.5), x[5], 1e-5);
    }

    @Test
    void residualAddAndEmbedding() {
        float[] acc = {1, 2, 3};
        BasicOps.addInPlace(acc, new float[] {0.5f, -2, 1});
        assertArrayEquals(new float[] {1.5f, 0, 4}, acc);

        float[] table = {0, 1, 2, 10, 11, 12, 20, 21, 22}; // [3][3]
        float[] out = new float[6];
        BasicOps.embedding(table, 3, new int[] {2, 0}, 2f, out);
        assertArrayEquals(new float[] {40, 42, 44, 0, 2, 4}, out);
        assertThrows(IndexOutOfBoundsException.class, () -> BasicOps.embedding(table, 3, 3, 1f, out, 0));
    }

    @Test
    void gemmaEmbedScaleIsFloat32Sqrt() {
        assertEquals(48f, BasicOps.gemmaEmbedScale(2304));
        assertEquals((float) Math.sqrt(640), BasicOps.gemmaEmbedScale(640));
        assertEquals(25.298221f, BasicOps.gemmaEmbedScale(640));
    }

    @Test
    void argmaxTakesFirstMaximumAndNaN() {
        assertEquals(2, BasicOps.argmax(new float[] {1, 3, 7, 7, 2}, 0, 5));
        assertEquals(0, BasicOps.argmax(new float[] {1, 3, 7, 7, 2}, 3, 2));
        assertEquals(1, BasicOps.argmax(new float[] {1, Float.NaN, 7}, 0, 3));
        assertEquals(0, BasicOps.argmax(new float[] {Float.NEGATIVE_INFINITY}, 0, 1));
    }
}
