package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.runtime.template.ChatTemplate;
import dev.isthmus.runtime.template.TemplateException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Broken templates are clear errors, never a crash: random mutations of the real chat templates
 * (cut, duplicated and inserted pieces of Jinja syntax) either render or fail with a
 * {@link TemplateException}; no other exception, no stack overflow, no runaway output.
 */
class ChatTemplateFuzzTest {
    private static final String[] PIECES = {"{%", "%}", "{{", "}}", "{#", "#}", "-%}", "{%-", "(", ")", "[", "]", "{", "}",
        "|", "'", "\"", "\\u12", "\\x", ".", ",", ":", "::-1", " is ", " not ", " in ", " if ", " else ", "loop.", "ns.",
        "namespace(", "range(99999)", "*", "**", "//", "%", "~", "+", "-", "0", "9999999999999999999999", "1.5e400",
        "{% for x in messages %}", "{% endfor %}", "{% if x %}", "{% endif %}", "{% set x = ", "{% macro m(a) %}",
        "{% endmacro %}", "m(m)", "raise_exception('x')", "|tojson(indent=3)", "|length", ".strip(", ".split(",
        "messages[0]", "[-1]", "none", "true", "{% break %}", "{% generation %}", "'%s%d%5.2f%#x' % ", "|format(1, "};

    private static String source(String name) throws IOException {
        try (InputStream in = ChatTemplateFuzzTest.class.getResourceAsStream("/fixtures/chat/templates/" + name + ".jinja")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma3", "deepseek-v3", "llama3.1", "phi3"})
    void mutatedTemplatesFailCleanly(String name) throws IOException {
        String base = source(name);
        Random r = new Random(name.hashCode());
        ChatTemplate.Limits limits = new ChatTemplate.Limits(200_000, 20_000, 16);
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", List.of(Map.of("role", "system", "content", "S"), Map.of("role", "user", "content", "U"),
                Map.of("role", "assistant", "content", "<think>t</think>A")));
        vars.put("tools", List.of(Map.of("type", "function", "function", Map.of("name", "f"))));
        vars.put("add_generation_prompt", true);
        vars.put("bos_token", "<s>");
        int rendered = 0, refused = 0;
        for (int i = 0; i < 400; i++) {
            StringBuilder sb = new StringBuilder(base);
            int edits = 1 + r.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = r.nextInt(sb.length() + 1);
                switch (r.nextInt(3)) {
                    case 0 -> sb.delete(at, Math.min(sb.length(), at + 1 + r.nextInt(12)));
                    case 1 -> sb.insert(at, PIECES[r.nextInt(PIECES.length)]);
                    default -> {
                        int from = r.nextInt(sb.length());
                        sb.insert(at, sb.substring(from, Math.min(sb.length(), from + 1 + r.nextInt(40))));
                    }
                }
            }
            String mutated = sb.toString();
            try {
                ChatTemplate.compile(mutated, limits, () -> LocalDateTime.of(2026, 1, 2, 3, 4)).render(vars);
                rendered++;
            } catch (TemplateException expected) {
                refused++;
            } catch (RuntimeException | StackOverflowError e) {
                throw new AssertionError("mutation " + i + " of " + name + " threw " + e + "\n--- template:\n" + mutated, e);
            }
        }
        // both outcomes occur, so the mutations reach the parser and the interpreter
        assertTrue(rendered > 0 && refused > 0, "rendered " + rendered + ", refused " + refused);
    }
}
