package dev.isthmus.runtime.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's own chat template and the special tokens it refers to, read from where models keep
 * them: a GGUF file ({@code tokenizer.chat_template}; {@code bos_token}/{@code eos_token} from
 * {@code tokenizer.ggml.bos_token_id}/{@code eos_token_id} and {@code tokenizer.ggml.tokens}), a
 * Hugging Face folder ({@code chat_template.jinja} if present, else {@code chat_template} in
 * {@code tokenizer_config.json}, a string or a list of named templates of which "default" is taken;
 * the special tokens from {@code tokenizer_config.json}), or a {@code .jinja} file (no special tokens).
 *
 * @param source the template source
 * @param specialTokens {@code bos_token}, {@code eos_token}, ... as the tokenizer defines them
 * @param origin where the template was found, for messages
 */
public record ModelChatTemplate(String source, Map<String, String> specialTokens, String origin) {

    /** The special-token names passed to templates, as transformers passes them. */
    private static final List<String> SPECIAL = List.of("bos_token", "eos_token", "unk_token", "pad_token");

    /**
     * Reads the chat template of a GGUF file, an HF folder or a {@code .jinja} file.
     *
     * @throws IllegalArgumentException if the model has no chat template or its files are malformed
     * @throws IOException if a file cannot be read
     */
    public static ModelChatTemplate read(Path model) throws IOException {
        if (Files.isDirectory(model)) return fromFolder(model);
        if (model.getFileName().toString().endsWith(".jinja"))
            return new ModelChatTemplate(Files.readString(model), Map.of(), model.toString());
        return fromGguf(model);
    }

    private static ModelChatTemplate fromGguf(Path file) throws IOException {
        try (GgufFile g = GgufFile.open(file)) {
            String source = g.getString("tokenizer.chat_template").orElseThrow(() ->
                    new IllegalArgumentException(file + " has no tokenizer.chat_template"));
            Map<String, String> special = new LinkedHashMap<>();
            List<GgufValue> tokens = g.get("tokenizer.ggml.tokens").map(GgufValue::elements).orElse(List.of());
            for (String name : SPECIAL) {
                String key = "tokenizer.ggml." + name.replace("_token", "") + "_token_id";
                if (name.equals("unk_token")) key = "tokenizer.ggml.unknown_token_id";
                if (name.equals("pad_token")) key = "tokenizer.ggml.padding_token_id";
                var id = g.getLong(key);
                if (id.isEmpty()) continue;
                long i = id.getAsLong();
                if (i < 0 || i >= tokens.size())
                    throw new IllegalArgumentException(file + ": " + key + " = " + i + " is outside the " + tokens.size() + "-token vocabulary");
                special.put(name, tokens.get((int) i).asString());
            }
            return new ModelChatTemplate(source, Map.copyOf(special), file + " (tokenizer.chat_template)");
        }
    }

    private static ModelChatTemplate fromFolder(Path dir) throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        JsonNode cfg = Files.exists(config) ? new ObjectMapper().readTree(config.toFile()) : null;
        Map<String, String> special = new LinkedHashMap<>();
        if (cfg != null) {
            for (String name : SPECIAL) {
                JsonNode t = cfg.get(name);
                if (t == null || t.isNull()) continue;
                // a plain string, or an AddedToken object with "content"
                JsonNode content = t.isObject() ? t.get("content") : t;
                if (content != null && content.isTextual()) special.put(name, content.asText());
            }
        }
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.exists(jinja))
            return new ModelChatTemplate(Files.readString(jinja), Map.copyOf(special), jinja.toString());
        JsonNode t = cfg == null ? null : cfg.get("chat_template");
        if (t != null && t.isTextual())
            return new ModelChatTemplate(t.asText(), Map.copyOf(special), config + " (chat_template)");
        if (t != null && t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual())
                    return new ModelChatTemplate(named.get("template").asText(), Map.copyOf(special), config + " (chat_template \"default\")");
            }
        }
        throw new IllegalArgumentException(dir + " has no chat template (neither chat_template.jinja nor chat_template in tokenizer_config.json)");
    }

    /**
     * Compiles the template with default limits.
     *
     * @throws TemplateException on a syntax error, naming the origin and the line
     */
    public ChatTemplate compile() {
        try {
            return ChatTemplate.compile(source);
        } catch (TemplateException e) {
            throw new TemplateException(origin + ": " + e.getMessage(), e);
        }
    }
}
