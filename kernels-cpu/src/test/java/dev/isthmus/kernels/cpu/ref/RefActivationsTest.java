package dev.isthmus.kernels.cpu.ref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RefActivationsTest {
    @Test
    void erfMatchesTabulatedValues() {
        // Abramowitz & Stegun table 7.1 / high-precision references
        assertEquals(0.0, Activations.erf(0), 0);
        assertEquals(0.5204998778130465, Activations.erf(0.5), 1e-15);
        assertEquals(0.8427007929497149, Activations.erf(1), 1e-15);
        assertEquals(0.9953222650189527, Activations.erf(2), 1e-15);
        assertEquals(0.9995930479825550, Activations.erf(2.5), 1e-15);
        assertEquals(0.9999779095030014, Activations.erf(3), 1e-15);
        assertEquals(1 - 1.541725790028002e-8, Activations.erf(4), 1e-15);
        assertEquals(-0.8427007929497149, Activations.erf(-1), 1e-15);
        // continuity across the series / continued-fraction switch
        assertEquals(Activations.erf(Math.nextDown(2.5)), Activations.erf(2.5), 1e-14);
        assertEquals(1.0, Activations.erf(10), 0);
    }

    @Test
    void siluAndGelu() {
        assertEquals(0f, Activations.silu(0f));
        assertEquals(1 / (1 + Math.exp(-1)), Activations.silu(1f), 1e-7);
        assertEquals(-2 / (1 + Math.exp(2)), Activations.silu(-2f), 1e-7);
        // GELU(1) = 0.5 * (1 + erf(1/sqrt2)) = Phi(1) = 0.8413447460685429
        assertEquals(0.8413447460685429, Activations.geluErf(1f), 1e-7);
        assertEquals(-2 * (1 - 0.9772498680518208), Activations.geluErf(-2f), 1e-7);
        double t = Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715));
        assertEquals(0.5 * (1 + t), Activations.geluTanh(1f), 1e-7);
        // the two GELUs agree closely and are odd-symmetric around x/2
        for (float x = -6; x <= 6; x += 0.25f) {
            assertEquals(Activations.geluErf(x), Activations.geluTanh(x), 1e-3);
            assertEquals(x, Activations.geluErf(x) - Activations.geluErf(-x), 1e-6);
        }
    }

    @Test
    void gatedCombinations() {
        float[] gate = {-1, 0.5f, 2};
        float[] up = {3, -4, 5};
        float[] swi = new float[3];
        float[] geg = new float[3];
        Activations.swiGlu(gate, 0, up, 0, swi, 0, 3);
        Activations.geGlu(gate, 0, up, 0, geg, 0, 3);
        for (int i = 0; i < 3; i++) {
            double g = gate[i];
            assertEquals(g / (1 + Math.exp(-g)) * up[i], swi[i], 1e-6);
            assertEquals(Activations.geluTanh(gate[i]) * up[i], geg[i], 1e-6);
        }
    }

    @Test
    void gptOssSwiGluClampsAndShiftsUp() {
        float alpha = Activations.GPT_OSS_ALPHA;
        float[] gate = {1, 10, -10, 2};
        float[] up = {0.5f, 1, 20, -9};
        float[] out = new float[4];
        Activations.gptOssSwiGlu(gate, 0, up, 0, out, 0, 4, alpha, Activations.GPT_OSS_LIMIT);
        // plain case: (up + 1) * g * sigmoid(1.702 g)
        assertEquals(1.5 * 1 / (1 + Math.exp(-1.702)), out[0], 1e-6);
        // gate above the limit is clamped to 7
        assertEquals(2 * 7 / (1 + Math.exp(-7 * 1.702)), out[1], 1e-5);
        // gate is not clamped below; up is clamped to 7
        assertEquals(8 * -10 / (1 + Math.exp(10 * 1.702)), out[2], 1e-6);
        // up clamped to -7: (-7 + 1) = -6
        assertEquals(-6 * 2 / (1 + Math.exp(-2 * 1.702)), out[3], 1e-5);
        assertTrue(out[2] < 0 && out[2] > -1e-5);
    }
}
