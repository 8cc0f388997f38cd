package dev.isthmus.runtime.convert;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The model families that {@code isthmus convert} handles: Hugging Face {@code model_type}s, the
 * GGUF architecture name llama.cpp uses for them, their {@link TensorNames} table, and the weight
 * transforms llama.cpp's {@code convert_hf_to_gguf.py} applies.
 *
 * <ul>
 *   <li>{@link #permuteQk()}: q_proj/k_proj rows (and their biases) are permuted from HF's
 *       rotate-half layout back to the interleaved layout (llama.cpp's {@code LlamaModel.permute},
 *       applied for {@code LlamaModel} and its subclasses with {@code undo_permute}: llama,
 *       Mistral, Mistral 3 text, SmolLM3). See {@link #permutedRow}.</li>
 *   <li>{@link #normPlusOne()}: Gemma stores RMSNorm weights as {@code w} and multiplies by
 *       {@code 1 + w}; llama.cpp's converter writes {@code w + 1} for every {@code *norm.weight}
 *       (Gemma 2 and 3).</li>
 * </ul>
 */
public enum Family {
    /** Llama 2/3/3.x, Mistral 7B, Ministral (model_type ministral), and the text model of Mistral Small 3.1 (model_type mistral3). */
    LLAMA("llama", List.of("llama", "mistral", "ministral", "mistral3"), true, false, llamaTable(false).build()),
    /** Qwen2 / Qwen2.5: q/k/v biases. */
    QWEN2("qwen2", List.of("qwen2"), false, false, llamaTable(false).build()),
    /** Qwen3: q/k norms. */
    QWEN3("qwen3", List.of("qwen3"), false, false, llamaTable(true).build()),
    /** Gemma 2: sandwich norms, soft-capping. */
    GEMMA2("gemma2", List.of("gemma2"), false, true, gemmaTable(false).build()),
    /** Gemma 3 (text model of the multimodal checkpoints, or gemma3_text). */
    GEMMA3("gemma3", List.of("gemma3", "gemma3_text"), false, true, gemmaTable(true).build()),
    /** OLMo 2 and OLMo 3 (llama.cpp converts both to its "olmo2" architecture). */
    OLMO2("olmo2", List.of("olmo2", "olmo3"), false, false, new TensorNames.Builder()
            .w("self_attn.q_proj", "attn_q").w("self_attn.k_proj", "attn_k").w("self_attn.v_proj", "attn_v")
            .w("self_attn.o_proj", "attn_output")
            .w("self_attn.q_norm", "attn_q_norm").w("self_attn.k_norm", "attn_k_norm")
            .w("post_attention_layernorm", "post_attention_norm")
            .w("mlp.gate_proj", "ffn_gate").w("mlp.up_proj", "ffn_up").w("mlp.down_proj", "ffn_down")
            .w("post_feedforward_layernorm", "post_ffw_norm")
            .build()),
    /** SmolLM3 (a llama with NoPE layers; llama.cpp permutes Q/K as for llama). */
    SMOLLM3("smollm3", List.of("smollm3"), true, false, llamaTable(false).build()),
    /** Phi-3 / Phi-3.5 / Phi-4 mini: fused qkv and gate_up, kept fused as llama.cpp does. */
    PHI3("phi3", List.of("phi3"), false, false, new TensorNames.Builder()
            .w("input_layernorm", "attn_norm")
            .w("self_attn.qkv_proj", "attn_qkv").w("self_attn.o_proj", "attn_output")
            .w("post_attention_layernorm", "ffn_norm")
            .w("mlp.gate_up_proj", "ffn_up").w("mlp.down_proj", "ffn_down")
            .build());

    private static final List<String> IGNORED_PREFIXES = List.of(
            "model.vision_tower.", "vision_tower.", "model.vision_model.", "vision_model.",
            "model.multi_modal_projector.", "multi_modal_projector.", "model.audio_tower.", "audio_tower.");

    private final String arch;
    private final List<String> modelTypes;
    private final boolean permuteQk;
    private final boolean normPlusOne;
    private final TensorNames names;

    Family(String arch, List<String> modelTypes, boolean permuteQk, boolean normPlusOne, TensorNames names) {
        this.arch = arch;
        this.modelTypes = modelTypes;
        this.permuteQk = permuteQk;
        this.normPlusOne = normPlusOne;
        this.names = names;
    }

    private static TensorNames.Builder llamaTable(boolean qkNorm) {
        TensorNames.Builder b = new TensorNames.Builder()
                .w("input_layernorm", "attn_norm")
                .w("self_attn.q_proj", "attn_q").b("self_attn.q_proj", "attn_q")
                .w("self_attn.k_proj", "attn_k").b("self_attn.k_proj", "attn_k")
                .w("self_attn.v_proj", "attn_v").b("self_attn.v_proj", "attn_v")
                .w("self_attn.o_proj", "attn_output").b("self_attn.o_proj", "attn_output");
        if (qkNorm) {
            b.w("self_attn.q_norm", "attn_q_norm").w("self_attn.k_norm", "attn_k_norm");
        }
        return b.w("post_attention_layernorm", "ffn_norm")
                .w("mlp.gate_proj", "ffn_gate").w("mlp.up_proj", "ffn_up").w("mlp.down_proj", "ffn_down");
    }

    private static TensorNames.Builder gemmaTable(boolean qkNorm) {
        TensorNames.Builder b = new TensorNames.Builder()
                .w("input_layernorm", "attn_norm")
                .w("self_attn.q_proj", "attn_q").w("self_attn.k_proj", "attn_k").w("self_attn.v_proj", "attn_v")
                .w("self_attn.o_proj", "attn_output");
        if (qkNorm) {
            b.w("self_attn.q_norm", "attn_q_norm").w("self_attn.k_norm", "attn_k_norm");
        }
        return b.w("post_attention_layernorm", "post_attention_norm")
                .w("pre_feedforward_layernorm", "ffn_norm")
                .w("mlp.gate_proj", "ffn_gate").w("mlp.up_proj", "ffn_up").w("mlp.down_proj", "ffn_down")
                .w("post_feedforward_layernorm", "post_ffw_norm");
    }

    /** The GGUF {@code general.architecture} llama.cpp writes for this family. */
    public String arch() {
        return arch;
    }

    /** The HF {@code model_type}s of this family. */
    public List<String> modelTypes() {
        return modelTypes;
    }

    /** Whether q_proj/k_proj are permuted (see the class comment). */
    public boolean permuteQk() {
        return permuteQk;
    }

    /** Whether {@code *norm.weight} tensors are written as {@code w + 1} (Gemma). */
    public boolean normPlusOne() {
        return normPlusOne;
    }

    /** The tensor-name table. */
    public TensorNames names() {
        return names;
    }

    /** The family of HF {@code modelType}, if supported. */
    public static Optional<Family> ofModelType(String modelType) {
        for (Family f : values()) {
            if (f.modelTypes.contains(modelType)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }

    /** The family whose GGUF {@code general.architecture} is {@code arch}, if supported. */
    public static Optional<Family> ofArch(String arch) {
        for (Family f : values()) {
            if (f.arch.equals(arch)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }

    /** Every supported GGUF architecture, for error messages. */
    public static List<String> supportedArchs() {
        List<String> out = new ArrayList<>();
        for (Family f : values()) {
            out.add(f.arch);
        }
        return out;
    }

    /** Every supported {@code model_type}, for error messages. */
    public static List<String> supportedModelTypes() {
        List<String> out = new ArrayList<>();
        for (Family f : values()) {
            out.addAll(f.modelTypes);
        }
        return out;
    }

    /**
     * The HF name as the tables spell it: the language model of a multimodal checkpoint
     * ({@code model.language_model.X}, {@code language_model.model.X}, {@code language_model.lm_head.weight})
     * moved to {@code model.X} / {@code lm_head.weight}. Empty for tensors that are not part of the
     * text model and are skipped silently (vision tower, projector, audio tower, rotary
     * {@code inv_freq} buffers).
     */
    public static Optional<String> normalize(String hfName) {
        Objects.requireNonNull(hfName, "hfName");
        for (String p : IGNORED_PREFIXES) {
            if (hfName.startsWith(p)) {
                return Optional.empty();
            }
        }
        if (hfName.endsWith(".rotary_emb.inv_freq")) {
            return Optional.empty();
        }
        if (hfName.startsWith("model.language_model.")) {
            return Optional.of("model." + hfName.substring("model.language_model.".length()));
        }
        if (hfName.startsWith("language_model.model.")) {
            return Optional.of("model." + hfName.substring("language_model.model.".length()));
        }
        if (hfName.startsWith("language_model.lm_head.")) {
            return Optional.of(hfName.substring("language_model.".length()));
        }
        return Optional.of(hfName);
    }

    /**
     * llama.cpp's Q/K permutation as a row map: the source row of output row {@code row} of a
     * {@code [heads * headDim, ...]} weight. llama.cpp reshapes to {@code (heads, 2, headDim/2, ...)},
     * swaps axes 1 and 2 and reshapes back, so output row {@code h*headDim + 2i + j} takes input row
     * {@code h*headDim + j*headDim/2 + i}.
     *
     * @param row     output row
     * @param rows    total rows (heads * headDim)
     * @param heads   the head count used by the permutation (n_head for q, n_head_kv for k)
     */
    public static long permutedRow(long row, long rows, int heads) {
        if (rows % (2L * heads) != 0) {
            throw new IllegalArgumentException(rows + " rows cannot be permuted over " + heads + " heads");
        }
        long headDim = rows / heads;
        long h = row / headDim;
        long r = row % headDim;
        return h * headDim + (r % 2) * (headDim / 2) + r / 2;
    }
}
