package dev.isthmus.kernels.cpu.ref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class RefNormsTest {
    @Test
    void rmsNormOfAHandCase() {
        // x = [3, 4]: mean square 12.5, rms = sqrt(12.5 + eps)
        float[] x = {3, 4};
        float[] w = {2, 0.5f};
        float[] out = new float[2];
        Norms.rmsNorm(x, w, 0f, out);
        double r = 1 / Math.sqrt(12.5);
        assertEquals(2 * 3 * r, out[0], 1e-6);
        assertEquals(0.5 * 4 * r, out[1], 1e-6);
    }

    @Test
    void rmsNormEpsilonAndRowsAndOffsets() {
        float[] x = {9, 1, 2, 3, 4}; // a junk value, then two rows of two
        float[] w = {1, 1};
        float[] out = new float[6];
        Norms.rmsNorm(x, 1, w, 1f, out, 2);
        double r = 1 / Math.sqrt((1 + 4) / 2.0 + 1);
        assertEquals(1 * r, out[2], 1e-6);
        assertEquals(2 * r, out[3], 1e-6);
        assertEquals(0, out[0]);

        float[] rows = {1, 2, 3, 4};
        float[] y = new float[4];
        Norms.rmsNorm(rows, w, 1e-6f, y);
        double r2 = 1 / Math.sqrt((9 + 16) / 2.0 + 1e-6);
        assertEquals(4 * r2, y[3], 1e-6);
        // the normalized row has mean square 1 (eps aside)
        assertEquals(1.0, (y[2] * y[2] + y[3] * y[3]) / 2, 1e-5);
    }

    @Test
    void rmsNormInPlace() {
        float[] x = {1, -2, 3, -4};
        float[] copy = x.clone();
        float[] w = {0.5f, 1, 1.5f, 2};
        float[] expected = new float[4];
        Norms.rmsNorm(copy, w, 1e-5f, expected);
        Norms.rmsNorm(x, w, 1e-5f, x);
        assertArrayEquals(expected, x);
    }

    @Test
    void gemmaNormUsesOnePlusWeight() {
        float[] x = {1, -2, 3, -4};
        float[] w = {0.5f, 0, -1, 2};
        float[] shifted = new float[4];
        for (int i = 0; i < 4; i++) {
            shifted[i] = 1 + w[i];
        }
        float[] gemma = new float[4];
        float[] plain = new float[4];
        Norms.gemmaRmsNorm(x, w, 1e-6f, gemma);
        Norms.rmsNorm(x, shifted, 1e-6f, plain);
        assertArrayEquals(plain, gemma, 1e-7f);
        assertEquals(0f, gemma[2]); // weight -1 zeroes the channel
        double r = 1 / Math.sqrt(30 / 4.0 + 1e-6);
        assertEquals(1.5 * r, gemma[0], 1e-6);
    }

    @Test
    void layerNormWithAndWithoutBias() {
        float[] x = {1, 2, 3, 4}; // mean 2.5, biased variance 1.25
        float[] w = {1, 2, 1, 1};
        float[] b = {0, 0, 10, 0};
        float[] out = new float[4];
        Norms.layerNorm(x, 4, w, b, 0f, out);
        double r = 1 / Math.sqrt(1.25);
        assertEquals(-1.5 * r, out[0], 1e-6);
        assertEquals(2 * -0.5 * r, out[1], 1e-6);
        assertEquals(0.5 * r + 10, out[2], 1e-5);
        assertEquals(1.5 * r, out[3], 1e-6);

        float[] noBias = new float[4];
        Norms.layerNorm(x, 4, w, null, 0f, noBias);
        assertEquals(0.5 * r, noBias[2], 1e-6);

        float[] plain = new float[4];
        Norms.layerNorm(x, 4, null, null, 1e-5f, plain);
        double sum = 0;
        double sumSq = 0;
        for (float v : plain) {
            sum += v;
            sumSq += v * v;
        }
        assertEquals(0, sum, 1e-6);
        assertEquals(4 * 1.25 / (1.25 + 1e-5), sumSq, 1e-5);
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Norms.rmsNorm(new float[5], new float[2], 1e-6f,
                new float[5]));
        assertThrows(IllegalArgumentException.class, () -> Norms.layerNorm(new float[4], 4, new float[3], null,
                1e-6f, new float[4]));
    }
}
