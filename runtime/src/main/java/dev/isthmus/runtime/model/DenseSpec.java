package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;
import dev.isthmus.hf.RopeParameters;
import dev.isthmus.kernels.cpu.ref.RopeConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything that distinguishes one dense decoder-only family from another, as data: which norm
 * sits where, which attention, which FFN, which RoPE per layer. One {@link DenseTransformer} runs
 * every spec; each family's file ({@link Families}) only fills one in.
 *
 * <p>A layer is two residual sublayers, attention then FFN, each {@code x = x + post(f(pre(x)))}
 * where {@code pre} and {@code post} are optional norms named by their HF tensor names:
 * Llama-style pre-norm has only {@code pre}; Gemma's "sandwich" has both; OLMo 2's post-norm only
 * {@code post}.
 *
 * @param family          family name, for messages
 * @param hidden          hidden size
 * @param heads           query heads
 * @param kvHeads         key/value heads
 * @param headDim         dimensions per head
 * @param intermediate    FFN inner size
 * @param vocab           vocabulary size
 * @param eps             RMSNorm epsilon
 * @param maxPositions    {@code max_position_embeddings}
 * @param norm            RMSNorm as {@code w * x̂} or Gemma's {@code (1 + w) * x̂}
 * @param attnPreNorm     HF name (under {@code model.layers.N.}) of the norm before attention, or null
 * @param attnPostNorm    norm applied to the attention output before the residual add, or null
 * @param ffnPreNorm      norm before the FFN, or null
 * @param ffnPostNorm     norm applied to the FFN output before the residual add, or null
 * @param qkNorm          RMSNorm of queries and keys before RoPE
 * @param qkvBias         q/k/v projections have biases (Qwen2)
 * @param fusedQkv        one {@code qkv_proj} (Phi-3) instead of q/k/v projections
 * @param fusedGateUp     one {@code gate_up_proj} (Phi-3) instead of gate/up projections
 * @param activation      the gated FFN's activation
 * @param embedScale      multiplier on embeddings (Gemma: sqrt(hidden) as float32), else 1
 * @param attnScale       multiplier on q·k (head_dim^-0.5, Gemma query_pre_attn_scalar^-0.5)
 * @param attnSoftCap     attention logit soft-capping (0 for none)
 * @param finalSoftCap    final logit soft-capping (0 for none)
 * @param tiedEmbeddings  the output projection is the embedding matrix
 * @param layers          per-layer attention kind and RoPE
 */
public record DenseSpec(String family, int hidden, int heads, int kvHeads, int headDim, int intermediate, int vocab,
                        float eps, int maxPositions, NormKind norm, String attnPreNorm, String attnPostNorm,
                        String ffnPreNorm, String ffnPostNorm, QkNorm qkNorm, boolean qkvBias, boolean fusedQkv,
                        boolean fusedGateUp, Activation activation, float embedScale, float attnScale,
                        float attnSoftCap, float finalSoftCap, boolean tiedEmbeddings, List<Layer> layers) {

    /** How RMSNorm applies its weight. */
    public enum NormKind { RMS, GEMMA }

    /** Query/key normalization before RoPE. */
    public enum QkNorm {
        /** None. */
        NONE,
        /** Per head, over head_dim (Qwen3, Gemma 3). */
        PER_HEAD,
        /** Over the whole projection, heads × head_dim (OLMo 2/3). */
        WHOLE
    }

    /** The gated FFN's activation: {@code act(gate) * up}. */
    public enum Activation { SILU, GELU_TANH }

    /**
     * One layer's attention.
     *
     * @param slidingWindow window in tokens, 0 for full attention
     * @param rope          the layer's RoPE, or null for a NoPE layer
     */
    public record Layer(int slidingWindow, RopeConfig rope) {
    }

    public DenseSpec {
        Objects.requireNonNull(family);
        layers = List.copyOf(layers);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(family + ": " + heads + " heads cannot share " + kvHeads + " KV heads");
        }
    }

    /** This spec with other per-layer attention (same layer count). */
    DenseSpec withLayers(List<Layer> newLayers) {
        if (newLayers.size() != layers.size()) {
            throw new IllegalArgumentException(newLayers.size() + " layers for a spec of " + layers.size());
        }
        return new DenseSpec(family, hidden, heads, kvHeads, headDim, intermediate, vocab, eps, maxPositions, norm,
                attnPreNorm, attnPostNorm, ffnPreNorm, ffnPostNorm, qkNorm, qkvBias, fusedQkv, fusedGateUp, activation,
                embedScale, attnScale, attnSoftCap, finalSoftCap, tiedEmbeddings, newLayers);
    }

    /** Per-layer attention from the config's layer types, sliding window and RoPE parameters. */
    static List<Layer> layersOf(HfConfig c, boolean[] noRope) {
        List<Layer> list = new ArrayList<>();
        List<String> types = c.layerTypes();
        int window = c.slidingWindow().orElse(0);
        for (int i = 0; i < types.size(); i++) {
            boolean sliding = HfConfig.SLIDING_ATTENTION.equals(types.get(i));
            RopeConfig rope = noRope != null && noRope[i] ? null : ropeConfig(c.ropeParameters(types.get(i)));
            list.add(new Layer(sliding ? window : 0, rope));
        }
        return list;
    }

    /** The kernels' RoPE description of an HF config's RoPE parameters (the same fields). */
    static RopeConfig ropeConfig(RopeParameters p) {
        return new RopeConfig(p.ropeType(), p.theta(), p.factor(), p.originalMaxPositionEmbeddings(),
                p.lowFreqFactor(), p.highFreqFactor(), p.betaFast(), p.betaSlow(), p.attentionFactor(), p.mscale(),
                p.mscaleAllDim(), p.truncate(), p.shortFactor(), p.longFactor(), p.partialRotaryFactor());
    }
}
