package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.runtime.template.ChatTemplate;
import dev.isthmus.runtime.template.TemplateException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real chat templates (fixtures/chat/templates, from the models' tokenizer configs) rendered by our
 * interpreter must equal, character for character, what transformers' {@code apply_chat_template}
 * produced for the same conversations ({@code fixtures/chat/expected.json}, written by
 * {@code tests/fixtures/chat/generate_chat_fixtures.py}); where transformers' render raised (a template
 * that refuses a role, or a Python type error), ours must raise too.
 */
class ChatTemplateFixtureTest {
    private static final String EXPECTED = "/fixtures/chat/expected.json";

    @SuppressWarnings("unchecked")
    static Stream<Arguments> cases() throws IOException {
        InputStream in = ChatTemplateFixtureTest.class.getResourceAsStream(EXPECTED);
        if (in == null) {
            // one placeholder case, which then skips with the reason
            return Stream.of(Arguments.of("(none)", "(none)", false, null, null));
        }
        Map<String, Object> doc;
        try (in) {
            doc = new ObjectMapper().readValue(in, Map.class);
        }
        assertTrue(String.valueOf(doc.get("generator")).startsWith("transformers "),
                "expected.json must be transformers' output, not a preview: " + doc.get("generator"));
        List<Arguments> out = new ArrayList<>();
        for (Map<String, Object> c : (List<Map<String, Object>>) doc.get("cases")) {
            out.add(Arguments.of(c.get("template"), c.get("conversation"), c.get("add_generation_prompt"), c, doc));
        }
        return out.stream();
    }

    private static String templateSource(String name) throws IOException {
        try (InputStream in = ChatTemplateFixtureTest.class.getResourceAsStream("/fixtures/chat/templates/" + name + ".jinja")) {
            assertTrue(in != null, "template " + name + " is missing");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0} / {1} / add_generation_prompt={2}")
    @MethodSource("cases")
    void rendersAsTransformersDoes(String template, String conversation, boolean addGenerationPrompt,
                                   Map<String, Object> c, Map<String, Object> doc) throws IOException {
        Assumptions.assumeTrue(c != null, "fixtures/chat/expected.json is absent: run tests/fixtures/chat/"
                + "generate_chat_fixtures.py on a machine with transformers to make it");
        LocalDateTime now = LocalDateTime.parse((String) doc.get("strftime_now"));
        ChatTemplate t = ChatTemplate.compile(templateSource(template), ChatTemplate.Limits.DEFAULT, () -> now);
        Map<String, Object> conv = ((Map<String, Map<String, Object>>) doc.get("conversations")).get(conversation);
        Map<String, Object> vars = new HashMap<>(((Map<String, Map<String, Object>>) doc.get("special_tokens")).get(template));
        vars.putAll((Map<String, Object>) conv.getOrDefault("kwargs", Map.of()));
        vars.put("messages", conv.get("messages"));
        vars.put("tools", conv.get("tools"));
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        if (c.containsKey("rendered")) {
            assertEquals(c.get("rendered"), t.render(vars));
        } else {
            TemplateException e = assertThrows(TemplateException.class, () -> t.render(vars),
                    "transformers refused this conversation (" + c.get("error") + "), so must we");
            // a template's own raise_exception carries its message through
            String expected = (String) c.get("error");
            if (expected.startsWith("TemplateError: ")) {
                assertTrue(e.getMessage().contains(expected.substring("TemplateError: ".length())), e.getMessage());
            }
        }
    }
}
