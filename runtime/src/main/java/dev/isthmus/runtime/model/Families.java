package dev.isthmus.runtime.model;

import dev.isthmus.format.UnsupportedModelException;
import dev.isthmus.hf.HfConfig;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/** The dense families by HF {@code model_type}; each family's own file says what it switches on. */
public final class Families {
    private static final Map<String, Function<HfConfig, DenseSpec>> BY_MODEL_TYPE = Map.ofEntries(
            Map.entry("llama", Llama::spec),
            Map.entry("mistral", Llama::spec),
            Map.entry("ministral", Llama::spec),
            Map.entry("qwen2", Qwen2::spec),
            Map.entry("qwen3", Qwen3::spec),
            Map.entry("smollm3", SmolLM3::spec),
            Map.entry("gemma2", Gemma2::spec),
            Map.entry("gemma3", Gemma3::spec),
            Map.entry("gemma3_text", Gemma3::spec),
            Map.entry("olmo2", Olmo2::spec),
            Map.entry("olmo3", Olmo2::spec),
            Map.entry("phi3", Phi3::spec));

    private Families() {
    }

    /** The model types Isthmus can run, sorted. */
    public static List<String> supported() {
        return List.copyOf(new TreeSet<>(BY_MODEL_TYPE.keySet()));
    }

    /**
     * The spec of the model an HF config describes.
     *
     * @throws UnsupportedModelException for a model type Isthmus does not run (naming it and the supported ones)
     */
    public static DenseSpec spec(HfConfig config) {
        String type = config.textModelType();
        Function<HfConfig, DenseSpec> f = BY_MODEL_TYPE.get(type);
        if (f == null) {
            throw new UnsupportedModelException(config.path(), -1, "model type '" + type
                    + "' is not supported; supported: " + String.join(", ", supported()));
        }
        return f.apply(config);
    }

    /** Llama-style defaults: pre-norm RMSNorm, SwiGLU, head_dim^-0.5; families override what differs. */
    static DenseSpec llamaLike(HfConfig c, String family) {
        return new DenseSpec(family, c.hiddenSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.intermediateSize(), c.vocabSize(), (float) c.rmsNormEps(), c.maxPositionEmbeddings(),
                DenseSpec.NormKind.RMS, "input_layernorm", null, "post_attention_layernorm", null,
                DenseSpec.QkNorm.NONE, false, false, false, DenseSpec.Activation.SILU, 1f,
                (float) Math.pow(c.headDim(), -0.5), 0f, 0f, c.tieWordEmbeddings(), DenseSpec.layersOf(c, null));
    }
}
