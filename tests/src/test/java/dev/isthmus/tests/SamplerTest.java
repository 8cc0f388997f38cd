package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import dev.isthmus.Sampling;
import dev.isthmus.runtime.sampling.Sampler;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The sampler chain on hand-made and random logit rows, with fixed seeds: each filter keeps exactly
 * the set its definition says (checked against a plain full-sort reference written here), penalties
 * change exactly the logits they should, and the draw follows the softmax.
 */
class SamplerTest {
    private static final int[] NO_HISTORY = new int[0];
    /** Every filter off: the draw is from softmax(logits / T). */
    private static final Sampling PLAIN = Sampling.defaults().topK(0).topP(1).minP(0).typicalP(1).temperature(1).seed(7);

    private static float[] randomLogits(int vocab, long seed, double scale) {
        Random r = new Random(seed);
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) l[i] = (float) (r.nextGaussian() * scale);
        return l;
    }

    private static double[] softmax(float[] l) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : l) max = Math.max(max, v);
        double[] p = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) sum += p[i] = Math.exp(l[i] - max);
        for (int i = 0; i < l.length; i++) p[i] /= sum;
        return p;
    }

    private static Integer[] byProbabilityDescending(double[] p) {
        Integer[] ids = IntStream.range(0, p.length).boxed().toArray(Integer[]::new);
        Arrays.sort(ids, Comparator.comparingDouble((Integer i) -> -p[i]).thenComparingInt(i -> i));
        return ids;
    }

    private static Set<Integer> candidates(Sampler s) {
        Set<Integer> out = new HashSet<>();
        for (int i = 0; i < s.candidateCount(); i++) out.add(s.candidate(i));
        return out;
    }

    private static int argmax(float[] l) {
        int b = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[b]) b = i;
        return b;
    }

    @Test
    void greedyAndTopKOneAgreeWithArgmax() {
        for (int seed = 0; seed < 20; seed++) {
            float[] l = randomLogits(5000, seed, 3);
            int expect = argmax(l);
            assertEquals(expect, new Sampler(Sampling.greedy(), l.length).sample(l, NO_HISTORY, 0));
            Sampler k1 = new Sampler(Sampling.defaults().topK(1).temperature(1.5).seed(seed), l.length);
            for (int rep = 0; rep < 5; rep++) assertEquals(expect, k1.sample(l, NO_HISTORY, 0));
        }
        // ties go to the lowest id
        assertEquals(2, new Sampler(Sampling.greedy(), 5).sample(new float[] {0, 1, 3, 3, 2}, NO_HISTORY, 0));
        assertEquals(2, new Sampler(Sampling.defaults().topK(1).seed(1), 5).sample(new float[] {0, 1, 3, 3, 2}, NO_HISTORY, 0));
    }

    @Test
    void topKKeepsTheKHighest() {
        float[] l = randomLogits(150_000, 11, 2);
        Integer[] order = byProbabilityDescending(softmax(l));
        Sampler s = new Sampler(PLAIN.topK(40), l.length);
        s.sample(l, NO_HISTORY, 0);
        assertEquals(Set.of(Arrays.copyOf(order, 40)), candidates(s));
    }

    @Test
    void topPKeepsExactlyTheNucleus() {
        for (long seed : new long[] {1, 2, 3}) {
            // a 150k vocabulary whose nucleus holds thousands of tokens (beyond the first selection step)
            float[] l = randomLogits(150_000, seed, 1.5);
            double[] p = softmax(l);
            Integer[] order = byProbabilityDescending(p);
            for (double topP : new double[] {0.3, 0.9}) {
                int k = 0;
                double cum = 0;
                while (cum < topP) cum += p[order[k++]];
                Sampler s = new Sampler(PLAIN.topP(topP), l.length);
                int token = s.sample(l, NO_HISTORY, 0);
                assertEquals(Set.of(Arrays.copyOf(order, k)), candidates(s), "top-p " + topP + " seed " + seed);
                assertTrue(candidates(s).contains(token));
            }
        }
        // a hand-made case: probabilities 0.5, 0.3, 0.15, 0.05; p = 0.75 keeps the first two only
        float[] l = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        Sampler s = new Sampler(PLAIN.topP(0.75), 4);
        int[] hits = new int[4];
        for (int i = 0; i < 4000; i++) hits[s.sample(l, NO_HISTORY, 0)]++;
        assertEquals(0, hits[0]);
        assertEquals(0, hits[2]);
        // renormalised: 0.5 / 0.8 = 0.625 for token 1
        assertEquals(0.625, hits[1] / 4000.0, 0.03);
    }

    @Test
    void minPKeepsTokensAboveTheThreshold() {
        float[] l = randomLogits(20_000, 5, 2);
        double[] p = softmax(l);
        double pmax = Arrays.stream(p).max().orElseThrow();
        for (double minP : new double[] {0.01, 0.05, 0.5}) {
            Set<Integer> expect = new HashSet<>();
            for (int i = 0; i < p.length; i++) if (p[i] >= minP * pmax * (1 + 1e-6)) expect.add(i);
            Sampler s = new Sampler(PLAIN.minP(minP), l.length);
            s.sample(l, NO_HISTORY, 0);
            Set<Integer> got = candidates(s);
            assertTrue(got.containsAll(expect), "min-p " + minP + " dropped a token above the threshold");
            for (int id : got) assertTrue(p[id] >= minP * pmax * (1 - 1e-5), "min-p " + minP + " kept token " + id);
        }
    }

    @Test
    void typicalPKeepsTheMostTypicalTokens() {
        float[] l = randomLogits(3000, 9, 2);
        double[] p = softmax(l);
        double h = 0;
        for (double q : p) if (q > 0) h -= q * Math.log(q);
        final double entropy = h;
        Integer[] ids = IntStream.range(0, p.length).boxed().toArray(Integer[]::new);
        Arrays.sort(ids, Comparator.comparingDouble((Integer i) -> Math.abs(-Math.log(p[i]) - entropy)).thenComparingInt(i -> i));
        int k = 0;
        double cum = 0;
        while (cum < 0.5) cum += p[ids[k++]];
        Sampler s = new Sampler(PLAIN.typicalP(0.5), l.length);
        s.sample(l, NO_HISTORY, 0);
        assertEquals(Set.of(Arrays.copyOf(ids, k)), candidates(s));
    }

    @Test
    void theDrawFollowsTheSoftmaxAtTheTemperature() {
        float[] l = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f};
        for (double t : new double[] {0.5, 1.0, 2.0}) {
            float[] scaled = new float[l.length];
            for (int i = 0; i < l.length; i++) scaled[i] = (float) (l[i] / t);
            double[] p = softmax(scaled);
            Sampler s = new Sampler(PLAIN.temperature(t).seed(123), l.length);
            int draws = 20_000;
            int[] hits = new int[l.length];
            for (int i = 0; i < draws; i++) hits[s.sample(l, NO_HISTORY, 0)]++;
            for (int i = 0; i < l.length; i++) {
                double sd = Math.sqrt(p[i] * (1 - p[i]) / draws);
                assertEquals(p[i], hits[i] / (double) draws, 5 * sd + 1e-9, "T=" + t + " token " + i);
            }
        }
    }

    @Test
    void sameSeedSameTokensDifferentSeedsDiffer() {
        float[] l = randomLogits(32_000, 3, 1);
        int[] a = run(Sampling.defaults().seed(42), l);
        int[] b = run(Sampling.defaults().seed(42), l);
        int[] c = run(Sampling.defaults().seed(43), l);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
    }

    private static int[] run(Sampling sampling, float[] l) {
        Sampler s = new Sampler(sampling.repetitionPenalty(1.1).penaltyWindow(16), l.length);
        int[] out = new int[64];
        for (int i = 0; i < out.length; i++) out[i] = s.sample(l, out, i);
        return out;
    }

    @Test
    void penaltiesChangeExactlyTheLogitsOfTokensInTheWindow() {
        float[] l = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f, -2.0f};
        // token 3 appears before the window of 4 and must not be penalised
        int[] history = {3, 0, 1, 0, 4, 99};
        Sampling s = Sampling.greedy().repetitionPenalty(2).presencePenalty(0.25).frequencyPenalty(0.1).penaltyWindow(4);
        Sampler sampler = new Sampler(s, l.length);
        int token = sampler.sample(l, history, 5);  // window = history[1..4] = 0, 1, 0, 4
        float[] got = sampler.processedLogits();
        float[] expect = {
            2.0f / 2 - 0.25f - 2 * 0.1f,   // token 0: twice, positive logit divided
            -1.0f * 2 - 0.25f - 0.1f,      // token 1: once, negative logit multiplied
            0.5f,
            3.0f,                          // outside the window
            1.0f / 2 - 0.25f - 0.1f,
            -2.0f};
        assertArrayEquals(expect, got, 1e-6f);
        assertEquals(3, token);
        // the caller's row is untouched
        assertArrayEquals(new float[] {2.0f, -1.0f, 0.5f, 3.0f, 1.0f, -2.0f}, l);
        // the penalty turns greedy away from a repeated token
        float[] m = {2.0f, 1.9f};
        assertEquals(0, new Sampler(Sampling.greedy(), 2).sample(m, new int[] {0}, 1));
        assertEquals(1, new Sampler(Sampling.greedy().repetitionPenalty(1.5).penaltyWindow(8), 2).sample(m, new int[] {0}, 1));
    }

    @Test
    void logitBiasShiftsAndBans() {
        float[] l = {1, 5, 2};
        assertEquals(1, new Sampler(Sampling.greedy(), 3).sample(l, NO_HISTORY, 0));
        assertEquals(2, new Sampler(Sampling.greedy().logitBias(1, Float.NEGATIVE_INFINITY), 3).sample(l, NO_HISTORY, 0));
        assertEquals(0, new Sampler(Sampling.greedy().logitBias(0, 10f), 3).sample(l, NO_HISTORY, 0));
        Sampler banned = new Sampler(PLAIN.logitBias(1, Float.NEGATIVE_INFINITY), 3);
        for (int i = 0; i < 500; i++) assertTrue(banned.sample(l, NO_HISTORY, 0) != 1);
    }

    @Test
    void badInputIsAClearException() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(Sampling.defaults(), 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Sampler(Sampling.defaults().logitBias(10, 1f), 10));
        assertTrue(e.getMessage().contains("logitBias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Sampler(Sampling.defaults().stopTokens(12), 10));
        assertTrue(e.getMessage().contains("stopTokens"), e.getMessage());
        Sampler s = new Sampler(Sampling.defaults().repetitionPenalty(1.2).seed(1), 4);
        assertThrows(IllegalArgumentException.class, () -> s.sample(new float[5], NO_HISTORY, 0));
        assertThrows(IllegalArgumentException.class, () -> s.sample(new float[] {0, Float.NaN, 0, 0}, NO_HISTORY, 0));
        assertThrows(IllegalArgumentException.class, () -> s.sample(new float[] {0, Float.POSITIVE_INFINITY, 0, 0}, NO_HISTORY, 0));
        float[] ninf = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        assertThrows(IllegalArgumentException.class, () -> s.sample(ninf, NO_HISTORY, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(Sampling.greedy(), 4).sample(ninf, NO_HISTORY, 0));
        e = assertThrows(IllegalArgumentException.class, () -> s.sample(new float[4], new int[] {1, 7}, 2));
        assertTrue(e.getMessage().contains("history"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.sample(new float[4], new int[] {1}, 2));
        assertTrue(new Sampler(Sampling.defaults().stopTokens(2), 4).isStopToken(2));
    }

    @Test
    void samplingAllocatesNothingPerToken() {
        float[] l = randomLogits(150_000, 21, 2);
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (Sampling sampling : new Sampling[] {Sampling.defaults().seed(1).repetitionPenalty(1.1),
                                                 PLAIN.topP(0.9), PLAIN.typicalP(0.9).minP(0.05), Sampling.greedy()}) {
            Sampler s = new Sampler(sampling, l.length);
            int[] history = new int[24];
            for (int i = 0; i < 8; i++) history[i] = s.sample(l, history, i);   // warm-up
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 8; i < 24; i++) history[i] = s.sample(l, history, i);
            long allocated = mx.getCurrentThreadAllocatedBytes() - before;
            assertEquals(0, allocated, "bytes allocated by 16 sample calls with " + sampling);
        }
    }
}
