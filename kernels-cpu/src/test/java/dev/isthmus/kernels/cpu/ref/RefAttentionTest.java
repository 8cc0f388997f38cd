package dev.isthmus.kernels.cpu.ref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RefAttentionTest {
    private static float[] gaussian(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /** Values that are one-hot by position: the output of a head is then its attention weights. */
    private static float[] oneHotValues(int nKv, int kvHeads, int headDim) {
        float[] v = new float[nKv * kvHeads * headDim];
        for (int j = 0; j < nKv; j++) {
            for (int h = 0; h < kvHeads; h++) {
                v[(j * kvHeads + h) * headDim + j] = 1;
            }
        }
        return v;
    }

    /** Attention weights of one query head over {@code nKv} keys, one kv head, headDim >= nKv. */
    private static float[] weights(float[] q, float[] k, int nKv, int headDim, int position, AttentionOptions o) {
        float[] out = new float[headDim];
        Attention.attend(q, 1, 1, headDim, new int[] {position}, k, oneHotValues(nKv, 1, headDim), nKv, 1, o, out);
        return out;
    }

    @Test
    void handCaseOfTwoKeys() {
        float[] q = {1, 0};
        float[] k = {1, 0, 0, 1};
        float[] v = {10, 0, 0, 20};
        float[] out = new float[2];
        Attention.attend(q, 1, 1, 2, new int[] {1}, k, v, 2, 1, AttentionOptions.causal(2).withScale(1f), out);
        double w0 = Math.exp(1) / (Math.exp(1) + 1);
        assertEquals(10 * w0, out[0], 1e-5);
        assertEquals(20 * (1 - w0), out[1], 1e-5);
    }

    @Test
    void weightsSumToOneAndFollowTheScaledSoftmax() {
        Random random = new Random(11);
        int headDim = 8;
        int nKv = 6;
        float[] q = gaussian(random, headDim);
        float[] k = gaussian(random, nKv * headDim);
        AttentionOptions o = AttentionOptions.causal(headDim);
        assertEquals((float) (1 / Math.sqrt(8)), o.scale());
        float[] w = weights(q, k, nKv, headDim, nKv - 1, o);
        double[] expected = new double[nKv];
        double sum = 0;
        for (int j = 0; j < nKv; j++) {
            double dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += q[d] * k[j * headDim + d];
            }
            expected[j] = Math.exp(dot / Math.sqrt(headDim));
            sum += expected[j];
        }
        double total = 0;
        for (int j = 0; j < nKv; j++) {
            assertEquals(expected[j] / sum, w[j], 1e-6);
            total += w[j];
        }
        assertEquals(1.0, total, 1e-6);
    }

    @Test
    void causalMaskHidesTheFuture() {
        Random random = new Random(5);
        int headDim = 8;
        float[] q = gaussian(random, headDim);
        float[] k = gaussian(random, 6 * headDim);
        float[] w = weights(q, k, 6, headDim, 2, AttentionOptions.causal(headDim));
        for (int j = 3; j < 6; j++) {
            assertEquals(0f, w[j]);
        }
        assertEquals(1.0, w[0] + w[1] + w[2], 1e-6);
        // without the causal mask all six keys count
        float[] all = weights(q, k, 6, headDim, 2, AttentionOptions.causal(headDim).withCausal(false));
        assertTrue(all[5] > 0);
    }

    @Test
    void slidingWindowOfOneAttendsOnlyToItself() {
        Random random = new Random(9);
        int headDim = 4;
        int nKv = 5;
        float[] q = gaussian(random, 3 * headDim);
        float[] k = gaussian(random, nKv * headDim);
        float[] v = gaussian(random, nKv * headDim);
        float[] out = new float[3 * headDim];
        int[] positions = {1, 3, 4};
        Attention.attend(q, 3, 1, headDim, positions, k, v, nKv, 1,
                AttentionOptions.causal(headDim).withSlidingWindow(1), out);
        for (int t = 0; t < 3; t++) {
            for (int d = 0; d < headDim; d++) {
                assertEquals(v[positions[t] * headDim + d], out[t * headDim + d], 1e-6);
            }
        }
    }

    @Test
    void slidingWindowKeepsTheLastWKeys() {
        // transformers: kv_idx > q_idx - W, so the query at 6 with W = 3 sees 4, 5, 6
        Random random = new Random(13);
        int headDim = 8;
        float[] q = gaussian(random, headDim);
        float[] k = gaussian(random, 8 * headDim);
        float[] w = weights(q, k, 8, headDim, 6, AttentionOptions.causal(headDim).withSlidingWindow(3));
        for (int j = 0; j < 8; j++) {
            assertEquals(j >= 4 && j <= 6, w[j] > 0, "key " + j);
        }
        assertEquals(1.0, w[4] + w[5] + w[6], 1e-6);
        AttentionOptions bidirectional = AttentionOptions.causal(headDim).withCausal(false).withSlidingWindow(2);
        float[] b = weights(q, k, 8, headDim, 3, bidirectional);
        for (int j = 0; j < 8; j++) {
            assertEquals(j >= 2 && j <= 4, b[j] > 0, "bidirectional key " + j);
        }
    }

    @Test
    void chunkedAttentionStaysInsideTheChunk() {
        Random random = new Random(17);
        int headDim = 8;
        float[] q = gaussian(random, headDim);
        float[] k = gaussian(random, 8 * headDim);
        AttentionOptions chunked = AttentionOptions.causal(headDim).withChunkSize(4);
        float[] at5 = weights(q, k, 8, headDim, 5, chunked);
        for (int j = 0; j < 8; j++) {
            assertEquals(j == 4 || j == 5, at5[j] > 0, "key " + j);
        }
        float[] at3 = weights(q, k, 8, headDim, 3, chunked);
        for (int j = 0; j < 8; j++) {
            assertEquals(j <= 3, at3[j] > 0, "key " + j);
        }
        // the first token of a chunk sees only itself
        float[] at4 = weights(q, k, 8, headDim, 4, chunked);
        assertEquals(1f, at4[4], 1e-6f);
    }

    @Test
    void sinksTakeTheirShareOfTheDenominator() {
        Random random = new Random(19);
        int headDim = 8;
        int nKv = 5;
        float[] q = gaussian(random, headDim);
        float[] k = gaussian(random, nKv * headDim);
        AttentionOptions plain = AttentionOptions.causal(headDim);
        float sink = 0.7f;
        float[] w = weights(q, k, nKv, headDim, 4, plain.withSinks(new float[] {sink}));
        double sum = 0;
        double[] e = new double[nKv];
        for (int j = 0; j < nKv; j++) {
            double dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += q[d] * k[j * headDim + d];
            }
            e[j] = Math.exp(dot * plain.scale());
            sum += e[j];
        }
        double total = 0;
        for (int j = 0; j < nKv; j++) {
            assertEquals(e[j] / (sum + Math.exp(sink)), w[j], 1e-6);
            total += w[j];
        }
        // the weights lose exactly exp(sink) / (sum + exp(sink))
        assertEquals(1 - Math.exp(sink) / (sum + Math.exp(sink)), total, 1e-6);
        // a dominant sink takes nearly everything, and no NaN appears
        float[] swamped = weights(q, k, nKv, headDim, 4, plain.withSinks(new float[] {80f}));
        for (float x : swamped) {
            assertTrue(x >= 0 && x < 1e-20);
        }
    }

    @Test
    void gqaEqualsMhaWithRepeatedKeysAndValues() {
        Random random = new Random(23);
        int nHeads = 6;
        int kvHeads = 2;
        int headDim = 4;
        int nKv = 7;
        int nTokens = 3;
        float[] q = gaussian(random, nTokens * nHeads * headDim);
        float[] k = gaussian(random, nKv * kvHeads * headDim);
        float[] v = gaussian(random, nKv * kvHeads * headDim);
        float[] kRep = new float[nKv * nHeads * headDim];
        float[] vRep = new float[nKv * nHeads * headDim];
        for (int j = 0; j < nKv; j++) {
            for (int h = 0; h < nHeads; h++) {
                int src = (j * kvHeads + h / (nHeads / kvHeads)) * headDim;
                System.arraycopy(k, src, kRep, (j * nHeads + h) * headDim, headDim);
                System.arraycopy(v, src, vRep, (j * nHeads + h) * headDim, headDim);
            }
        }
        float[] sinks = {0.1f, -0.2f, 0.3f, 0f, 1f, -1f};
        AttentionOptions o = AttentionOptions.causal(headDim).withSinks(sinks).withSlidingWindow(4);
        int[] positions = {4, 5, 6};
        float[] gqa = new float[q.length];
        float[] mha = new float[q.length];
        Attention.attend(q, nTokens, nHeads, headDim, positions, k, v, nKv, kvHeads, o, gqa);
        Attention.attend(q, nTokens, nHeads, headDim, positions, kRep, vRep, nKv, nHeads, o, mha);
        for (int i = 0; i < gqa.length; i++) {
            assertEquals(mha[i], gqa[i]);
        }
        // MQA: a single KV head
        float[] k1 = new float[nKv * headDim];
        float[] v1 = new float[nKv * headDim];
        float[] k1Rep = new float[nKv * nHeads * headDim];
        float[] v1Rep = new float[nKv * nHeads * headDim];
        for (int j = 0; j < nKv; j++) {
            System.arraycopy(k, j * kvHeads * headDim, k1, j * headDim, headDim);
            System.arraycopy(v, j * kvHeads * headDim, v1, j * headDim, headDim);
            for (int h = 0; h < nHeads; h++) {
                System.arraycopy(k1, j * headDim, k1Rep, (j * nHeads + h) * headDim, headDim);
                System.arraycopy(v1, j * headDim, v1Rep, (j * nHeads + h) * headDim, headDim);
            }
        }
        Attention.attend(q, nTokens, nHeads, headDim, positions, k1, v1, nKv, 1, o, gqa);
        Attention.attend(q, nTokens, nHeads, headDim, positions, k1Rep, v1Rep, nKv, nHeads, o, mha);
        for (int i = 0; i < gqa.length; i++) {
            assertEquals(mha[i], gqa[i]);
        }
    }

    @Test
    void prefillEqualsTokenByTokenDecode() {
        Random random = new Random(29);
        int nHeads = 2;
        int headDim = 4;
        int nKv = 6;
        float[] q = gaussian(random, nKv * nHeads * headDim);
        float[] k = gaussian(random, nKv * nHeads * headDim);
        float[] v = gaussian(random, nKv * nHeads * headDim);
        AttentionOptions o = AttentionOptions.causal(headDim);
        int[] positions = {0, 1, 2, 3, 4, 5};
        float[] prefill = new float[q.length];
        Attention.attend(q, nKv, nHeads, headDim, positions, k, v, nKv, nHeads, o, prefill);
        int stride = nHeads * headDim;
        for (int t = 0; t < nKv; t++) {
            float[] qt = new float[stride];
            System.arraycopy(q, t * stride, qt, 0, stride);
            float[] step = new float[stride];
            // decode: only the keys written so far exist
            Attention.attend(qt, 1, nHeads, headDim, new int[] {t}, k, v, t + 1, nHeads, o, step);
            for (int i = 0; i < stride; i++) {
                assertEquals(prefill[t * stride + i], step[i], 1e-6f);
            }
        }
    }

    @Test
    void softCappingBoundsTheScores() {
        int headDim = 2;
        float cap = 50f;
        // scores 1000 and 0 without the cap; with it 50 * tanh(20) ~ 50 and 0
        float[] q = {1000, 0};
        float[] k = {1, 0, 0, 0};
        AttentionOptions o = AttentionOptions.causal(headDim).withScale(1f).withSoftCap(cap);
        float[] w = weights(q, k, 2, headDim, 1, o);
        double capped = cap * Math.tanh(1000 / cap);
        assertEquals(1 / (1 + Math.exp(-capped)), w[0], 1e-6);
        assertEquals(Math.exp(-capped) / (1 + Math.exp(-capped)), w[1], 1e-25);
        // a mild score: weights follow the capped score exactly
        float[] q2 = {1.5f, 0};
        float[] w2 = weights(q2, k, 2, headDim, 1, o.withSoftCap(1f));
        double s = Math.tanh(1.5);
        assertEquals(Math.exp(s) / (Math.exp(s) + 1), w2[0], 1e-6);
    }

    @Test
    void queryScaleIsApplied() {
        float[] q = {2, 0};
        float[] k = {1, 0, 0, 0};
        // Gemma: query_pre_attn_scalar 256 -> scale 1/16
        AttentionOptions gemma = AttentionOptions.causal(2).withQueryPreAttnScalar(256);
        assertEquals(0.0625f, gemma.scale());
        float[] w = weights(q, k, 2, 2, 1, gemma);
        assertEquals(Math.exp(0.125) / (Math.exp(0.125) + 1), w[0], 1e-6);
        float[] uniform = weights(q, k, 2, 2, 1, gemma.withScale(0f));
        assertEquals(0.5f, uniform[0], 1e-7f);
    }

    @Test
    void aQueryThatSeesNothingGetsZerosAndShapesAreChecked() {
        float[] q = {1, 1};
        float[] k = {1, 1, 1, 1};
        float[] v = {3, 3, 3, 3};
        float[] out = {9, 9};
        // position 9 with a window of 2 cannot see keys 0 and 1
        Attention.attend(q, 1, 1, 2, new int[] {9}, k, v, 2, 1, AttentionOptions.causal(2).withSlidingWindow(2), out);
        assertEquals(0f, out[0]);
        assertEquals(0f, out[1]);
        assertThrows(IllegalArgumentException.class, () -> Attention.attend(new float[6], 1, 3, 2, new int[] {0},
                new float[4], new float[4], 1, 2, AttentionOptions.causal(2), new float[6]));
        assertThrows(IllegalArgumentException.class, () -> Attention.attend(q, 1, 1, 2, new int[] {0}, k, v, 2, 1,
                AttentionOptions.causal(2).withSinks(new float[] {1, 2}), out));
    }
}
