package dev.isthmus.runtime.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.hf.HfConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns an HF folder's {@code tokenizer.json} (+ {@code tokenizer_config.json},
 * {@code chat_template.jinja}) into llama.cpp's {@code tokenizer.*} metadata.
 *
 * <p>Supported: byte-level BPE ({@code model.type == "BPE"} with a ByteLevel pre-tokenizer or
 * decoder): {@code tokenizer.ggml.model = "gpt2"}, tokens (padded to the config's
 * {@code vocab_size} with {@code [PADn]} tokens of type UNUSED, as llama.cpp does), token types
 * (NORMAL; added tokens CONTROL when special or shaped like {@code <|...|>}, else USER_DEFINED),
 * merges. {@code tokenizer.ggml.pre} is llama.cpp's name for the pre-tokenizer, recognised from
 * the Split regex (llama.cpp itself hashes a tokenization of a test text, which needs the tokenizer
 * running): the Llama 3 / cl100k regex gives {@code llama-bpe}, Qwen2's gives {@code qwen2},
 * Mistral's Tekken regex gives {@code tekken}, a plain ByteLevel gives {@code gpt-2}; anything else
 * gives {@code default} and a warning.
 *
 * <p>Not supported: SentencePiece-style vocabularies ({@code tokenizer.model}, or a
 * {@code tokenizer.json} BPE with byte fallback, as Llama 2, Mistral 7B, Gemma and Phi-3 ship): no
 * tokenizer is written and a warning says so.
 *
 * <p>Special tokens (as gguf-py's {@code SpecialVocab}): bos/eos/unk/pad from
 * {@code tokenizer_config.json}'s {@code *_token} (string or {@code {content}}) looked up in the
 * vocabulary, else {@code config.json}'s {@code *_token_id}; {@code add_bos_token} /
 * {@code add_eos_token} from {@code tokenizer_config.json}, else from a TemplateProcessing
 * post-processor that starts with bos / ends with eos; the chat template from
 * {@code tokenizer_config.json} or {@code chat_template.jinja}.
 */
final class HfTokenizer {
    static final int NORMAL = 1;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;

    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String TEKKEN_REGEX = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private HfTokenizer() {
    }

    /**
     * Adds the tokenizer metadata of {@code dir} to {@code meta}; reports what it skipped through
     * {@code warn}.
     */
    static void addTo(Path dir, HfConfig config, Map<String, GgufValue> meta, Consumer<String> warn) throws IOException {
        Path tj = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tj)) {
            if (Files.isRegularFile(dir.resolve("tokenizer.model"))) {
                warn.accept("only a SentencePiece tokenizer.model is present, which convert does not read: "
                        + "the GGUF has no tokenizer");
            } else {
                warn.accept("no tokenizer.json in " + dir + ": the GGUF has no tokenizer");
            }
            return;
        }
        JsonNode root = MAPPER.readTree(tj.toFile());
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText()) || !isByteLevel(root)) {
            warn.accept("tokenizer.json is a " + model.path("type").asText("unknown") + " model"
                    + (model.path("byte_fallback").asBoolean(false) ? " with byte fallback (SentencePiece style)" : "")
                    + ", which convert does not handle (only byte-level BPE): the GGUF has no tokenizer");
            return;
        }
        Map<String, Integer> ids = new HashMap<>();
        int maxId = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt();
            ids.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt();
            added.put(id, a);
            ids.put(a.path("content").asText(), id);
            maxId = Math.max(maxId, id);
        }
        int n = Math.max(maxId + 1, config.vocabSize());
        String[] tokens = new String[n];
        int[] types = new int[n];
        for (Map.Entry<String, Integer> e : ids.entrySet()) {
            tokens[e.getValue()] = e.getKey();
            types[e.getValue()] = NORMAL;
        }
        for (Map.Entry<Integer, JsonNode> e : added.entrySet()) {
            String content = e.getValue().path("content").asText();
            boolean special = e.getValue().path("special").asBoolean(false)
                    || (content.startsWith("<|") && content.endsWith("|>"));
            types[e.getKey()] = special ? CONTROL : USER_DEFINED;
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
            }
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }
        String pre = preTokenizer(root);
        if (pre.equals("default")) {
            warn.accept("pre-tokenizer not recognised; writing tokenizer.ggml.pre = default");
        }
        meta.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        meta.put("tokenizer.ggml.pre", GgufValue.string(pre));
        meta.put("tokenizer.ggml.tokens", GgufValue.stringArray(Arrays.asList(tokens)));
        meta.put("tokenizer.ggml.token_type", GgufValue.int32Array(types));
        meta.put("tokenizer.ggml.merges", GgufValue.stringArray(merges));

        JsonNode tc = readJson(dir.resolve("tokenizer_config.json"));
        special(meta, "bos", tokenId(tc.path("bos_token"), ids), config.bosTokenId(), n);
        List<Integer> eos = config.eosTokenIds();
        special(meta, "eos", tokenId(tc.path("eos_token"), ids),
                eos.isEmpty() ? OptionalInt.empty() : OptionalInt.of(eos.getFirst()), n);
        special(meta, "unknown", tokenId(tc.path("unk_token"), ids), OptionalInt.empty(), n);
        special(meta, "padding", tokenId(tc.path("pad_token"), ids), config.padTokenId(), n);
        Boolean addBos = tc.has("add_bos_token") && tc.get("add_bos_token").isBoolean() ? tc.get("add_bos_token").asBoolean() : null;
        Boolean addEos = tc.has("add_eos_token") && tc.get("add_eos_token").isBoolean() ? tc.get("add_eos_token").asBoolean() : null;
        JsonNode pp = root.path("post_processor");
        if ((addBos == null || addEos == null) && "TemplateProcessing".equals(pp.path("type").asText())) {
            JsonNode single = pp.path("single");
            GgufValue bos = meta.get("tokenizer.ggml.bos_token_id");
            GgufValue eosV = meta.get("tokenizer.ggml.eos_token_id");
            if (addBos == null) {
                addBos = single.size() > 0 && bos != null
                        && specialId(single.get(0), ids) == bos.asLong();
            }
            if (addEos == null) {
                addEos = single.size() > 1 && eosV != null
                        && specialId(single.get(single.size() - 1), ids) == eosV.asLong();
            }
        }
        if (addBos != null) {
            meta.put("tokenizer.ggml.add_bos_token", GgufValue.bool(addBos));
        }
        if (addEos != null) {
            meta.put("tokenizer.ggml.add_eos_token", GgufValue.bool(addEos));
        }
        String template = chatTemplate(dir, tc);
        if (template != null) {
            meta.put("tokenizer.chat_template", GgufValue.string(template));
        }
    }

    private static long specialId(JsonNode piece, Map<String, Integer> ids) {
        JsonNode st = piece.path("SpecialToken").path("id");
        if (st.isTextual() && ids.containsKey(st.asText())) {
            return ids.get(st.asText());
        }
        return -1;
    }

    private static void special(Map<String, GgufValue> meta, String kind, OptionalInt fromTokenizer, OptionalInt fromConfig, int n) {
        OptionalInt id = fromTokenizer.isPresent() ? fromTokenizer : fromConfig;
        if (id.isPresent() && id.getAsInt() >= 0 && id.getAsInt() < n) {
            meta.put("tokenizer.ggml." + kind + "_token_id", GgufValue.uint32(id.getAsInt()));
        }
    }

    private static OptionalInt tokenId(JsonNode v, Map<String, Integer> ids) {
        String content = v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
        if (content == null || !ids.containsKey(content)) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(ids.get(content));
    }

    private static String chatTemplate(Path dir, JsonNode tc) throws IOException {
        JsonNode t = tc.path("chat_template");
        if (t.isTextual()) {
            return t.asText();
        }
        if (t.isArray()) {
            for (JsonNode e : t) {
                if ("default".equals(e.path("name").asText())) {
                    return e.path("template").asText();
                }
            }
        }
        Path jinja = dir.resolve("chat_template.jinja");
        return Files.isRegularFile(jinja) ? Files.readString(jinja) : null;
    }

    private static JsonNode readJson(Path p) throws IOException {
        return Files.isRegularFile(p) ? MAPPER.readTree(p.toFile()) : MAPPER.createObjectNode();
    }

    private static boolean isByteLevel(JsonNode root) {
        return hasType(root.path("pre_tokenizer"), "ByteLevel") || hasType(root.path("decoder"), "ByteLevel");
    }

    private static boolean hasType(JsonNode n, String type) {
        if (type.equals(n.path("type").asText())) {
            return true;
        }
        for (String list : List.of("pretokenizers", "decoders")) {
            for (JsonNode c : n.path(list)) {
                if (hasType(c, type)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** llama.cpp's pre-tokenizer name for the Split regexes of {@code tokenizer.json} (see the class comment). */
    static String preTokenizer(JsonNode root) {
        Set<String> regexes = new HashSet<>();
        collectRegexes(root.path("pre_tokenizer"), regexes);
        if (regexes.contains(LLAMA3_REGEX)) {
            return "llama-bpe";
        }
        if (regexes.contains(QWEN2_REGEX)) {
            return "qwen2";
        }
        if (regexes.contains(TEKKEN_REGEX)) {
            return "tekken";
        }
        JsonNode pt = root.path("pre_tokenizer");
        if (regexes.isEmpty() && "ByteLevel".equals(pt.path("type").asText())) {
            return "gpt-2";
        }
        return "default";
    }

    private static void collectRegexes(JsonNode n, Set<String> out) {
        if ("Split".equals(n.path("type").asText()) && n.path("pattern").path("Regex").isTextual()) {
            out.add(n.path("pattern").path("Regex").asText());
        }
        for (JsonNode c : n.path("pretokenizers")) {
            collectRegexes(c, out);
        }
    }
}
