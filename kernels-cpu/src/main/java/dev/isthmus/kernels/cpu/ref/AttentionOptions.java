package dev.isthmus.kernels.cpu.ref;

/**
 * What one attention layer does besides {@code softmax(q k^T * scale) v}. Immutable; start from
 * {@link #causal(int)} and adjust with the {@code with*} methods.
 *
 * @param causal        key {@code j} visible to a query at position {@code i} only when {@code j <= i}
 *                      (transformers' {@code causal_mask_function}: {@code kv_idx <= q_idx})
 * @param slidingWindow 0 for none, else {@code W}: key {@code j} visible only when {@code i - j < W}
 *                      ({@code sliding_window_overlay}: {@code kv_idx > q_idx - sliding_window}; so a token
 *                      sees itself and the {@code W - 1} before it). Without {@code causal}, also
 *                      {@code j - i < W} (the bidirectional overlay).
 * @param chunkSize     0 for none, else {@code C}: key {@code j} visible only when {@code j / C == i / C}
 *                      (Llama 4's {@code chunked_overlay}, no left padding)
 * @param sinks         {@code null} for none, else one learned logit per query head (gpt-oss
 *                      {@code self.sinks}), taking part in the softmax's max and denominator but attending
 *                      to no value
 * @param softCap       0 for none, else Gemma 2's {@code attn_logit_softcapping}: scaled scores become
 *                      {@code cap * tanh(score / cap)} before masking
 * @param scale         multiplier on {@code q . k}: {@code head_dim^-0.5} by default, Gemma's
 *                      {@code query_pre_attn_scalar^-0.5}
 */
public record AttentionOptions(boolean causal, int slidingWindow, int chunkSize, float[] sinks, float softCap,
                               float scale) {
    /** Validates the values and copies the sinks. */
    public AttentionOptions {
        if (slidingWindow < 0 || chunkSize < 0 || softCap < 0 || !(Float.isFinite(scale))) {
            throw new IllegalArgumentException("sliding window " + slidingWindow + ", chunk " + chunkSize
                    + ", soft cap " + softCap + ", scale " + scale);
        }
        sinks = sinks == null ? null : sinks.clone();
    }

    /** Causal attention with the default scale {@code headDim^-0.5} (Python double, applied as float32). */
    public static AttentionOptions causal(int headDim) {
        return new AttentionOptions(true, 0, 0, null, 0f, (float) Math.pow(headDim, -0.5));
    }

    /** A copy of the sinks, or {@code null}. */
    @Override
    public float[] sinks() {
        return sinks == null ? null : sinks.clone();
    }

    /** The sink logit of query head {@code h} ({@code -inf}, i.e. none, when there are no sinks). */
    public float sink(int h) {
        return sinks == null ? Float.NEGATIVE_INFINITY : sinks[h];
    }

    /** These options with causal masking on or off. */
    public AttentionOptions withCausal(boolean value) {
        return new AttentionOptions(value, slidingWindow, chunkSize, sinks, softCap, scale);
    }

    /** These options with a sliding window of {@code window} tokens (0: none). */
    public AttentionOptions withSlidingWindow(int window) {
        return new AttentionOptions(causal, window, chunkSize, sinks, softCap, scale);
    }

    /** These options with chunked attention of {@code size} tokens (0: none). */
    public AttentionOptions withChunkSize(int size) {
        return new AttentionOptions(causal, slidingWindow, size, sinks, softCap, scale);
    }

    /** These options with per-head sink logits ({@code null}: none). */
    public AttentionOptions withSinks(float[] perHead) {
        return new AttentionOptions(causal, slidingWindow, chunkSize, perHead, softCap, scale);
    }

    /** These options with attention-logit soft-capping at {@code cap} (0: none). */
    public AttentionOptions withSoftCap(float cap) {
        return new AttentionOptions(causal, slidingWindow, chunkSize, sinks, cap, scale);
    }

    /** These options with another query scale. */
    public AttentionOptions withScale(float value) {
        return new AttentionOptions(causal, slidingWindow, chunkSize, sinks, softCap, value);
    }

    /** These options with Gemma's scale {@code queryPreAttnScalar^-0.5}. */
    public AttentionOptions withQueryPreAttnScalar(double queryPreAttnScalar) {
        return withScale((float) Math.pow(queryPreAttnScalar, -0.5));
    }

    /** Whether the key at position {@code j} is visible to the query at position {@code i}. */
    public boolean visible(int i, int j) {
        if (causal && j > i) {
            return false;
        }
        if (slidingWindow > 0) {
            if (i - j >= slidingWindow) {
                return false;
            }
            if (!causal && j - i >= slidingWindow) {
                return false;
            }
        }
        return chunkSize <= 0 || Math.floorDiv(j, chunkSize) == Math.floorDiv(i, chunkSize);
    }
}
