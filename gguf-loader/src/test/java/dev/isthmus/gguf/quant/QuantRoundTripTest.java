package dev.isthmus.gguf.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Quantize → dequantize error bounds on Gaussian data and on data with outliers, orderings
 * between types, comparisons against the simple published reference recipes, and edge cases.
 *
 * <p>Metrics: {@code nrmse} = RMS error / RMS of the data; {@code maxRel} = the largest
 * |error| divided by the absolute maximum of the element's own block. Bounds have roughly 1.5–2×
 * headroom over the figures measured with the seeds below (printed to the test output).
 */
class QuantRoundTripTest {

    private static final int N = 256 * 128;

    record Err(double nrmse, double rmseRel, double maxRel, double sse) {
    }

    static float[] gaussian(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Gaussian data where 1% of elements are scaled by 20 (heavy outliers). */
    static float[] withOutliers(long seed, int n) {
        float[] x = gaussian(seed, n);
        Random r = new Random(seed + 1);
        for (int k = 0; k < n / 100; k++) {
            x[r.nextInt(n)] *= 20f;
        }
        return x;
    }

    static float[] roundTrip(GgmlType type, float[] x) {
        byte[] q = Quantize.quantize(type, x, 0, x.length);
        assertEquals(Quantize.bytesFor(type, x.length), q.length);
        float[] y = Dequantize.toFloats(type, MemorySegment.ofArray(q), x.length);
        for (float v : y) {
            assertTrue(Float.isFinite(v), "non-finite output for " + type);
        }
        return y;
    }

    static Err error(GgmlType type, float[] x, float[] y) {
        int bs = type.blockSize();
        double sse = 0;
        double ss = 0;
        double maxRel = 0;
        double rel2 = 0;
        for (int b = 0; b < x.length; b += bs) {
            double amax = 0;
            for (int i = b; i < b + bs; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            for (int i = b; i < b + bs; i++) {
                double e = (double) x[i] - y[i];
                sse += e * e;
                ss += (double) x[i] * x[i];
                if (amax > 0) {
                    rel2 += (e / amax) * (e / amax);
                    maxRel = Math.max(maxRel, Math.abs(e) / amax);
                }
            }
        }
        return new Err(Math.sqrt(sse / ss), Math.sqrt(rel2 / x.length), maxRel, sse);
    }

    static Err measure(GgmlType type, float[] x, String label) {
        Err e = error(type, x, roundTrip(type, x));
        System.out.printf("%-6s %-9s nrmse=%.5f rmse/absmax=%.5f maxRel=%.5f%n", type, label, e.nrmse(), e.rmseRel(), e.maxRel());
        return e;
    }

    /**
     * Asserts, on both data sets, RMS error relative to the block absmax below {@code rmseRel},
     * worst error relative to the block absmax below {@code maxRel}, and RMS error relative to the
     * data's RMS below {@code nrmse}.
     */
    static void assertBounds(GgmlType type, double rmseRel, double maxRel, double nrmse) {
        for (int k = 0; k < 2; k++) {
            Err e = k == 0 ? measure(type, gaussian(1, N), "gaussian") : measure(type, withOutliers(2, N), "outliers");
            String what = type + (k == 0 ? " gaussian " : " outliers ");
            assertTrue(e.rmseRel() < rmseRel, what + "rmse/absmax " + e.rmseRel());
            assertTrue(e.maxRel() < maxRel, what + "maxRel " + e.maxRel());
            assertTrue(e.nrmse() < nrmse, what + "nrmse " + e.nrmse());
        }
    }

    @Test
    void q8_0Bounds() {
        // Measured: rmse/absmax 0.00224, maxRel 0.00394 (half a step of absmax/127), nrmse 0.0054 / 0.0116.
        assertBounds(GgmlType.Q8_0, 0.003, 0.0045, 0.015);
    }

    @Test
    void q4_0Bounds() {
        // Measured: rmse/absmax 0.0346 / 0.0341, maxRel 0.125 / 0.115, nrmse 0.083 / 0.127.
        assertBounds(GgmlType.Q4_0, 0.045, 0.15, 0.16);
    }

    @Test
    void q4_KBounds() {
        // Measured: rmse/absmax 0.0233 / 0.0120, maxRel 0.102 / 0.090, nrmse 0.071 / 0.090.
        assertBounds(GgmlType.Q4_K, 0.03, 0.13, 0.11);
    }

    @Test
    void q6_KBounds() {
        // Measured: rmse/absmax 0.0055 / 0.0032, maxRel 0.018 / 0.016, nrmse 0.017 / 0.030.
        assertBounds(GgmlType.Q6_K, 0.007, 0.025, 0.04);
    }

    @Test
    void mxfp4Bounds() {
        // Measured: rmse/absmax 0.048 / 0.045, maxRel 0.200 / 0.208, nrmse 0.112 / 0.146.
        assertBounds(GgmlType.MXFP4, 0.06, 0.25, 0.18);
    }

    @Test
    void orderingOfTypes() {
        for (float[] x : new float[][] {gaussian(3, N), withOutliers(4, N)}) {
            double q40 = error(GgmlType.Q4_0, x, roundTrip(GgmlType.Q4_0, x)).sse();
            double q4k = error(GgmlType.Q4_K, x, roundTrip(GgmlType.Q4_K, x)).sse();
            double q6k = error(GgmlType.Q6_K, x, roundTrip(GgmlType.Q6_K, x)).sse();
            double q80 = error(GgmlType.Q8_0, x, roundTrip(GgmlType.Q8_0, x)).sse();
            assertTrue(q4k < q40, "Q4_K " + q4k + " should beat Q4_0 " + q40);
            assertTrue(q6k < q4k, "Q6_K " + q6k + " should beat Q4_K " + q4k);
            assertTrue(q80 < q6k, "Q8_0 " + q80 + " should beat Q6_K " + q6k);
        }
    }

    // --- the simple published reference recipes, simulated (reconstruction only) -------------

    private static float f16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /** Q8_0 recipe: d = absmax/127, q = round(x / d). */
    static float[] recipeQ8_0(float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1 / d : 0;
            for (int i = b; i < b + 32; i++) {
                y[i] = Math.round(x[i] * id) * f16(d);
            }
        }
        return y;
    }

    /** Q4_0 recipe: the signed extreme maps to -8, q = min(15, trunc(x / d + 8.5)). */
    static float[] recipeQ4_0(float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float max = 0;
            for (int i = b; i < b + 32; i++) {
                if (Math.abs(x[i]) > Math.abs(max)) {
                    max = x[i];
                }
            }
            float d = max / -8f;
            float id = d != 0 ? 1 / d : 0;
            for (int i = b; i < b + 32; i++) {
                int q = Math.min(15, (int) (x[i] * id + 8.5f));
                y[i] = (q - 8) * f16(d);
            }
        }
        return y;
    }

    /** MXFP4 recipe: exponent floor(log2(absmax)) - 2, nearest E2M1 value. */
    static float[] recipeMxfp4(float[] x) {
        float[] mags = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float scale = amax > 0 ? Math.scalb(1f, Math.getExponent(amax) - 2) : 0;
            for (int i = b; i < b + 32; i++) {
                float best = 0;
                for (float m : mags) {
                    float v = Math.copySign(m * scale, x[i]);
                    if (Math.abs(x[i] - v) < Math.abs(x[i] - best)) {
                        best = v;
                    }
                }
                y[i] = best;
            }
        }
        return y;
    }

    @Test
    void atLeastAsGoodAsReferenceRecipes() {
        for (float[] x : new float[][] {gaussian(5, N), withOutliers(6, N)}) {
            assertTrue(error(GgmlType.Q8_0, x, roundTrip(GgmlType.Q8_0, x)).sse()
                    <= error(GgmlType.Q8_0, x, recipeQ8_0(x)).sse());
            double mine = error(GgmlType.Q4_0, x, roundTrip(GgmlType.Q4_0, x)).sse();
            double ref = error(GgmlType.Q4_0, x, recipeQ4_0(x)).sse();
            System.out.printf("Q4_0 sse mine/recipe = %.4f%n", mine / ref);
            assertTrue(mine <= ref);
            mine = error(GgmlType.MXFP4, x, roundTrip(GgmlType.MXFP4, x)).sse();
            ref = error(GgmlType.MXFP4, x, recipeMxfp4(x)).sse();
            System.out.printf("MXFP4 sse mine/recipe = %.4f%n", mine / ref);
            assertTrue(mine <= ref);
        }
    }

    // --- edge cases ------------------------------------------------------------------------

    private static final GgmlType[] QUANTIZED = {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.MXFP4};

    @Test
    void allZeroBlocksStayZero() {
        for (GgmlType t : QUANTIZED) {
            float[] y = roundTrip(t, new float[512]);
            for (float v : y) {
                assertEquals(0f, v, 0f, t.toString());
            }
        }
    }

    @Test
    void oneHugeValue() {
        for (GgmlType t : QUANTIZED) {
            float[] x = gaussian(7, 512);
            x[77] = 1000f;
            x[300] = -5000f;
            float[] y = roundTrip(t, x);
            double tol = switch (t) {
                case Q8_0 -> 0.005;
                case Q6_K -> 0.025;
                case MXFP4 -> 0.25; // 1000 lies between E2M1 points 768 and 1024 at scale 2^7
                default -> 0.07;
            };
            assertEquals(1000f, y[77], 1000f * tol, t + " huge positive");
            assertEquals(-5000f, y[300], 5000f * tol, t + " huge negative");
        }
    }

    @Test
    void negativeOnlyBlocks() {
        float[] x = gaussian(8, 4096);
        for (int i = 0; i < x.length; i++) {
            x[i] = -Math.abs(x[i]) - 0.5f;
        }
        for (GgmlType t : QUANTIZED) {
            Err e = error(t, x, roundTrip(t, x));
            System.out.printf("%-6s negative  nrmse=%.5f maxRel=%.5f%n", t, e.nrmse(), e.maxRel());
            double bound = switch (t) {
                case Q8_0 -> 0.005;
                case Q6_K -> 0.025;
                case MXFP4 -> 0.25;
                default -> 0.1;
            };
            assertTrue(e.maxRel() < bound, t + " maxRel " + e.maxRel());
        }
    }

    @Test
    void constantAndTinyBlocks() {
        for (GgmlType t : QUANTIZED) {
            float[] c = new float[256];
            Arrays.fill(c, 3.5f);
            float[] y = roundTrip(t, c);
            for (float v : y) {
                // 3.5 is not an MXFP4 value at any scale (1.75 needs two mantissa bits): 3 or 4 is best.
                assertEquals(3.5f, v, t == GgmlType.MXFP4 ? 0.5f : 3.5f * 0.07f, t + " constant");
            }
            float[] tiny = gaussian(9, 256);
            for (int i = 0; i < tiny.length; i++) {
                tiny[i] *= 1e-3f;
            }
            assertTrue(error(t, tiny, roundTrip(t, tiny)).maxRel() < 0.2, t + " tiny");
        }
    }

    @Test
    void segmentOutputMatchesArrayOutput() {
        float[] x = withOutliers(10, 2048);
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.MXFP4,
                GgmlType.F16, GgmlType.BF16, GgmlType.F32}) {
            byte[] a = Quantize.quantize(t, x, 0, x.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(Quantize.bytesFor(t, x.length));
                assertEquals(a.length, Quantize.quantize(t, x, 0, x.length, seg));
                assertTrue(Arrays.equals(a, seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)), t.toString());
            }
        }
        float[] f32 = Dequantize.toFloats(GgmlType.F32, MemorySegment.ofArray(Quantize.quantize(GgmlType.F32, x, 0, x.length)), x.length);
        assertTrue(Arrays.equals(x, f32));
    }

    @Test
    void dequantizesAMillionElementsQuickly() {
        float[] x = gaussian(11, 1 << 20);
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_0}) {
            MemorySegment q = MemorySegment.ofArray(Quantize.quantize(t, x, 0, x.length));
            float[] y = new float[x.length];
            Dequantize.dequantize(t, q, x.length, y, 0); // warm-up
            long t0 = System.nanoTime();
            Dequantize.dequantize(t, q, x.length, y, 0);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("%-6s dequantize 1M elements: %d ms%n", t, ms);
            assertTrue(ms < 1000, t + " took " + ms + " ms");
        }
    }

    @Test
    void quantizesKQuantsQuickly() {
        // The K-quant searches are closed-form over a few candidates: tens of millions of values a
        // second on one core (the brute-force search they replace managed about 3 M/s, i.e. some
        // 1400 ms for these 4 M values unloaded). The bound is loose for loaded machines.
        float[] x = gaussian(12, 1 << 22);
        byte[] out = new byte[(int) Quantize.bytesFor(GgmlType.Q6_K, x.length)];
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K}) {
            long best = Long.MAX_VALUE;
            for (int rep = 0; rep < 3; rep++) {
                long t0 = System.nanoTime();
                Quantize.quantize(t, x, 0, x.length, out, 0);
                best = Math.min(best, System.nanoTime() - t0);
            }
            System.out.printf("%-6s quantize %d values: %d ms (%.1f M values/s)%n", t, x.length, best / 1_000_000,
                    x.length * 1e3 / best);
            assertTrue(best < 1_000_000_000L, t + " took " + best / 1_000_000 + " ms");
        }
    }
}
