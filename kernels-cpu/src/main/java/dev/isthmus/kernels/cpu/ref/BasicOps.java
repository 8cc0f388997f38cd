package dev.isthmus.kernels.cpu.ref;

/**
 * Small vector ops of the forward pass: softmax, logit soft-capping, the residual add, the
 * (scaled) embedding lookup and argmax. All work on {@code n} values from an offset; outputs may
 * alias inputs.
 */
public final class BasicOps {
    private BasicOps() {
    }

    /**
     * Numerically stable softmax in place: {@code x[i] = exp(x[i] - max) / sum_j exp(x[j] - max)},
     * as {@code torch.softmax} in float32. Entries of {@code -inf} get weight 0; a row that is all
     * {@code -inf} becomes all NaN, as in torch.
     */
    public static void softmax(float[] x, int offset, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[offset + i] - max);
            x[offset + i] = e;
            sum += e;
        }
        float total = (float) sum;
        for (int i = 0; i < n; i++) {
            x[offset + i] = x[offset + i] / total;
        }
    }

    /**
     * Logit soft-capping in place: {@code x = cap * tanh(x / cap)}, in Gemma 2's order
     * ({@code Gemma2ForCausalLM.forward} for final logits, {@code eager_attention_forward} in
     * modeling_gemma2.py for attention scores: divide, tanh, multiply, each in float32).
     *
     * @param cap the cap (e.g. {@code final_logit_softcapping} 30.0, {@code attn_logit_softcapping} 50.0)
     */
    public static void softCap(float[] x, int offset, int n, float cap) {
        for (int i = 0; i < n; i++) {
            x[offset + i] = softCap(x[offset + i], cap);
        }
    }

    /** One soft-capped value: {@code cap * tanh(x / cap)} with float rounding after each step. */
    public static float softCap(float x, float cap) {
        float scaled = x / cap;
        float t = (float) Math.tanh(scaled);
        return t * cap;
    }

    /** Residual add: {@code out[i] = a[i] + b[i]}. */
    public static void add(float[] a, int aOffset, float[] b, int bOffset, float[] out, int outOffset, int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = a[aOffset + i] + b[bOffset + i];
        }
    }

    /** Residual add in place over whole arrays: {@code acc[i] += delta[i]}. */
    public static void addInPlace(float[] acc, float[] delta) {
        if (delta.length != acc.length) {
            throw new IllegalArgumentException("lengths differ: " + acc.length + " and " + delta.length);
        }
        add(acc, 0, delta, 0, acc, 0, acc.length);
    }

    /**
     * Embedding lookup of one token: copies row {@code token} of a row-major {@code [vocab][dim]} table,
     * multiplied by {@code scale} ({@code 1} for most families).
     *
     * <p>Gemma ({@code Gemma2ScaledWordEmbedding}/{@code Gemma3TextScaledWordEmbedding}) multiplies by
     * {@code sqrt(hidden_size)} cast to the weight dtype; in float32 that is {@link #gemmaEmbedScale}.
     */
    public static void embedding(float[] table, int dim, int token, float scale, float[] out, int outOffset) {
        if (token < 0 || (long) (token + 1) * dim > table.length) {
            throw new IndexOutOfBoundsException("token " + token + " outside a table of " + table.length / dim
                    + " rows");
        }
        int base = token * dim;
        for (int i = 0; i < dim; i++) {
            out[outOffset + i] = table[base + i] * scale;
        }
    }

    /** Embeds {@code tokens} into row-major {@code out} ({@code [tokens.length][dim]}). */
    public static void embedding(float[] table, int dim, int[] tokens, float scale, float[] out) {
        for (int t = 0; t < tokens.length; t++) {
            embedding(table, dim, tokens[t], scale, out, t * dim);
        }
    }

    /** Gemma's embedding multiplier in float32: {@code (float) sqrt(hiddenSize)}. */
    public static float gemmaEmbedScale(int hiddenSize) {
        return (float) Math.sqrt(hiddenSize);
    }

    /**
     * Index of the largest of {@code n} values from {@code offset}, relative to {@code offset}; the first
     * one on ties, and the first NaN if any (as {@code torch.argmax}, which treats NaN as the maximum).
     */
    public static int argmax(float[] x, int offset, int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("argmax of no values");
        }
        int best = 0;
        float bestValue = x[offset];
        if (Float.isNaN(bestValue)) {
            return 0;
        }
        for (int i = 1; i < n; i++) {
            float v = x[offset + i];
            if (Float.isNaN(v)) {
                return i;
            }
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return best;
    }
}
