package dev.isthmus.kernels.cpu.ref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RefRopeTest {
    private static void assertRelative(double expected, double actual, double tolerance, String what) {
        assertEquals(expected, actual, Math.abs(expected) * tolerance + 1e-30, what);
    }

    @Test
    void defaultInverseFrequenciesAreThetaPowers() {
        Rope rope = new Rope(RopeConfig.plain(10000), 64, 2048);
        RopeTables t = rope.initialTables();
        assertEquals(64, t.rotaryDim());
        assertEquals(1f, t.attentionScaling());
        assertEquals(1f, t.inverseFrequency(0));
        for (int i = 0; i < 32; i++) {
            assertRelative(Math.pow(10000, -2.0 * i / 64), t.inverseFrequency(i), 2e-7, "inv_freq " + i);
        }
        assertEquals(0.1f, t.inverseFrequency(8), 1e-8f); // 10000^(-16/64) = 0.1
    }

    @Test
    void unitVectorRotatesByPositionTimesTheta() {
        int headDim = 8;
        Rope rope = new Rope(RopeConfig.plain(100), headDim, 512);
        RopeTables t = rope.initialTables();
        int position = 37;
        for (int j = 0; j < headDim / 2; j++) {
            double angle = (float) (Math.pow(100, -2.0 * j / headDim)) * position;
            float[] neox = new float[headDim];
            neox[j] = 1;
            t.apply(neox, 0, 1, headDim, position, RopeLayout.NEOX);
            assertEquals(Math.cos(angle), neox[j], 1e-5);
            assertEquals(Math.sin(angle), neox[j + headDim / 2], 1e-5);

            float[] gptj = new float[headDim];
            gptj[2 * j] = 1;
            t.apply(gptj, 0, 1, headDim, position, RopeLayout.INTERLEAVED);
            assertEquals(Math.cos(angle), gptj[2 * j], 1e-5);
            assertEquals(Math.sin(angle), gptj[2 * j + 1], 1e-5);
            // the partner unit vector goes the other way: (0, 1) -> (-sin, cos)
            float[] partner = new float[headDim];
            partner[j + headDim / 2] = 1;
            t.apply(partner, 0, 1, headDim, position, RopeLayout.NEOX);
            assertEquals(-Math.sin(angle), partner[j], 1e-5);
            assertEquals(Math.cos(angle), partner[j + headDim / 2], 1e-5);
        }
    }

    @Test
    void positionZeroIsIdentityAndRotationPreservesNormsAndRelativeAngles() {
        Random random = new Random(3);
        int heads = 3;
        int headDim = 16;
        Rope rope = new Rope(RopeConfig.plain(10000), headDim, 4096);
        RopeTables t = rope.initialTables();
        float[] q = new float[heads * headDim];
        float[] k = new float[heads * headDim];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextGaussian();
            k[i] = (float) random.nextGaussian();
        }
        for (RopeLayout layout : RopeLayout.values()) {
            float[] same = q.clone();
            t.apply(same, 0, heads, headDim, 0, layout);
            for (int i = 0; i < q.length; i++) {
                assertEquals(q[i], same[i]);
            }
            // <R(m) q, R(n) k> depends only on m - n
            double d1 = rotatedDot(t, q, k, 10, 7, headDim, layout);
            double d2 = rotatedDot(t, q, k, 103, 100, headDim, layout);
            assertEquals(d1, d2, 1e-4);
            float[] r = q.clone();
            t.apply(r, 0, heads, headDim, 1234, layout);
            assertEquals(norm(q, 0, q.length), norm(r, 0, r.length), 1e-4);
        }
    }

    private static double rotatedDot(RopeTables t, float[] q, float[] k, int m, int n, int headDim, RopeLayout layout) {
        float[] a = new float[headDim];
        float[] b = new float[headDim];
        System.arraycopy(q, 0, a, 0, headDim);
        System.arraycopy(k, 0, b, 0, headDim);
        t.apply(a, 0, 1, headDim, m, layout);
        t.apply(b, 0, 1, headDim, n, layout);
        double dot = 0;
        for (int i = 0; i < headDim; i++) {
            dot += a[i] * b[i];
        }
        return dot;
    }

    private static double norm(float[] x, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += x[i] * x[i];
        }
        return Math.sqrt(s);
    }

    @Test
    void partialRotaryLeavesTheTailAlone() {
        int headDim = 8;
        Rope rope = new Rope(RopeConfig.plain(10000).withPartialRotaryFactor(0.5), headDim, 128);
        assertEquals(4, rope.rotaryDim());
        RopeTables t = rope.initialTables();
        // the exponent uses the rotary dim: inv_freq[1] = 10000^(-2/4) = 0.01
        assertEquals(0.01f, t.inverseFrequency(1), 1e-9f);
        float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        t.apply(x, 0, 2, headDim, 5, RopeLayout.NEOX);
        for (int h = 0; h < 2; h++) {
            for (int i = 4; i < 8; i++) {
                assertEquals(h * 8 + i + 1, x[h * 8 + i]);
            }
        }
        // pair (0, 2) rotates by 5 * 1 radian
        assertEquals(1 * Math.cos(5) - 3 * Math.sin(5), x[0], 1e-5);
        assertEquals(3 * Math.cos(5) + 1 * Math.sin(5), x[2], 1e-5);
    }

    @Test
    void tokensAreRotatedAtTheirOwnPositions() {
        int headDim = 4;
        RopeTables t = new Rope(RopeConfig.plain(10000), headDim, 64).initialTables();
        float[] batch = new float[2 * 2 * headDim];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = i % 5 - 2;
        }
        float[] expected = batch.clone();
        t.apply(expected, 0, 2, headDim, 3, RopeLayout.NEOX);
        t.apply(expected, 2 * headDim, 2, headDim, 9, RopeLayout.NEOX);
        t.apply(batch, 2, headDim, new int[] {3, 9}, RopeLayout.NEOX);
        for (int i = 0; i < batch.length; i++) {
            assertEquals(expected[i], batch[i]);
        }
    }

    @Test
    void linearScalingDividesFrequencies() {
        RopeTables plain = new Rope(RopeConfig.plain(10000), 32, 2048).initialTables();
        RopeTables linear = new Rope(RopeConfig.linear(10000, 4), 32, 2048).initialTables();
        for (int i = 0; i < 16; i++) {
            assertEquals(plain.inverseFrequency(i) / 4f, linear.inverseFrequency(i));
        }
        // position 4p under linear(4) equals position p unscaled
        float[] a = {1, 0, 0, 0, 0, 0, 0, 0};
        float[] b = a.clone();
        RopeTables p8 = new Rope(RopeConfig.plain(10000), 8, 2048).initialTables();
        RopeTables l8 = new Rope(RopeConfig.linear(10000, 4), 8, 2048).initialTables();
        p8.apply(a, 0, 1, 8, 3, RopeLayout.NEOX);
        l8.apply(b, 0, 1, 8, 12, RopeLayout.NEOX);
        assertEquals(a[0], b[0], 1e-6);
        assertEquals(a[4], b[4], 1e-6);
    }

    @Test
    void dynamicNtkBaseFollowsSequenceLength() {
        int dim = 64;
        int maxPos = 2048;
        double factor = 2;
        Rope rope = new Rope(RopeConfig.dynamic(10000, factor), dim, maxPos);
        RopeTables plain = new Rope(RopeConfig.plain(10000), dim, maxPos).initialTables();
        // at or below max positions: base * 1^(...) = the plain frequencies
        for (int i = 0; i < dim / 2; i++) {
            assertEquals(plain.inverseFrequency(i), rope.initialTables().inverseFrequency(i));
            assertEquals(plain.inverseFrequency(i), rope.tables(100).inverseFrequency(i));
        }
        // at 4096: base' = 10000 * (2 * 4096 / 2048 - 1)^(64/62) = 10000 * 3^(64/62)
        double base = 10000 * Math.pow(3, 64.0 / 62);
        RopeTables t = rope.tables(4096);
        for (int i = 0; i < dim / 2; i++) {
            assertRelative(Math.pow(base, -2.0 * i / dim), t.inverseFrequency(i), 5e-7, "dynamic " + i);
        }
        assertEquals(1f, t.attentionScaling());
    }

    @Test
    void dynamicScheduleGrowsKeepsAndResetsAsTransformers() {
        Rope rope = new Rope(RopeConfig.dynamic(10000, 2), 16, 100);
        Rope.Schedule schedule = rope.schedule();
        assertSame(rope.initialTables(), schedule.forward(new int[] {0, 1, 2}));
        RopeTables grown = schedule.forward(149); // seq_len 150 > 100: recomputed
        assertEquals(rope.tables(150).inverseFrequency(5), grown.inverseFrequency(5));
        assertNotEquals(rope.initialTables().inverseFrequency(5), grown.inverseFrequency(5));
        // seq_len 120 is below the cached 150 and above 100: the cached tables stay
        assertSame(grown, schedule.forward(119));
        RopeTables longer = schedule.forward(199);
        assertNotEquals(grown.inverseFrequency(5), longer.inverseFrequency(5));
        // back below max positions: reset to the original tables
        assertSame(rope.initialTables(), schedule.forward(10));
    }

    @Test
    void llama31InverseFrequenciesByFormula() {
        // Llama 3.1: rope_theta 500000, factor 8, low 1, high 4, original 8192, head_dim 128
        Rope rope = new Rope(RopeConfig.llama3(500000, 8, 1, 4, 8192), 128, 131072);
        RopeTables t = rope.initialTables();
        int high = 0;
        int low = 0;
        int medium = 0;
        for (int i = 0; i < 64; i++) {
            double inv = Math.pow(500000, -2.0 * i / 128);
            double wavelen = 2 * Math.PI / inv;
            double expected;
            if (wavelen < 8192 / 4.0) {
                expected = inv; // high frequency: untouched
                high++;
            } else if (wavelen > 8192 / 1.0) {
                expected = inv / 8; // low frequency: interpolated by the factor
                low++;
            } else {
                double smooth = (8192 / wavelen - 1) / (4 - 1);
                expected = (1 - smooth) * inv / 8 + smooth * inv;
                medium++;
                assertTrue(expected > inv / 8 && expected < inv);
            }
            assertRelative(expected, t.inverseFrequency(i), 1e-6, "llama3 inv_freq " + i);
        }
        assertTrue(high > 0 && low > 0 && medium > 0, high + "/" + medium + "/" + low);
        assertEquals(1f, t.inverseFrequency(0));
        assertEquals(1f, t.attentionScaling());
    }

    private static RopeConfig yarn(double theta, double factor, int original) {
        return RopeConfig.plain(theta).withType("yarn").withFactor(factor).withOriginalMaxPositionEmbeddings(original);
    }

    private static double correctionDim(double rotations, int dim, double base, int context) {
        return dim * Math.log(context / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    @Test
    void yarnBlendsInterpolationAndExtrapolation() {
        // Qwen-style: theta 1e6, factor 4, original 32768, head_dim 128
        int dim = 128;
        Rope rope = new Rope(yarn(1e6, 4, 32768), dim, 131072);
        RopeTables t = rope.initialTables();
        assertEquals(0.1 * Math.log(4) + 1, t.attentionScaling(), 1e-7);
        int low = (int) Math.floor(correctionDim(32, dim, 1e6, 32768));
        int high = (int) Math.ceil(correctionDim(1, dim, 1e6, 32768));
        assertTrue(low > 0 && high < dim / 2 && low < high, low + ".." + high);
        for (int i = 0; i < dim / 2; i++) {
            double pos = Math.pow(1e6, 2.0 * i / dim);
            double ramp = Math.min(1, Math.max(0, (i - low) / (double) (high - low)));
            double expected = (1 / (4 * pos)) * ramp + (1 / pos) * (1 - ramp);
            assertRelative(expected, t.inverseFrequency(i), 1e-6, "yarn " + i);
            if (i <= low) {
                assertRelative(1 / pos, t.inverseFrequency(i), 1e-6, "extrapolated " + i);
            }
            if (i >= high) {
                assertRelative(1 / (4 * pos), t.inverseFrequency(i), 1e-6, "interpolated " + i);
            }
        }
        // cos/sin carry the attention factor
        float[] cos = new float[dim / 2];
        float[] sin = new float[dim / 2];
        t.cosSin(0, cos, sin);
        assertEquals(t.attentionScaling(), cos[7]);
        assertEquals(0f, sin[7]);
    }

    @Test
    void yarnWithoutTruncationUsesFractionalBounds() {
        // gpt-oss: theta 150000, factor 32, original 4096, beta 32/1, truncate false, head_dim 64
        int dim = 64;
        RopeConfig config = yarn(150000, 32, 4096).withYarn(OptionalDouble.of(32), OptionalDouble.of(1),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), Optional.of(false));
        RopeTables t = new Rope(config, dim, 131072).initialTables();
        double low = correctionDim(32, dim, 150000, 4096);
        double high = correctionDim(1, dim, 150000, 4096);
        assertNotEquals(Math.floor(low), low);
        for (int i = 0; i < dim / 2; i++) {
            double pos = Math.pow(150000, 2.0 * i / dim);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double expected = (1 / (32 * pos)) * ramp + (1 / pos) * (1 - ramp);
            assertRelative(expected, t.inverseFrequency(i), 2e-6, "yarn untruncated " + i);
        }
        RopeTables truncated = new Rope(yarn(150000, 32, 4096), dim, 131072).initialTables();
        int differing = 0;
        for (int i = 0; i < dim / 2; i++) {
            if (truncated.inverseFrequency(i) != t.inverseFrequency(i)) {
                differing++;
            }
        }
        assertTrue(differing > 0);
        assertEquals(0.1 * Math.log(32) + 1, t.attentionScaling(), 1e-6);
    }

    @Test
    void yarnAttentionFactorVariants() {
        // DeepSeek V3: factor 40, mscale = mscale_all_dim = 1: the ratio is 1
        RopeConfig deepseek = yarn(10000, 40, 4096).withYarn(OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.of(1), OptionalDouble.of(1), Optional.empty());
        assertEquals(1f, new Rope(deepseek, 64, 163840).initialTables().attentionScaling());
        RopeConfig ratio = yarn(10000, 40, 4096).withYarn(OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.of(0.707), OptionalDouble.of(1), Optional.empty());
        assertEquals((0.1 * 0.707 * Math.log(40) + 1) / (0.1 * Math.log(40) + 1),
                new Rope(ratio, 64, 163840).initialTables().attentionScaling(), 1e-7);
        RopeConfig explicit = yarn(10000, 40, 4096).withYarn(OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.of(1.25), OptionalDouble.empty(), OptionalDouble.empty(), Optional.empty());
        assertEquals(1.25f, new Rope(explicit, 64, 163840).initialTables().attentionScaling());
        // no factor given: max_position_embeddings / original
        RopeConfig noFactor = RopeConfig.plain(10000).withType("yarn").withOriginalMaxPositionEmbeddings(4096);
        assertEquals(0.1 * Math.log(8) + 1, new Rope(noFactor, 64, 32768).initialTables().attentionScaling(), 1e-7);
        // factor 1: no scaling
        assertEquals(1f, new Rope(yarn(10000, 1, 4096), 64, 4096).initialTables().attentionScaling());
    }

    private static List<Double> factors(int n, double start, double step) {
        List<Double> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(start + step * i);
        }
        return list;
    }

    @Test
    void longRopeChoosesFactorsBySequenceLength() {
        // Phi-3-mini-128k shape: original 4096, max 131072 (f = 32), head_dim 96 (48 factors)
        int dim = 96;
        List<Double> shortF = factors(dim / 2, 1.0, 0.01);
        List<Double> longF = factors(dim / 2, 1.0, 0.5);
        RopeConfig config = RopeConfig.plain(10000).withType("longrope").withOriginalMaxPositionEmbeddings(4096)
                .withLongRope(shortF, longF, OptionalDouble.empty());
        Rope rope = new Rope(config, dim, 131072);
        // ln 32 / ln 4096 = 5/12
        double attention = Math.sqrt(1 + 5.0 / 12);
        RopeTables initial = rope.initialTables();
        RopeTables atOriginal = rope.tables(4096);
        RopeTables beyond = rope.tables(4097);
        assertEquals(attention, initial.attentionScaling(), 1e-7);
        assertEquals(attention, beyond.attentionScaling(), 1e-7);
        for (int i = 0; i < dim / 2; i++) {
            double pos = Math.pow(10000, 2.0 * i / dim);
            assertRelative(1 / (shortF.get(i) * pos), initial.inverseFrequency(i), 1e-6, "short " + i);
            assertEquals(initial.inverseFrequency(i), atOriginal.inverseFrequency(i));
            assertRelative(1 / (longF.get(i) * pos), beyond.inverseFrequency(i), 1e-6, "long " + i);
        }
        Rope.Schedule schedule = rope.schedule();
        assertSame(initial, schedule.forward(4095));
        assertEquals(beyond.inverseFrequency(40), schedule.forward(5000).inverseFrequency(40));
        assertSame(initial, schedule.forward(12));

        RopeConfig explicit = config.withLongRope(shortF, longF, OptionalDouble.of(1.19));
        assertEquals(1.19f, new Rope(explicit, dim, 131072).initialTables().attentionScaling());
        RopeConfig wrongLength = config.withLongRope(factors(3, 1, 0), longF, OptionalDouble.empty());
        assertThrows(IllegalArgumentException.class, () -> new Rope(wrongLength, dim, 131072));
    }

    @Test
    void unknownTypesAndOddDimensionsAreRejected() {
        assertThrows(UnsupportedOperationException.class,
                () -> new Rope(RopeConfig.plain(10000).withType("proportional"), 64, 128));
        assertThrows(IllegalArgumentException.class, () -> new Rope(RopeConfig.plain(10000), 7, 128));
        RopeTables eight = new Rope(RopeConfig.plain(10000), 8, 128).initialTables();
        assertThrows(IllegalArgumentException.class, () -> eight.apply(new float[4], 0, 1, 4, 0, RopeLayout.NEOX));
        assertThrows(IllegalArgumentException.class,
                () -> new Rope(RopeConfig.plain(10000).withType("linear"), 8, 128));
    }

    @Test
    void frequencyFactorsDivideInverseFrequencies() {
        List<Double> ff = List.of(1.0, 2.0, 4.0, 8.0);
        RopeConfig plain = RopeConfig.plain(10000);
        RopeConfig divided = plain.withFreqFactors(ff);
        assertEquals(List.of(), plain.freqFactors());
        assertNotEquals(plain, divided);
        RopeTables base = new Rope(plain, 8, 64).initialTables();
        RopeTables t = new Rope(divided, 8, 64).initialTables();
        for (int i = 0; i < 4; i++) {
            assertEquals(base.inverseFrequency(i) / ff.get(i).floatValue(), t.inverseFrequency(i), 0f, "inv_freq " + i);
        }
        // the factors reproduce llama3 scaling when they are its divisors (what a GGUF's rope_freqs holds)
        RopeConfig llama3 = RopeConfig.llama3(500000, 8, 1, 4, 32);
        RopeTables l3 = new Rope(llama3, 16, 128).initialTables();
        RopeTables plain16 = new Rope(RopeConfig.plain(500000), 16, 128).initialTables();
        List<Double> divisors = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            divisors.add((double) plain16.inverseFrequency(i) / l3.inverseFrequency(i));
        }
        RopeTables viaFactors = new Rope(RopeConfig.plain(500000).withFreqFactors(divisors), 16, 128).initialTables();
        for (int i = 0; i < 8; i++) {
            assertRelative(l3.inverseFrequency(i), viaFactors.inverseFrequency(i), 1e-6, "llama3 inv_freq " + i);
        }
        // wrong count and non-positive factors are refused
        assertThrows(IllegalArgumentException.class, () -> new Rope(plain.withFreqFactors(List.of(1.0)), 8, 64));
        assertThrows(IllegalArgumentException.class, () -> plain.withFreqFactors(List.of(1.0, 0.0, 1.0, 1.0)));
    }
}
