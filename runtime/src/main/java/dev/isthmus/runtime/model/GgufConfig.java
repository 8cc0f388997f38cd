package dev.isthmus.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.format.ModelFormatException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.runtime.convert.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A GGUF file's metadata turned back into the Hugging Face {@code config.json} it came from, so
 * that the families' own code ({@link Families#spec}) builds the spec for GGUF and safetensors
 * alike. This inverts what {@code HfToGguf} (and llama.cpp's {@code convert_hf_to_gguf.py}) write:
 *
 * <ul>
 *   <li>sizes: {@code {arch}.embedding_length}, {@code block_count}, {@code feed_forward_length},
 *       {@code context_length}, {@code attention.head_count(_kv)}, {@code attention.key_length}
 *       (else hidden / heads), {@code attention.layer_norm_rms_epsilon}; the vocabulary from
 *       {@code token_embd}'s shape; tied embeddings when there is no {@code output.weight};</li>
 *   <li>RoPE: {@code rope.freq_base}, {@code rope.scaling.type} linear/yarn with {@code factor},
 *       {@code original_context_length}, {@code attn_factor}; {@code rope.dimension_count} below the
 *       head size as {@code partial_rotary_factor}; Phi-3's {@code rope_factors_long/short} tensors
 *       as LongRoPE's factor lists. Llama 3 scaling survives only as the {@code rope_freqs} tensor of
 *       per-frequency divisors, which is not config but {@link #ropeFreqs} (applied through
 *       {@link dev.isthmus.kernels.cpu.ref.RopeConfig#freqFactors()});</li>
 *   <li>attention kinds: {@code attention.sliding_window} (0 = none) and the per-layer
 *       {@code attention.sliding_window_pattern} (true = sliding) as {@code layer_types}; without a
 *       pattern, llama.cpp's fixed ones: Gemma 2 every other layer from layer 0, Gemma 3 five of six
 *       (local RoPE base {@code rope.freq_base_swa}, else 10000, as llama.cpp), every layer otherwise;</li>
 *   <li>Gemma: {@code attn_logit_softcapping}, {@code final_logit_softcapping}, and the query scale
 *       {@code attention.scale} when written, else llama.cpp's rule ({@code 1/sqrt(hidden/heads)} for
 *       the 27B models, {@code 1/sqrt(key_length)} otherwise);</li>
 *   <li>HF model types: {@code llama} (Mistral, Ministral and Mistral Small are llama in GGUF; their
 *       sliding windows come from the keys above), {@code gemma3_text} for gemma3, {@code olmo3}
 *       for an olmo2 file with sliding layers; SmolLM3's NoPE layers are every fourth (llama.cpp's
 *       fixed step, the family default).</li>
 * </ul>
 */
final class GgufConfig {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private GgufConfig() {
    }

    /** The HF config of {@code f}, a file of {@code family}. */
    static HfConfig hfConfig(GgufFile f, Family family) {
        String a = family.arch();
        ObjectNode c = MAPPER.createObjectNode();
        int hidden = (int) requireLong(f, a + ".embedding_length");
        int layers = (int) requireLong(f, a + ".block_count");
        int heads = (int) requireLong(f, a + ".attention.head_count");
        int kvHeads = (int) f.getLong(a + ".attention.head_count_kv").orElse(heads);
        int headDim = (int) f.getLong(a + ".attention.key_length").orElse(hidden / heads);
        GgufTensorInfo embd = f.tensor("token_embd.weight").orElseThrow(() ->
                new ModelFormatException(f.path(), -1, "missing tensor 'token_embd.weight'"));
        long[] ne = embd.shape();
        if (ne.length != 2) {
            throw new ModelFormatException(f.path(), embd.absoluteOffset(), "token_embd.weight has " + ne.length
                    + " dimensions, expected 2");
        }
        boolean sliding = f.getLong(a + ".attention.sliding_window").orElse(0) > 0;
        String modelType = switch (family) {
            case GEMMA3 -> "gemma3_text";
            case OLMO2 -> sliding ? "olmo3" : "olmo2";
            default -> family.arch();
        };
        c.put("model_type", modelType);
        c.put("hidden_size", hidden);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("head_dim", headDim);
        c.put("intermediate_size", requireLong(f, a + ".feed_forward_length"));
        c.put("max_position_embeddings", requireLong(f, a + ".context_length"));
        c.put("rms_norm_eps", requireFloat(f, a + ".attention.layer_norm_rms_epsilon"));
        c.put("vocab_size", ne[1]);
        c.put("tie_word_embeddings", f.tensor("output.weight").isEmpty());

        ObjectNode rope = MAPPER.createObjectNode();
        rope.put("rope_theta", optFloat(f, a + ".rope.freq_base").orElse(10_000f));
        String scaling = f.getString(a + ".rope.scaling.type").orElse("none");
        switch (scaling) {
            case "linear", "yarn" -> {
                rope.put("rope_type", scaling);
                rope.put("factor", requireFloat(f, a + ".rope.scaling.factor"));
            }
            case "none" -> rope.put("rope_type", "default");
            default -> throw new ModelFormatException(f.path(), -1, "rope scaling type '" + scaling
                    + "' is not supported (linear, yarn, or none)");
        }
        f.getLong(a + ".rope.scaling.original_context_length").ifPresent(v ->
                rope.put("original_max_position_embeddings", v));
        if (scaling.equals("yarn")) {
            optFloat(f, a + ".rope.scaling.attn_factor").ifPresent(v -> rope.put("attention_factor", v));
        }
        f.getLong(a + ".rope.dimension_count").ifPresent(d -> {
            if (d != headDim) {
                rope.put("partial_rotary_factor", (double) d / headDim);
            }
        });
        if (f.tensor("rope_factors_long.weight").isPresent()) {
            rope.put("rope_type", "longrope");
            rope.set("long_factor", floats(f, "rope_factors_long.weight"));
            rope.set("short_factor", floats(f, "rope_factors_short.weight"));
            optFloat(f, a + ".rope.scaling.attn_factor").ifPresent(v -> rope.put("attention_factor", v));
        }

        if (sliding) {
            c.put("sliding_window", f.getLong(a + ".attention.sliding_window").getAsLong());
            boolean[] pattern = slidingPattern(f, family, layers);
            if (pattern != null) {
                ArrayNode types = c.putArray("layer_types");
                for (boolean s : pattern) {
                    types.add(s ? HfConfig.SLIDING_ATTENTION : HfConfig.FULL_ATTENTION);
                }
            }
        }
        if (family == Family.GEMMA3) {
            ObjectNode perType = MAPPER.createObjectNode();
            perType.set(HfConfig.FULL_ATTENTION, rope);
            ObjectNode local = perType.putObject(HfConfig.SLIDING_ATTENTION);
            local.put("rope_type", "default");
            local.put("rope_theta", optFloat(f, a + ".rope.freq_base_swa").orElse(10_000f));
            c.set("rope_parameters", perType);
        } else {
            c.set("rope_parameters", rope);
        }
        if (family == Family.GEMMA2 || family == Family.GEMMA3) {
            optFloat(f, a + ".attn_logit_softcapping").ifPresent(v -> c.put("attn_logit_softcapping", v));
            optFloat(f, a + ".final_logit_softcapping").ifPresent(v -> c.put("final_logit_softcapping", v));
            Optional<Float> scale = optFloat(f, a + ".attention.scale");
            double scalar;
            if (scale.isPresent()) {
                scalar = 1.0 / ((double) scale.get() * scale.get());
            } else {
                boolean is27b = (family == Family.GEMMA2 && layers == 46) || (family == Family.GEMMA3 && layers == 62);
                scalar = is27b ? (double) hidden / heads : headDim;
            }
            c.put("query_pre_attn_scalar", scalar);
        }
        return HfConfig.parse(c.toString(), f.path());
    }

    /**
     * The sliding layers: the file's {@code attention.sliding_window_pattern} when present, else
     * llama.cpp's fixed pattern for Gemma 2/3; null for "every layer" (the HF default for a bare
     * {@code sliding_window}).
     */
    private static boolean[] slidingPattern(GgufFile f, Family family, int layers) {
        Optional<GgufValue> v = f.get(family.arch() + ".attention.sliding_window_pattern");
        boolean[] out = new boolean[layers];
        if (v.isPresent()) {
            if (!v.get().isArray() || v.get().length() != layers) {
                throw new ModelFormatException(f.path(), -1, family.arch()
                        + ".attention.sliding_window_pattern must be an array of " + layers + " booleans");
            }
            for (int i = 0; i < layers; i++) {
                out[i] = v.get().get(i).asBoolean();
            }
            return out;
        }
        int period = switch (family) {
            case GEMMA2 -> 2;
            case GEMMA3 -> 6;
            default -> 0;
        };
        if (period == 0) {
            return null;
        }
        for (int i = 0; i < layers; i++) {
            out[i] = i % period < period - 1;
        }
        return out;
    }

    /**
     * llama.cpp's {@code rope_freqs.weight} (per-frequency divisors of Llama 3 scaling), empty when
     * the file has none.
     */
    static List<Double> ropeFreqs(GgufFile f) {
        Optional<GgufTensorInfo> t = f.tensor("rope_freqs.weight");
        if (t.isEmpty()) {
            return List.of();
        }
        float[] v = Dequantize.toFloats(t.get().type(), f.tensorData(t.get()), t.get().elementCount());
        List<Double> out = new ArrayList<>(v.length);
        for (float x : v) {
            out.add((double) x);
        }
        return out;
    }

    private static ArrayNode floats(GgufFile f, String tensor) {
        GgufTensorInfo t = f.tensor(tensor).orElseThrow(() ->
                new ModelFormatException(f.path(), -1, "missing tensor '" + tensor + "'"));
        float[] v = Dequantize.toFloats(t.type(), f.tensorData(t), t.elementCount());
        ArrayNode n = MAPPER.createArrayNode();
        for (float x : v) {
            n.add(x);
        }
        return n;
    }

    private static long requireLong(GgufFile f, String key) {
        return f.getLong(key).orElseThrow(() -> new ModelFormatException(f.path(), -1, "missing key '" + key + "'"));
    }

    private static float requireFloat(GgufFile f, String key) {
        return optFloat(f, key).orElseThrow(() -> new ModelFormatException(f.path(), -1, "missing key '" + key + "'"));
    }

    private static Optional<Float> optFloat(GgufFile f, String key) {
        return f.get(key).map(v -> (float) v.asDouble());
    }
}
