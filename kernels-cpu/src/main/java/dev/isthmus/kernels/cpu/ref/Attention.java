package dev.isthmus.kernels.cpu.ref;

/**
 * Scaled dot-product attention of one sequence, as transformers' {@code eager_attention_forward}
 * (modeling_llama.py; modeling_gemma2.py adds soft-capping; modeling_gpt_oss.py adds sinks), per query
 * head {@code h} and query token {@code t}:
 *
 * <ol>
 *   <li>{@code s_j = (q . k_j) * scale} for every key {@code j} (GQA/MQA: query head {@code h} reads KV head
 *       {@code h / (nHeads / kvHeads)}, transformers' {@code repeat_kv});</li>
 *   <li>if soft-capping: {@code s_j = cap * tanh(s_j / cap)};</li>
 *   <li>masked keys ({@link AttentionOptions#visible}) get {@code -inf};</li>
 *   <li>{@code p = softmax(s)} in float32, the sink logit (if any) joining the max and the denominator
 *       and then dropped, so the weights sum to {@code sum / (sum + exp(sink))};</li>
 *   <li>{@code out = sum_j p_j v_j}.</li>
 * </ol>
 * Keys and values are those of positions {@code 0..nKv-1} (key {@code j} is at position {@code j}); queries
 * carry their own positions. A query that sees no key and has no sink gets a zero output (flash
 * attention's convention; eager transformers would produce NaN).
 *
 * <p>Layouts, row-major: {@code q} and {@code out} are {@code [nTokens][nHeads][headDim]}, {@code k} and
 * {@code v} are {@code [nKv][kvHeads][headDim]}. Dot products and weighted sums accumulate in double and
 * round once to float. RoPE is applied by the caller beforehand (NoPE layers simply skip it).
 */
public final class Attention {
    private Attention() {
    }

    /**
     * Attention of {@code nTokens} queries over {@code nKv} cached keys/values.
     *
     * @param q              queries, {@code [nTokens][nHeads][headDim]}
     * @param nTokens        query tokens
     * @param nHeads         query heads
     * @param headDim        dimensions per head (queries, keys and values alike)
     * @param queryPositions position of each query token ({@code nTokens} values)
     * @param k              keys, {@code [nKv][kvHeads][headDim]}, key {@code j} at position {@code j}
     * @param v              values, same layout as {@code k}
     * @param nKv            keys/values present
     * @param kvHeads        key/value heads; must divide {@code nHeads}
     * @param options        masking, sinks, soft-capping and scale
     * @param out            output, {@code [nTokens][nHeads][headDim]}
     */
    public static void attend(float[] q, int nTokens, int nHeads, int headDim, int[] queryPositions, float[] k,
                              float[] v, int nKv, int kvHeads, AttentionOptions options, float[] out) {
        if (kvHeads <= 0 || nHeads % kvHeads != 0) {
            throw new IllegalArgumentException(nHeads + " query heads cannot share " + kvHeads + " KV heads");
        }
        if (queryPositions.length != nTokens) {
            throw new IllegalArgumentException(queryPositions.length + " positions for " + nTokens + " tokens");
        }
        checkSize(q, (long) nTokens * nHeads * headDim, "q");
        checkSize(out, (long) nTokens * nHeads * headDim, "out");
        checkSize(k, (long) nKv * kvHeads * headDim, "k");
        checkSize(v, (long) nKv * kvHeads * headDim, "v");
        if (options.sinks() != null && options.sinks().length != nHeads) {
            throw new IllegalArgumentException(options.sinks().length + " sinks for " + nHeads + " heads");
        }
        int group = nHeads / kvHeads;
        float[] scores = new float[nKv];
        boolean[] visible = new boolean[nKv];
        for (int t = 0; t < nTokens; t++) {
            int position = queryPositions[t];
            for (int h = 0; h < nHeads; h++) {
                int kvHead = h / group;
                int qBase = (t * nHeads + h) * headDim;
                float max = options.sink(h);
                boolean any = false;
                for (int j = 0; j < nKv; j++) {
                    visible[j] = options.visible(position, j);
                    if (!visible[j]) {
                        continue;
                    }
                    int kBase = (j * kvHeads + kvHead) * headDim;
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += (double) q[qBase + d] * k[kBase + d];
                    }
                    float s = (float) dot * options.scale();
                    if (options.softCap() > 0) {
                        s = BasicOps.softCap(s, options.softCap());
                    }
                    scores[j] = s;
                    max = Math.max(max, s);
                    any = true;
                }
                int oBase = (t * nHeads + h) * headDim;
                if (!any) {
                    for (int d = 0; d < headDim; d++) {
                        out[oBase + d] = 0f;
                    }
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < nKv; j++) {
                    if (visible[j]) {
                        scores[j] = (float) Math.exp(scores[j] - max);
                        sum += scores[j];
                    }
                }
                float sink = options.sink(h);
                if (sink != Float.NEGATIVE_INFINITY) {
                    sum += (float) Math.exp(sink - max);
                }
                float total = (float) sum;
                double[] acc = new double[headDim];
                for (int j = 0; j < nKv; j++) {
                    if (!visible[j]) {
                        continue;
                    }
                    float p = scores[j] / total;
                    int vBase = (j * kvHeads + kvHead) * headDim;
                    for (int d = 0; d < headDim; d++) {
                        acc[d] += (double) p * v[vBase + d];
                    }
                }
                for (int d = 0; d < headDim; d++) {
                    out[oBase + d] = (float) acc[d];
                }
            }
        }
    }

    private static void checkSize(float[] a, long needed, String name) {
        if (a.length < needed) {
            throw new IllegalArgumentException(name + " holds " + a.length + " values, needs " + needed);
        }
    }
}
