package dev.isthmus.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Builds a {@link Tokenizer} from a Hugging Face folder's {@code tokenizer.json}.
 *
 * <p>Supported: {@code model.type = BPE} (merges as {@code "a b"} strings or pairs,
 * {@code ignore_merges}, {@code byte_fallback}, {@code unk_token}); pre-tokenizers {@code ByteLevel}
 * (with its own regex or after {@code Split} regexes with {@code Isolated} behaviour),
 * {@code Metaspace} ({@code prepend_scheme}, {@code split}), {@code Digits}, {@code Sequence}, or
 * none (the legacy Llama/Mistral files that prepend and replace {@code ▁} in the normalizer);
 * normalizers {@code NFC/NFD/NFKC/NFKD}, {@code Lowercase}, {@code Prepend}, {@code Replace},
 * {@code Strip}, {@code Sequence}; added tokens (special ones are control tokens, parsed only on
 * request; the others are always matched). Anything else is an {@link IllegalArgumentException}
 * naming it. BOS/EOS and whether to add them come from {@code tokenizer_config.json}
 * ({@code bos_token}, {@code eos_token}, {@code add_bos_token}, {@code add_eos_token}), else from a
 * {@code TemplateProcessing} post-processor; end-of-generation ids also from {@code config.json}
 * and {@code generation_config.json} ({@code eos_token_id}).
 *
 * <p>Not exactly HF: added tokens are cut out longest first (llama.cpp's order) rather than by
 * HF's leftmost-longest scan, and their {@code lstrip/rstrip/single_word/normalized} flags are
 * ignored.
 */
final class HfTokenizers {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private HfTokenizers() {
    }

    static Tokenizer load(Path dir) throws IOException {
        Path tj = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tj)) {
            throw new NoSuchFileException(tj.toString(), null, "no tokenizer.json in the model folder");
        }
        JsonNode root = MAPPER.readTree(tj.toFile());
        String src = tj.toString();
        JsonNode model = root.path("model");
        String type = model.path("type").asText("");
        if (type.isEmpty() && model.has("merges")) {
            type = "BPE";
        }
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException(src + ": tokenizer model type '" + type + "' is not supported (only BPE)");
        }
        for (String f : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            if (model.path(f).isTextual() && !model.path(f).asText().isEmpty()) {
                throw new IllegalArgumentException(src + ": BPE with " + f + " is not supported");
            }
        }
        // vocabulary: model.vocab plus added_tokens, ids may leave gaps (filled with unused [PADn] tokens)
        Map<Integer, String> byId = new HashMap<>();
        int max = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0) {
                throw new IllegalArgumentException(src + ": vocab entry '" + e.getKey() + "' has no valid id");
            }
            byId.put(id, e.getKey());
            max = Math.max(max, id);
        }
        Map<Integer, Boolean> added = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt(-1);
            if (id < 0 || !a.path("content").isTextual()) {
                throw new IllegalArgumentException(src + ": an added token has no valid id or content: " + a);
            }
            byId.put(id, a.path("content").asText());
            added.put(id, a.path("special").asBoolean(false));
            max = Math.max(max, id);
        }
        if (max < 0) {
            throw new IllegalArgumentException(src + ": the vocabulary is empty");
        }
        if (max > 16_000_000) {
            throw new IllegalArgumentException(src + ": token id " + max + " is implausibly large");
        }
        List<String> texts = new ArrayList<>(max + 1);
        int[] types = new int[max + 1];
        boolean byteFallback = model.path("byte_fallback").asBoolean(false);
        for (int i = 0; i <= max; i++) {
            String t = byId.get(i);
            if (t == null) {
                texts.add("[PAD" + i + "]");
                types[i] = Vocab.UNUSED;
                continue;
            }
            texts.add(t);
            Boolean special = added.get(i);
            if (special != null) {
                types[i] = special ? Vocab.CONTROL : Vocab.USER_DEFINED;
            } else if (byteFallback && t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
                types[i] = Vocab.BYTE;
            } else {
                types[i] = Vocab.NORMAL;
            }
        }
        Vocab vocab = new Vocab(texts, types, null, src);
        if (model.path("unk_token").isTextual()) {
            vocab.unk = vocab.id(model.path("unk_token").asText());
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isArray() && m.size() == 2) {
                merges.add(m.get(0).asText() + " " + m.get(1).asText());
            } else if (m.isTextual()) {
                merges.add(m.asText());
            } else {
                throw new IllegalArgumentException(src + ": a merge is neither \"a b\" nor [a, b]: " + m);
            }
        }

        // normalizer, pre-tokenizer
        List<JsonNode> normalizers = flatten(root.path("normalizer"), "normalizers");
        List<JsonNode> pres = flatten(root.path("pre_tokenizer"), "pretokenizers");
        boolean byteLevel = false;
        boolean bytePrefixSpace = false;
        List<String> regexes = new ArrayList<>();
        String metaspace = null;
        String prependScheme = "always";
        boolean metaSplit = true;
        for (JsonNode p : pres) {
            String pt = p.path("type").asText();
            switch (pt) {
                case "ByteLevel" -> {
                    byteLevel = true;
                    bytePrefixSpace = p.path("add_prefix_space").asBoolean(false);
                    if (p.path("use_regex").asBoolean(true)) {
                        regexes.add(PreTokenizer.HF_GPT2);
                    }
                }
                case "Split" -> {
                    String behavior = p.path("behavior").asText("Isolated");
                    if (!behavior.equals("Isolated") || p.path("invert").asBoolean(false)) {
                        throw new IllegalArgumentException(src + ": Split pre-tokenizer with behavior " + behavior
                                + (p.path("invert").asBoolean(false) ? " inverted" : "") + " is not supported (only Isolated)");
                    }
                    JsonNode pat = p.path("pattern");
                    if (pat.path("Regex").isTextual()) {
                        regexes.add(pat.path("Regex").asText());
                    } else if (pat.path("String").isTextual()) {
                        regexes.add(Pattern.quote(pat.path("String").asText()));
                    } else {
                        throw new IllegalArgumentException(src + ": Split pre-tokenizer without a pattern");
                    }
                }
                case "Digits" -> regexes.add(p.path("individual_digits").asBoolean(false) ? "\\p{N}" : "\\p{N}+");
                case "Metaspace" -> {
                    metaspace = p.path("replacement").asText("\u2581");
                    if (p.has("prepend_scheme")) {
                        prependScheme = p.path("prepend_scheme").asText("always");
                    } else if (p.has("add_prefix_space")) {
                        prependScheme = p.path("add_prefix_space").asBoolean(true) ? "always" : "never";
                    }
                    metaSplit = p.path("split").asBoolean(true);
                }
                default -> throw new IllegalArgumentException(src + ": pre-tokenizer type '" + pt + "' is not supported");
            }
        }
        if (!byteLevel && hasType(root.path("decoder"), "ByteLevel")) {
            byteLevel = true;
        }
        if (byteLevel && metaspace != null) {
            throw new IllegalArgumentException(src + ": ByteLevel and Metaspace pre-tokenizers together are not supported");
        }
        List<Step> steps = new ArrayList<>();
        boolean prepends = false;
        for (JsonNode n : normalizers) {
            String nt = n.path("type").asText();
            switch (nt) {
                case "NFC" -> steps.add((s, first) -> Normalizer.normalize(s, Normalizer.Form.NFC));
                case "NFD" -> steps.add((s, first) -> Normalizer.normalize(s, Normalizer.Form.NFD));
                case "NFKC" -> steps.add((s, first) -> Normalizer.normalize(s, Normalizer.Form.NFKC));
                case "NFKD" -> steps.add((s, first) -> Normalizer.normalize(s, Normalizer.Form.NFKD));
                case "Lowercase" -> steps.add((s, first) -> s.toLowerCase(Locale.ROOT));
                case "Prepend" -> {
                    String pre = n.path("prepend").asText("");
                    prepends = true;
                    steps.add((s, first) -> s.isEmpty() ? s : pre + s);
                }
                case "Replace" -> {
                    String content = n.path("content").asText("");
                    JsonNode pat = n.path("pattern");
                    if (pat.path("String").isTextual()) {
                        String from = pat.path("String").asText();
                        steps.add((s, first) -> s.replace(from, content));
                    } else if (pat.path("Regex").isTextual()) {
                        Pattern re = Pattern.compile(pat.path("Regex").asText(), Pattern.UNICODE_CHARACTER_CLASS);
                        String rep = java.util.regex.Matcher.quoteReplacement(content);
                        steps.add((s, first) -> re.matcher(s).replaceAll(rep));
                    } else {
                        throw new IllegalArgumentException(src + ": Replace normalizer without a pattern");
                    }
                }
                case "Strip" -> {
                    boolean left = n.path("strip_left").asBoolean(true);
                    boolean right = n.path("strip_right").asBoolean(true);
                    steps.add((s, first) -> left && right ? s.strip() : left ? s.stripLeading() : right ? s.stripTrailing() : s);
                }
                default -> throw new IllegalArgumentException(src + ": normalizer type '" + nt + "' is not supported");
            }
        }
        if (bytePrefixSpace) {
            steps.add((s, first) -> s.isEmpty() || Character.isWhitespace(s.charAt(0)) ? s : " " + s);
        }
        PreTokenizer pre;
        boolean strip = false;
        if (metaspace != null) {
            String rep = metaspace;
            String scheme = prependScheme;
            if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                throw new IllegalArgumentException(src + ": Metaspace prepend_scheme '" + scheme + "' is not supported");
            }
            steps.add((s, first) -> {
                String r = s.replace(" ", rep);
                boolean add = scheme.equals("always") || (scheme.equals("first") && first);
                return add && !r.isEmpty() && !r.startsWith(rep) ? rep + r : r;
            });
            strip = !scheme.equals("never");
            pre = metaSplit ? metaspaceSplit(rep) : PreTokenizer.WHOLE;
            if (!regexes.isEmpty()) {
                throw new IllegalArgumentException(src + ": Split/Digits together with Metaspace is not supported");
            }
        } else if (byteLevel) {
            pre = regexes.isEmpty() ? PreTokenizer.WHOLE : PreTokenizer.hfRegexes(regexes);
        } else {
            pre = regexes.isEmpty() ? PreTokenizer.WHOLE : PreTokenizer.hfRegexes(regexes);
            strip = prepends;
        }
        BpeTokenizer.Normalizer norm = steps.isEmpty() ? null : (s, first) -> {
            for (Step st : steps) {
                s = st.apply(s, first);
            }
            return s;
        };

        // special tokens
        JsonNode tc = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode config = readJson(dir.resolve("config.json"));
        JsonNode gen = readJson(dir.resolve("generation_config.json"));
        vocab.bos = tokenId(tc.path("bos_token"), vocab);
        vocab.eos = tokenId(tc.path("eos_token"), vocab);
        if (vocab.bos < 0 && config.path("bos_token_id").isInt() && vocab.valid(config.path("bos_token_id").asInt())) {
            vocab.bos = config.path("bos_token_id").asInt();
        }
        List<Integer> eosIds = new ArrayList<>();
        for (JsonNode c : List.of(config, gen)) {
            JsonNode e = c.path("eos_token_id");
            if (e.isInt()) {
                eosIds.add(e.asInt());
            }
            for (JsonNode x : e.isArray() ? e : MAPPER.createArrayNode()) {
                eosIds.add(x.asInt());
            }
        }
        if (vocab.eos < 0 && !eosIds.isEmpty() && vocab.valid(eosIds.getFirst())) {
            vocab.eos = eosIds.getFirst();
        }
        JsonNode pp = root.path("post_processor");
        JsonNode single = "TemplateProcessing".equals(pp.path("type").asText()) ? pp.path("single") : null;
        if (tc.path("add_bos_token").isBoolean()) {
            vocab.addBos = tc.path("add_bos_token").asBoolean();
        } else if (single != null && single.size() > 0 && vocab.bos >= 0) {
            vocab.addBos = vocab.tokens[vocab.bos].equals(single.get(0).path("SpecialToken").path("id").asText(null));
        }
        if (tc.path("add_eos_token").isBoolean()) {
            vocab.addEos = tc.path("add_eos_token").asBoolean();
        } else if (single != null && single.size() > 1 && vocab.eos >= 0) {
            vocab.addEos = vocab.tokens[vocab.eos].equals(single.get(single.size() - 1).path("SpecialToken").path("id").asText(null));
        }
        vocab.markEog(eosIds.stream().mapToInt(Integer::intValue).toArray());
        return new BpeTokenizer(vocab, merges, pre, byteLevel, model.path("ignore_merges").asBoolean(false),
                byteFallback, norm, strip);
    }

    private interface Step {
        String apply(String s, boolean first);
    }

    /** Metaspace's split: a word starts at every replacement character. */
    private static PreTokenizer metaspaceSplit(String rep) {
        return new PreTokenizer() {
            @Override
            void split(String text, int start, int end, IntList out) {
                int ws = start;
                for (int i = start + 1; i < end; i++) {
                    if (text.startsWith(rep, i)) {
                        out.add(ws);
                        out.add(i);
                        ws = i;
                    }
                }
                if (end > ws) {
                    out.add(ws);
                    out.add(end);
                }
            }
        };
    }

    private static List<JsonNode> flatten(JsonNode n, String listKey) {
        List<JsonNode> out = new ArrayList<>();
        if (n == null || n.isNull() || n.isMissingNode()) {
            return out;
        }
        if ("Sequence".equals(n.path("type").asText())) {
            for (JsonNode c : n.path(listKey)) {
                out.addAll(flatten(c, listKey));
            }
        } else {
            out.add(n);
        }
        return out;
    }

    private static boolean hasType(JsonNode n, String type) {
        if (type.equals(n.path("type").asText())) {
            return true;
        }
        for (JsonNode c : n.path("decoders")) {
            if (hasType(c, type)) {
                return true;
            }
        }
        return false;
    }

    private static int tokenId(JsonNode v, Vocab vocab) {
        String content = v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
        return content == null ? -1 : vocab.id(content);
    }

    private static JsonNode readJson(Path p) throws IOException {
        return Files.isRegularFile(p) ? MAPPER.readTree(p.toFile()) : MAPPER.createObjectNode();
    }
}
