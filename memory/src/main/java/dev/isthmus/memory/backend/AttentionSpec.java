package dev.isthmus.memory.backend;

/**
 * One layer's attention, as a {@link Backend} computes it over the paged KV cache. Always causal
 * (query at position {@code p} sees keys at positions {@code ≤ p}); the other masks narrow that.
 *
 * @param heads         query heads
 * @param kvHeads       key/value heads (divides {@code heads}; GQA/MQA when smaller)
 * @param headDim       dimensions per head
 * @param scale         multiplier on {@code q·k} (usually {@code headDim^-0.5})
 * @param slidingWindow keys older than {@code p - window + 1} are masked; 0 for none
 * @param chunkSize     Llama 4's chunked attention: keys in other chunks of this size are masked; 0 for none
 * @param softCap       {@code cap·tanh(s/cap)} on the scores (Gemma 2); 0 for none
 * @param sinks         per-head learned sink logits that join the softmax denominator (gpt-oss), or null
 */
public record AttentionSpec(int heads, int kvHeads, int headDim, float scale, int slidingWindow, int chunkSize,
                            float softCap, float[] sinks) {
    public AttentionSpec {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads cannot share " + kvHeads + " KV heads");
        }
        if (headDim <= 0 || slidingWindow < 0 || chunkSize < 0 || softCap < 0) {
            throw new IllegalArgumentException("bad attention spec: headDim " + headDim + ", window " + slidingWindow
                    + ", chunk " + chunkSize + ", softCap " + softCap);
        }
        if (sinks != null && sinks.length != heads) {
            throw new IllegalArgumentException(sinks.length + " sinks for " + heads + " heads");
        }
    }

    /** Plain causal attention with the usual {@code headDim^-0.5} scale. */
    public static AttentionSpec causal(int heads, int kvHeads, int headDim) {
        return new AttentionSpec(heads, kvHeads, headDim, (float) (1.0 / Math.sqrt(headDim)), 0, 0, 0, null);
    }
}
