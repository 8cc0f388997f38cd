package dev.isthmus.hf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.format.ModelFormatException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;

/**
 * A typed, validated view of a Hugging Face model folder's {@code config.json}.
 *
 * <h2>Lookup rule</h2>
 * Multimodal configs (Gemma 3, Llama 4, Mistral 3, ...) nest the language model's settings in a
 * {@code text_config} object. Every getter of this top-level view looks a key up in this order:
 * <ol>
 *   <li>{@code text_config.<key>}, when the config has a {@code text_config} object;</li>
 *   <li>the top-level {@code <key>};</li>
 *   <li>for a few model types whose published configs rely on transformers' class defaults (today
 *       {@code gemma3_text}: e.g. a Gemma 3 4B {@code text_config} omits
 *       {@code num_attention_heads}), that class's default.</li>
 * </ol>
 * A JSON {@code null} counts as absent. The two exceptions are {@link #modelType()} and
 * {@link #architectures()}, which describe the whole checkpoint and are read top-level first.
 * {@link #textConfig()} returns the nested object alone as its own view (no fallback to the
 * outer object); a config without {@code text_config} is its own text view.
 *
 * <h2>Errors</h2>
 * Malformed JSON, a non-object root and a value of the wrong type (say {@code "hidden_size":
 * "4096"}) or a missing required key are {@link ModelFormatException}s naming the file and the key
 * path (e.g. {@code text_config.hidden_size}). Integers must be JSON integers that fit an
 * {@code int}; doubles accept any JSON number.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class HfConfig {
    /** Largest accepted config.json. */
    public static final long MAX_SIZE = 16L * 1024 * 1024;
    /** Largest accepted {@code num_hidden_layers}. */
    public static final int MAX_LAYERS = 1 << 16;
    /** Layer type of sliding-window (local) attention layers. */
    public static final String SLIDING_ATTENTION = "sliding_attention";
    /** Layer type of full (global) attention layers. */
    public static final String FULL_ATTENTION = "full_attention";

    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200).build())
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * Defaults of transformers' config classes for keys that the published configs of these model
     * types omit. Keyed by the text model type.
     */
    private static final Map<String, Map<String, Object>> CLASS_DEFAULTS = Map.of(
            "gemma3_text", Map.ofEntries(
                    Map.entry("vocab_size", 262_208),
                    Map.entry("num_attention_heads", 8),
                    Map.entry("num_key_value_heads", 4),
                    Map.entry("head_dim", 256),
                    Map.entry("max_position_embeddings", 131_072),
                    Map.entry("rms_norm_eps", 1e-6),
                    Map.entry("rope_theta", 1_000_000.0),
                    Map.entry("rope_local_base_freq", 10_000.0),
                    Map.entry("query_pre_attn_scalar", 256),
                    Map.entry("sliding_window", 4096),
                    Map.entry("sliding_window_pattern", 6),
                    Map.entry("tie_word_embeddings", true),
                    Map.entry("bos_token_id", 2),
                    Map.entry("eos_token_id", 1),
                    Map.entry("pad_token_id", 0)));

    /** Model types whose transformers config class defaults {@code tie_word_embeddings} to true. */
    private static final Set<String> TIED_BY_DEFAULT = Set.of("gemma", "gemma2", "gemma3", "gemma3_text", "smollm3");

    private final Path file;
    private final ObjectNode root;
    private final ObjectNode text;
    private final String prefix;
    private final String textModelType;

    private HfConfig(Path file, ObjectNode root, String prefix) {
        this.file = file;
        this.root = root;
        this.prefix = prefix;
        // Only the top-level view has a text view: a nested view is its object alone (one level).
        JsonNode tc = prefix.isEmpty() ? root.get("text_config") : null;
        if (tc != null && !tc.isNull() && !tc.isObject()) {
            throw new ModelFormatException(file, -1, "key '" + prefix + "text_config': expected an object, got "
                    + describe(tc));
        }
        this.text = tc != null && tc.isObject() ? (ObjectNode) tc : null;
        JsonNode mt = text != null && text.hasNonNull("model_type") ? text.get("model_type") : root.get("model_type");
        this.textModelType = mt != null && mt.isTextual() ? mt.textValue() : "";
    }

    /**
     * Reads and validates {@code configJson}.
     *
     * @throws IOException          when the file cannot be read
     * @throws ModelFormatException when it is not a JSON object
     */
    public static HfConfig read(Path configJson) throws IOException {
        Objects.requireNonNull(configJson, "configJson");
        long size = Files.size(configJson);
        if (size > MAX_SIZE) {
            throw new ModelFormatException(configJson, -1, "config is " + size + " bytes, above the limit of " + MAX_SIZE);
        }
        return parse(Files.readAllBytes(configJson), configJson);
    }

    /**
     * Parses a config from a string; {@code nameForErrors} (may be null) names it in exceptions.
     *
     * @throws ModelFormatException when {@code json} is not a JSON object
     */
    public static HfConfig parse(String json, Path nameForErrors) {
        return parse(json.getBytes(StandardCharsets.UTF_8), nameForErrors);
    }

    private static HfConfig parse(byte[] json, Path file) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            throw new ModelFormatException(file, loc == null ? -1 : loc.getByteOffset(),
                    "not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException(file, -1, "cannot be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file, 0, "config is not a JSON object");
        }
        return new HfConfig(file, (ObjectNode) root, "");
    }

    /** The file this config came from (or the name given to {@link #parse}). */
    public Path path() {
        return file;
    }

    /** The nested {@code text_config} as its own view, when present. */
    public Optional<HfConfig> textConfig() {
        return text == null ? Optional.empty() : Optional.of(new HfConfig(file, text, prefix + "text_config."));
    }

    // ---------------------------------------------------------------------------------------------
    // Identity

    /** {@code model_type} of the checkpoint (top-level first, e.g. {@code "gemma3"} for Gemma 3 4B). */
    public String modelType() {
        JsonNode n = root.get("model_type");
        if (n != null && !n.isNull()) {
            return asString(n, prefix + "model_type");
        }
        return requireString("model_type");
    }

    /** {@code model_type} of the text model: {@code text_config.model_type} when present, else {@link #modelType()}. */
    public String textModelType() {
        return requireString("model_type");
    }

    /** {@code architectures} (top-level first), empty when absent. */
    public List<String> architectures() {
        JsonNode n = root.get("architectures");
        if (n != null && !n.isNull()) {
            return strings(n, prefix + "architectures");
        }
        return stringList("architectures");
    }

    /** {@code dtype} (transformers 5) or {@code torch_dtype}, e.g. {@code "bfloat16"}. */
    public Optional<String> torchDtype() {
        Optional<String> d = optString("dtype");
        return d.isPresent() ? d : optString("torch_dtype");
    }

    // ---------------------------------------------------------------------------------------------
    // Dimensions

    /** {@code hidden_size} (required, positive). */
    public int hiddenSize() {
        return requirePositive("hidden_size");
    }

    /** {@code intermediate_size}: the dense MLP width (required, positive). */
    public int intermediateSize() {
        return requirePositive("intermediate_size");
    }

    /** {@code num_hidden_layers} (required, positive, at most {@value #MAX_LAYERS}). */
    public int numHiddenLayers() {
        int n = requirePositive("num_hidden_layers");
        if (n > MAX_LAYERS) {
            throw new ModelFormatException(file, -1, "key '" + prefix + "num_hidden_layers': " + n
                    + " layers is implausible (limit " + MAX_LAYERS + ")");
        }
        return n;
    }

    /** {@code num_attention_heads} (required, positive). */
    public int numAttentionHeads() {
        return requirePositive("num_attention_heads");
    }

    /** {@code num_key_value_heads}; defaults to {@link #numAttentionHeads()} (no GQA). */
    public int numKeyValueHeads() {
        return has("num_key_value_heads") ? requirePositive("num_key_value_heads") : numAttentionHeads();
    }

    /** {@code head_dim}; defaults to {@code hidden_size / num_attention_heads} (which must divide). */
    public int headDim() {
        if (has("head_dim")) {
            return requirePositive("head_dim");
        }
        int h = hiddenSize();
        int heads = numAttentionHeads();
        if (h % heads != 0) {
            throw new ModelFormatException(file, -1, "no head_dim, and hidden_size " + h
                    + " is not a multiple of num_attention_heads " + heads);
        }
        return h / heads;
    }

    /** {@code vocab_size} (required, positive). */
    public int vocabSize() {
        return requirePositive("vocab_size");
    }

    /** {@code max_position_embeddings} (required, positive). */
    public int maxPositionEmbeddings() {
        return requirePositive("max_position_embeddings");
    }

    /** {@code rms_norm_eps} (required). */
    public double rmsNormEps() {
        return requireDouble("rms_norm_eps");
    }

    /**
     * {@code tie_word_embeddings}; when absent, the default of the model type's transformers
     * config class (true for Gemma and SmolLM3, false otherwise). A missing {@code lm_head} weight
     * is the final word for a loader.
     */
    public boolean tieWordEmbeddings() {
        return optBoolean("tie_word_embeddings").orElse(TIED_BY_DEFAULT.contains(textModelType));
    }

    /**
     * {@code attention_bias}: whether q/k/v/o projections carry biases (false when absent). Qwen2
     * and Qwen2.5 configs do not set it although their q/k/v projections always have biases: go by
     * the weights present.
     */
    public boolean attentionBias() {
        return optBoolean("attention_bias").orElse(false);
    }

    // ---------------------------------------------------------------------------------------------
    // Attention layout

    /**
     * The sliding-window size, when sliding-window attention is used: {@code sliding_window},
     * empty when absent or null, or when {@code use_sliding_window} is explicitly false (Qwen2).
     */
    public OptionalInt slidingWindow() {
        if (optBoolean("use_sliding_window").map(b -> !b).orElse(false)) {
            return OptionalInt.empty();
        }
        return optInt("sliding_window");
    }

    /**
     * The attention kind of every layer ({@value #SLIDING_ATTENTION} or {@value #FULL_ATTENTION},
     * or whatever else the config names), one entry per layer. From {@code layer_types} when
     * present (its length must equal {@code num_hidden_layers}); else derived as transformers does:
     * from {@code sliding_window_pattern} {@code P} (layer {@code i} is full iff
     * {@code (i + 1) % P == 0}, Gemma 3), alternating sliding/full for Gemma 2, sliding from
     * {@code max_window_layers} on when a sliding window is set (Qwen2), all sliding when only a
     * sliding window is set (Mistral), else all full.
     */
    public List<String> layerTypes() {
        int layers = numHiddenLayers();
        Optional<Found> explicit = find("layer_types");
        if (explicit.isPresent()) {
            List<String> types = strings(explicit.get().node, explicit.get().key);
            if (types.size() != layers) {
                throw new ModelFormatException(file, -1, "key '" + explicit.get().key + "' has " + types.size()
                        + " entries but num_hidden_layers is " + layers);
            }
            return types;
        }
        List<String> out = new ArrayList<>(layers);
        OptionalInt pattern = optInt("sliding_window_pattern");
        OptionalInt window = slidingWindow();
        OptionalInt maxWindowLayers = optInt("max_window_layers");
        for (int i = 0; i < layers; i++) {
            boolean sliding;
            if (pattern.isPresent() && pattern.getAsInt() > 0) {
                sliding = (i + 1) % pattern.getAsInt() != 0;
            } else if (textModelType.equals("gemma2")) {
                sliding = i % 2 == 0;
            } else if (window.isPresent()) {
                sliding = maxWindowLayers.isEmpty() || i >= maxWindowLayers.getAsInt();
            } else {
                sliding = false;
            }
            out.add(sliding ? SLIDING_ATTENTION : FULL_ATTENTION);
        }
        return Collections.unmodifiableList(out);
    }

    /** {@code attn_logit_softcapping} (Gemma 2), empty when absent or null. */
    public OptionalDouble attnLogitSoftcapping() {
        return optDouble("attn_logit_softcapping");
    }

    /** {@code final_logit_softcapping} (Gemma 2/3), empty when absent or null. */
    public OptionalDouble finalLogitSoftcapping() {
        return optDouble("final_logit_softcapping");
    }

    /** {@code query_pre_attn_scalar} (Gemma): queries are scaled by its inverse square root. */
    public OptionalDouble queryPreAttnScalar() {
        return optDouble("query_pre_attn_scalar");
    }

    // ---------------------------------------------------------------------------------------------
    // Tokens

    /** {@code bos_token_id}. */
    public OptionalInt bosTokenId() {
        return optInt("bos_token_id");
    }

    /** {@code eos_token_id}, which may be one integer or a list; empty when absent. */
    public List<Integer> eosTokenIds() {
        Optional<Found> f = find("eos_token_id");
        if (f.isEmpty()) {
            return List.of();
        }
        JsonNode n = f.get().node;
        return n.isArray() ? ints(n, f.get().key) : List.of(asInt(n, f.get().key));
    }

    /** {@code pad_token_id}. */
    public OptionalInt padTokenId() {
        return optInt("pad_token_id");
    }

    // ---------------------------------------------------------------------------------------------
    // Mixture of experts

    /** Number of routed experts: {@code num_experts}, {@code num_local_experts} or {@code n_routed_experts}. */
    public OptionalInt numExperts() {
        return firstInt("num_experts", "num_local_experts", "n_routed_experts");
    }

    /** Experts per token: {@code num_experts_per_tok} or {@code experts_per_token}. */
    public OptionalInt numExpertsPerTok() {
        return firstInt("num_experts_per_tok", "experts_per_token");
    }

    /** {@code moe_intermediate_size}: width of one routed expert's MLP. */
    public OptionalInt moeIntermediateSize() {
        return optInt("moe_intermediate_size");
    }

    /** Number of shared experts: {@code n_shared_experts} (DeepSeek, GLM-4.5) or {@code num_shared_experts}. */
    public OptionalInt numSharedExperts() {
        return firstInt("n_shared_experts", "num_shared_experts");
    }

    /** {@code shared_expert_intermediate_size} (Qwen2-MoE: the one shared expert's width). */
    public OptionalInt sharedExpertIntermediateSize() {
        return optInt("shared_expert_intermediate_size");
    }

    // ---------------------------------------------------------------------------------------------
    // RoPE

    /**
     * RoPE parameters of full-attention layers: {@code ropeParameters("full_attention")}, except
     * that a per-layer-type {@code rope_parameters} with a single entry returns that entry.
     */
    public RopeParameters ropeParameters() {
        Optional<Found> rp = find("rope_parameters");
        if (rp.isPresent() && isPerLayerType(rp.get().node) && !rp.get().node.has(FULL_ATTENTION)
                && rp.get().node.size() == 1) {
            var e = rp.get().node.properties().iterator().next();
            return ropeBlock((ObjectNode) e.getValue(), rp.get().key + "." + e.getKey());
        }
        return ropeParameters(FULL_ATTENTION);
    }

    /**
     * RoPE parameters of layers of kind {@code layerType} (see {@link #layerTypes()}).
     *
     * <ul>
     *   <li>transformers 5: {@code rope_parameters} is either one block for every layer, or an
     *       object keyed by layer type (Gemma 3: {@code {"full_attention": {...},
     *       "sliding_attention": {...}}}), whose entry for {@code layerType} must exist. The
     *       block's {@code rope_theta} and {@code partial_rotary_factor} fall back to the
     *       top-level keys.</li>
     *   <li>older configs: {@code rope_scaling} (with {@code type} or {@code rope_type}; null or
     *       absent means default) plus {@code rope_theta}; for {@value #SLIDING_ATTENTION} layers a
     *       {@code rope_local_base_freq} (Gemma 3) replaces both with plain RoPE at that base.</li>
     * </ul>
     */
    public RopeParameters ropeParameters(String layerType) {
        Objects.requireNonNull(layerType, "layerType");
        Optional<Found> rp = find("rope_parameters");
        if (rp.isPresent()) {
            JsonNode n = rp.get().node;
            if (!n.isObject()) {
                throw wrongType(rp.get().key, "an object", n);
            }
            if (isPerLayerType(n)) {
                JsonNode block = n.get(layerType);
                if (block == null || block.isNull()) {
                    throw new ModelFormatException(file, -1, "key '" + rp.get().key + "' has no entry for layer type '"
                            + layerType + "' (has " + names(n) + ")");
                }
                return ropeBlock((ObjectNode) block, rp.get().key + "." + layerType);
            }
            return ropeBlock((ObjectNode) n, rp.get().key);
        }
        if (layerType.equals(SLIDING_ATTENTION)) {
            OptionalDouble local = optDouble("rope_local_base_freq");
            if (local.isPresent()) {
                RopeParameters p = RopeParameters.plain(local.getAsDouble());
                double partial = optDouble("partial_rotary_factor").orElse(1.0);
                return partial == 1.0 ? p : new RopeParameters(p.ropeType(), p.theta(), p.factor(),
                        p.originalMaxPositionEmbeddings(), p.lowFreqFactor(), p.highFreqFactor(), p.betaFast(),
                        p.betaSlow(), p.attentionFactor(), p.mscale(), p.mscaleAllDim(), p.truncate(),
                        p.shortFactor(), p.longFactor(), partial, p.mropeSection(), p.mropeInterleaved());
            }
        }
        Optional<Found> rs = find("rope_scaling");
        if (rs.isEmpty()) {
            return ropeBlock(MAPPER.createObjectNode(), "rope_scaling");
        }
        if (!rs.get().node.isObject()) {
            throw wrongType(rs.get().key, "an object", rs.get().node);
        }
        return ropeBlock((ObjectNode) rs.get().node, rs.get().key);
    }

    private static boolean isPerLayerType(JsonNode n) {
        if (!n.isObject() || n.isEmpty() || n.has("rope_type") || n.has("type") || n.has("rope_theta")) {
            return false;
        }
        for (JsonNode v : n) {
            if (!v.isObject()) {
                return false;
            }
        }
        return true;
    }

    private RopeParameters ropeBlock(ObjectNode b, String path) {
        String type = blockString(b, path, "rope_type").or(() -> blockString(b, path, "type")).orElse(RopeParameters.DEFAULT);
        type = switch (type) {
            case "su" -> RopeParameters.LONGROPE;
            case "mrope" -> RopeParameters.DEFAULT;
            default -> type;
        };
        OptionalDouble theta = blockDouble(b, path, "rope_theta");
        double th = theta.isPresent() ? theta.getAsDouble() : optDouble("rope_theta").orElse(10_000.0);
        // transformers reads LongRoPE's original context from the config itself first (Phi-3 keeps it
        // there, beside a max_position_embeddings it enlarged); every other type reads the RoPE block first.
        OptionalInt orig;
        if (RopeParameters.LONGROPE.equals(type) && optInt("original_max_position_embeddings").isPresent()) {
            orig = optInt("original_max_position_embeddings");
        } else {
            orig = blockInt(b, path, "original_max_position_embeddings");
            if (orig.isEmpty()) {
                orig = optInt("original_max_position_embeddings");
            }
        }
        OptionalDouble partial = blockDouble(b, path, "partial_rotary_factor");
        double pr = partial.isPresent() ? partial.getAsDouble() : optDouble("partial_rotary_factor").orElse(1.0);
        if (!(pr > 0 && pr <= 1)) {
            throw new ModelFormatException(file, -1, "partial_rotary_factor " + pr + " is not in (0, 1]");
        }
        Optional<Boolean> truncate = Optional.empty();
        JsonNode t = b.get("truncate");
        if (t != null && !t.isNull()) {
            truncate = Optional.of(asBoolean(t, path + ".truncate"));
        }
        JsonNode mi = b.get("mrope_interleaved");
        boolean interleaved = mi != null && !mi.isNull() && asBoolean(mi, path + ".mrope_interleaved");
        RopeParameters p = new RopeParameters(type, th, blockDouble(b, path, "factor"), orig,
                blockDouble(b, path, "low_freq_factor"), blockDouble(b, path, "high_freq_factor"),
                blockDouble(b, path, "beta_fast"), blockDouble(b, path, "beta_slow"),
                blockDouble(b, path, "attention_factor"), blockDouble(b, path, "mscale"),
                blockDouble(b, path, "mscale_all_dim"), truncate,
                blockDoubles(b, path, "short_factor"), blockDoubles(b, path, "long_factor"), pr,
                blockInts(b, path, "mrope_section"), interleaved);
        String missing = switch (type) {
            case RopeParameters.LINEAR, RopeParameters.DYNAMIC, RopeParameters.YARN ->
                    p.factor().isEmpty() ? "factor" : null;
            case RopeParameters.LLAMA3 -> p.factor().isEmpty() ? "factor"
                    : p.lowFreqFactor().isEmpty() ? "low_freq_factor"
                    : p.highFreqFactor().isEmpty() ? "high_freq_factor"
                    : p.originalMaxPositionEmbeddings().isEmpty() ? "original_max_position_embeddings" : null;
            case RopeParameters.LONGROPE -> p.shortFactor().isEmpty() ? "short_factor"
                    : p.longFactor().isEmpty() ? "long_factor" : null;
            default -> null;
        };
        if (missing != null) {
            throw new ModelFormatException(file, -1, "key '" + path + "': rope type '" + type + "' needs '" + missing + "'");
        }
        if (!(th > 0)) {
            throw new ModelFormatException(file, -1, "key '" + path + "': rope_theta " + th + " is not positive");
        }
        return p;
    }

    private Optional<String> blockString(ObjectNode b, String path, String key) {
        JsonNode n = b.get(key);
        return n == null || n.isNull() ? Optional.empty() : Optional.of(asString(n, path + "." + key));
    }

    private OptionalDouble blockDouble(ObjectNode b, String path, String key) {
        JsonNode n = b.get(key);
        return n == null || n.isNull() ? OptionalDouble.empty() : OptionalDouble.of(asDouble(n, path + "." + key));
    }

    private OptionalInt blockInt(ObjectNode b, String path, String key) {
        JsonNode n = b.get(key);
        return n == null || n.isNull() ? OptionalInt.empty() : OptionalInt.of(asInt(n, path + "." + key));
    }

    private List<Double> blockDoubles(ObjectNode b, String path, String key) {
        JsonNode n = b.get(key);
        return n == null || n.isNull() ? List.of() : doubles(n, path + "." + key);
    }

    private List<Integer> blockInts(ObjectNode b, String path, String key) {
        JsonNode n = b.get(key);
        return n == null || n.isNull() ? List.of() : ints(n, path + "." + key);
    }

    // ---------------------------------------------------------------------------------------------
    // Generic access (same lookup rule as the typed getters)

    /** The raw JSON value of {@code key} under the lookup rule (a copy), empty when absent or null. */
    public Optional<JsonNode> raw(String key) {
        return find(key).map(f -> f.node.deepCopy());
    }

    /** True when {@code key} is present (and not null) under the lookup rule. */
    public boolean has(String key) {
        return find(key).isPresent();
    }

    /**
     * An integer value.
     *
     * @throws ModelFormatException when present but not an int
     */
    public OptionalInt optInt(String key) {
        return find(key).map(f -> OptionalInt.of(asInt(f.node, f.key))).orElse(OptionalInt.empty());
    }

    /**
     * A long value.
     *
     * @throws ModelFormatException when present but not an integer that fits a long
     */
    public OptionalLong optLong(String key) {
        return find(key).map(f -> {
            if (!f.node.isIntegralNumber() || !f.node.canConvertToLong()) {
                throw wrongType(f.key, "an integer", f.node);
            }
            return OptionalLong.of(f.node.longValue());
        }).orElse(OptionalLong.empty());
    }

    /**
     * A numeric value.
     *
     * @throws ModelFormatException when present but not a number
     */
    public OptionalDouble optDouble(String key) {
        return find(key).map(f -> OptionalDouble.of(asDouble(f.node, f.key))).orElse(OptionalDouble.empty());
    }

    /**
     * A string value.
     *
     * @throws ModelFormatException when present but not a string
     */
    public Optional<String> optString(String key) {
        return find(key).map(f -> asString(f.node, f.key));
    }

    /**
     * A boolean value.
     *
     * @throws ModelFormatException when present but not a boolean
     */
    public Optional<Boolean> optBoolean(String key) {
        return find(key).map(f -> asBoolean(f.node, f.key));
    }

    /**
     * A required integer.
     *
     * @throws ModelFormatException when absent or not an int
     */
    public int requireInt(String key) {
        return optInt(key).orElseThrow(() -> missing(key));
    }

    /**
     * A required number.
     *
     * @throws ModelFormatException when absent or not a number
     */
    public double requireDouble(String key) {
        return optDouble(key).orElseThrow(() -> missing(key));
    }

    /**
     * A required string.
     *
     * @throws ModelFormatException when absent or not a string
     */
    public String requireString(String key) {
        return optString(key).orElseThrow(() -> missing(key));
    }

    /**
     * A list of strings, empty when absent.
     *
     * @throws ModelFormatException when not an array of strings
     */
    public List<String> stringList(String key) {
        return find(key).map(f -> strings(f.node, f.key)).orElse(List.of());
    }

    /**
     * A list of integers, empty when absent.
     *
     * @throws ModelFormatException when not an array of ints
     */
    public List<Integer> intList(String key) {
        return find(key).map(f -> ints(f.node, f.key)).orElse(List.of());
    }

    /**
     * A list of numbers, empty when absent.
     *
     * @throws ModelFormatException when not an array of numbers
     */
    public List<Double> doubleList(String key) {
        return find(key).map(f -> doubles(f.node, f.key)).orElse(List.of());
    }

    @Override
    public String toString() {
        return "HfConfig[" + file + (prefix.isEmpty() ? "" : " " + prefix) + ", model_type=" + textModelType + "]";
    }

    // ---------------------------------------------------------------------------------------------
    // Internals

    private record Found(JsonNode node, String key) {
    }

    private Optional<Found> find(String key) {
        if (text != null) {
            JsonNode n = text.get(key);
            if (n != null && !n.isNull()) {
                return Optional.of(new Found(n, prefix + "text_config." + key));
            }
        }
        JsonNode n = root.get(key);
        if (n != null && !n.isNull()) {
            return Optional.of(new Found(n, prefix + key));
        }
        Map<String, Object> defaults = CLASS_DEFAULTS.get(textModelType);
        if (defaults != null && defaults.containsKey(key)) {
            return Optional.of(new Found(MAPPER.valueToTree(defaults.get(key)),
                    key + " (default of " + textModelType + ")"));
        }
        return Optional.empty();
    }

    private int requirePositive(String key) {
        int v = requireInt(key);
        if (v <= 0) {
            throw new ModelFormatException(file, -1, "key '" + find(key).map(Found::key).orElse(key)
                    + "': must be positive, got " + v);
        }
        return v;
    }

    private OptionalInt firstInt(String... keys) {
        for (String k : keys) {
            OptionalInt v = optInt(k);
            if (v.isPresent()) {
                return v;
            }
        }
        return OptionalInt.empty();
    }

    private ModelFormatException missing(String key) {
        return new ModelFormatException(file, -1, "required key '" + prefix + key + "' is missing"
                + (text != null ? " (looked in text_config and top level)" : ""));
    }

    private ModelFormatException wrongType(String key, String expected, JsonNode n) {
        return new ModelFormatException(file, -1, "key '" + key + "': expected " + expected + ", got " + describe(n));
    }

    private static String describe(JsonNode n) {
        String s = n.toString();
        return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " " + (s.length() > 60 ? s.substring(0, 60) + "..." : s);
    }

    private static String names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out.toString();
    }

    private int asInt(JsonNode n, String key) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw wrongType(key, "an integer", n);
        }
        return n.intValue();
    }

    private double asDouble(JsonNode n, String key) {
        if (!n.isNumber()) {
            throw wrongType(key, "a number", n);
        }
        return n.doubleValue();
    }

    private String asString(JsonNode n, String key) {
        if (!n.isTextual()) {
            throw wrongType(key, "a string", n);
        }
        return n.textValue();
    }

    private boolean asBoolean(JsonNode n, String key) {
        if (!n.isBoolean()) {
            throw wrongType(key, "a boolean", n);
        }
        return n.booleanValue();
    }

    private List<String> strings(JsonNode n, String key) {
        if (!n.isArray()) {
            throw wrongType(key, "an array of strings", n);
        }
        List<String> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            out.add(asString(n.get(i), key + "[" + i + "]"));
        }
        return Collections.unmodifiableList(out);
    }

    private List<Integer> ints(JsonNode n, String key) {
        if (!n.isArray()) {
            throw wrongType(key, "an array of integers", n);
        }
        List<Integer> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            out.add(asInt(n.get(i), key + "[" + i + "]"));
        }
        return Collections.unmodifiableList(out);
    }

    private List<Double> doubles(JsonNode n, String key) {
        if (!n.isArray()) {
            throw wrongType(key, "an array of numbers", n);
        }
        List<Double> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            out.add(asDouble(n.get(i), key + "[" + i + "]"));
        }
        return Collections.unmodifiableList(out);
    }
}
