package dev.isthmus.tests.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.Completion;
import dev.isthmus.ContextOverflowException;
import dev.isthmus.Engine;
import dev.isthmus.FinishReason;
import dev.isthmus.Generation;
import dev.isthmus.Isthmus;
import dev.isthmus.Message;
import dev.isthmus.Sampling;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java API on a real (tiny, random-weight) model: the llama3 conformance fixture with a
 * byte-level BPE tokenizer of 256 byte tokens plus {@code <s>} and {@code </s>} written beside it,
 * and a small chat template. The text is gibberish; what is checked is the engine's behaviour.
 */
class EngineTest {
    @TempDir
    static Path tmp;
    static Path model;
    static Path noTemplate;
    static Path toolModel;

    static final String CHAT = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n"
            + "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
    static final String TOOLS = "{% for t in tools %}tool {{ t['function']['name'] }}: {{ t['function']['parameters'] "
            + "| tojson }}\n{% endfor %}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}"
            + "{% if m['tool_calls'] %}{% for c in m['tool_calls'] %}<call {{ c['function']['name'] }} "
            + "{{ c['function']['arguments'] | tojson }}>{% endfor %}{% endif %}"
            + "{% if m['tool_call_id'] %} (for {{ m['tool_call_id'] }}){% endif %}\n{% endfor %}"
            + "{% if add_generation_prompt %}assistant:{% endif %}";

    static final int EOS = 257;

    @BeforeAll
    static void makeModel() throws IOException, URISyntaxException {
        Path fixture = Path.of(EngineTest.class.getResource("/fixtures/llama3").toURI());
        model = copy(fixture, tmp.resolve("llama3-tok"), CHAT);
        noTemplate = copy(fixture, tmp.resolve("llama3-notemplate"), null);
        toolModel = copy(fixture, tmp.resolve("llama3-tools"), TOOLS);
    }

    static Path copy(Path fixture, Path dir, String template) throws IOException {
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(fixture.resolve(f), dir.resolve(f));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode tok = json.createObjectNode();
        tok.put("version", "1.0");
        ArrayNode added = tok.putArray("added_tokens");
        for (int i = 0; i < 2; i++) {
            ObjectNode a = added.addObject();
            a.put("id", 256 + i).put("content", i == 0 ? "<s>" : "</s>").put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        tok.putNull("normalizer");
        tok.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
        tok.putNull("post_processor");
        tok.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode m = tok.putObject("model");
        m.put("type", "BPE").putNull("dropout");
        m.putNull("unk_token");
        m.put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        ObjectNode vocab = m.putObject("vocab");
        int[] map = byteToUnicode();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(map[b])), b);
        }
        vocab.put("<s>", 256);
        vocab.put("</s>", 257);
        m.putArray("merges");
        Files.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(tok));
        ObjectNode cfg = json.createObjectNode();
        cfg.put("bos_token", "<s>").put("eos_token", "</s>").put("add_bos_token", true);
        if (template != null) {
            cfg.put("chat_template", template);
        }
        Files.writeString(dir.resolve("tokenizer_config.json"), json.writeValueAsString(cfg));
        return dir;
    }

    /** GPT-2's byte-to-unicode table. */
    static int[] byteToUnicode() {
        int[] map = new int[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? b : 256 + n++;
        }
        return map;
    }

    /** Sampling that never ends early on EOS, so lengths are predictable. */
    static Sampling noEos(Sampling s) {
        return s.logitBias(EOS, -1000f);
    }

    @Test
    void streamedPiecesAddUpToTheCompletion() throws IOException {
        try (Engine e = Isthmus.builder().model(model).threads(1).build()) {
            StringBuilder streamed = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            Completion c = e.complete("Once upon a time", noEos(Sampling.defaults().seed(7).maxTokens(12)), t -> {
                streamed.append(t.text());
                if (t.id() >= 0) {
                    ids.add(t.id());
                }
            });
            assertEquals(c.text(), streamed.toString());
            assertEquals(c.tokens(), ids);
            assertEquals(12, c.tokens().size());
            assertEquals(FinishReason.LENGTH, c.reason());
            assertEquals(e.detokenize(c.tokens().stream().mapToInt(Integer::intValue).toArray()), c.text());
            assertEquals(e.tokenize("Once upon a time").length, c.stats().promptTokens());
            assertEquals(12, c.stats().generatedTokens());
            assertTrue(c.stats().promptTokensPerSecond() > 0 && c.stats().generatedTokensPerSecond() > 0);
            assertEquals(0, e.kvBlocksInUse(), "blocks back after the generation");
        }
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() throws IOException {
        try (Engine e = Isthmus.builder().model(model).threads(1).build()) {
            Sampling s = noEos(Sampling.defaults().temperature(1.0).seed(123).maxTokens(16));
            Completion a = e.complete("abc", s, null);
            Completion b = e.complete("abc", s, null);
            Completion c = e.complete("abc", s.seed(124), null);
            assertEquals(a.tokens(), b.tokens());
            assertNotEquals(a.tokens(), c.tokens());
        }
    }

    @Test
    void stopStringSplitAcrossTokensEndsTheTextBeforeIt() throws IOException {
        try (Engine e = Isthmus.builder().model(model).threads(1).build()) {
            // only the byte tokens 'a'..'z' (ids are byte values here): the text is one character a token
            Sampling greedy = Sampling.defaults().temperature(1.5).topK(0).topP(1).minP(0).seed(3).maxTokens(16);
            for (int id = 0; id < 320; id++) {
                if (id < 'a' || id > 'z') {
                    greedy = greedy.logitBias(id, -1000f);
                }
            }
            Completion full = e.complete("xyz", greedy, null);
            // 3 consecutive characters are 3 tokens
            String text = full.text();
            int at = -1;
            for (int i = 2; i + 3 <= text.length(); i++) {
                String cand = text.substring(i, i + 3);
                if (cand.indexOf(0xFFFD) < 0 && !Character.isSurrogate(cand.charAt(0)) && text.indexOf(cand) == i) {
                    at = i;
                    break;
                }
            }
            assertTrue(at > 0, "no 3-letter stretch first seen after 2 letters in " + text);
            String stop = text.substring(at, at + 3);
            StringBuilder streamed = new StringBuilder();
            Completion stopped = e.complete("xyz", greedy.stop(stop), t -> streamed.append(t.text()));
            assertEquals(FinishReason.STOP, stopped.reason());
            assertEquals(text.substring(0, at), stopped.text());
            assertEquals(stopped.text(), streamed.toString(), "held-back text never streamed");
        }
    }

    @Test
    void cancellingFromAnotherThreadFreesTheBlocks() throws Exception {
        try (Engine e = Isthmus.builder().model(model).threads(1).build()) {
            CountDownLatch started = new CountDownLatch(3);
            Generation g = e.submit("Once", noEos(Sampling.defaults().maxTokens(100)), t -> started.countDown());
            assertTrue(started.await(60, TimeUnit.SECONDS));
            g.cancel();
            assertThrows(CancellationException.class, g::join);
            assertTrue(g.isCancelled() && g.isDone());
            assertEquals(0, e.kvBlocksInUse(), "cancel gives the sequence's blocks back");
            // the engine goes on working
            assertEquals(5, e.complete("Once", noEos(Sampling.greedy().maxTokens(5)), null).tokens().size());
        }
    }

    @Test
    void concurrentGenerationsGiveTheSameResultsAsOneAtATime() throws Exception {
        try (Engine e = Isthmus.builder().model(model).threads(1).maxSequences(4).build()) {
            List<Sampling> settings = List.of(1L, 2L, 3L, 4L).stream()
                    .map(seed -> noEos(Sampling.defaults().seed(seed).maxTokens(10))).toList();
            List<Completion> alone = new ArrayList<>();
            for (Sampling s : settings) {
                alone.add(e.complete("The", s, null));
            }
            List<Generation> together = settings.stream().map(s -> e.submit("The", s, null)).toList();
            for (int i = 0; i < settings.size(); i++) {
                assertEquals(alone.get(i).tokens(), together.get(i).join().tokens(), "generation " + i);
            }
            assertEquals(0, e.kvBlocksInUse());
        }
    }

    @Test
    void promptLongerThanTheContextIsAClearError() throws IOException {
        try (Engine e = Isthmus.builder().model(model).threads(1).contextLength(16).build()) {
            ContextOverflowException x = assertThrows(ContextOverflowException.class,
                    () -> e.complete("a".repeat(40), Sampling.greedy(), null));
            assertEquals(16, x.contextLength());
            assertEquals(e.tokenize("a".repeat(40)).length, x.promptTokens());
            assertTrue(x.getMessage().contains("16") && x.getMessage().contains(String.valueOf(x.promptTokens())));
        }
        try (Engine e = Isthmus.builder().model(model).threads(1).contextLength(16).truncatePrompts(true).build()) {
            Completion c = e.complete("a".repeat(40), noEos(Sampling.greedy().maxTokens(4)), null);
            assertEquals(4, c.tokens().size());
            assertTrue(c.stats().promptTokens() <= 12);
        }
    }

    @Test
    void chatUsesTheModelsTemplateOrTheDocumentedFallback() throws IOException {
        List<Message> chat = List.of(Message.system("Be brief."), Message.user("Hi"));
        try (Engine e = Isthmus.builder().model(model).threads(1).build()) {
            assertTrue(e.hasChatTemplate());
            assertEquals("<s>[system] Be brief.\n[user] Hi\n[assistant] ", e.renderChat(chat));
            Completion c = e.chat(chat, noEos(Sampling.greedy().maxTokens(3)), null);
            assertEquals(3, c.tokens().size());
            assertEquals(e.tokenize("[system] Be brief.\n[user] Hi\n[assistant] ").length, c.stats().promptTokens(),
                    "<s> in the rendered text is parsed as the BOS token");
        }
        try (Engine e = Isthmus.builder().model(noTemplate).threads(1).build()) {
            assertTrue(!e.hasChatTemplate());
            assertEquals("system: Be brief.\nuser: Hi\nassistant:", e.renderChat(chat));
        }
    }

    /** A map that keeps its keys in the given order (tojson prints them in that order). */
    static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void toolDefinitionsAndToolCallsReachTheTemplate() throws IOException {
        Map<String, Object> weather = ordered("type", "function", "function", ordered("name", "weather",
                "parameters", ordered("type", "object", "properties", ordered("city", ordered("type", "string")))));
        List<Message> chat = List.of(Message.user("Rain in Oslo?"),
                Message.assistantToolCalls("", List.of(Map.of("type", "function", "function",
                        Map.of("name", "weather", "arguments", Map.of("city", "Oslo"))))),
                Message.tool("light rain").with("tool_call_id", "call-1"));
        // byte-level tokens: the rendered chat is longer than the fixture's 128-token context, so truncate
        try (Engine e = Isthmus.builder().model(toolModel).threads(1).truncatePrompts(true).build()) {
            assertEquals("tool weather: {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}\n"
                    // transformers renders with trim_blocks: the newline after "{% endif %}" goes
                    + "user: Rain in Oslo?"
                    + "assistant: <call weather {\"city\": \"Oslo\"}>"
                    + "tool: light rain (for call-1)"
                    + "assistant:", e.renderChat(chat, List.of(weather)));
            assertEquals(2, e.chat(chat, List.of(weather), noEos(Sampling.greedy().maxTokens(2)), null).tokens().size());
        }
        assertThrows(IllegalArgumentException.class, () -> new Message("user", "x", Map.of("role", "system")));
    }

    @Test
    void closeDuringGenerationEndsItCleanly() throws Exception {
        Engine e = Isthmus.builder().model(model).threads(1).build();
        CountDownLatch started = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        // the second token's callback holds the generation until close() is under way, so that a fast
        // machine cannot finish all 100 tokens before close() (the race this test once lost)
        Generation g = e.submit("Once", noEos(Sampling.defaults().maxTokens(100)), t -> {
            started.countDown();
            if (started.getCount() == 0) {
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        assertTrue(started.await(60, TimeUnit.SECONDS));
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            release.countDown();
        });
        releaser.start();
        e.close();
        releaser.join();
        RuntimeException x = assertThrows(RuntimeException.class, g::join);
        assertTrue(x instanceof CancellationException || x instanceof IllegalStateException, x.toString());
        assertThrows(IllegalStateException.class, () -> e.complete("x", Sampling.greedy(), null));
        e.close(); // idempotent
    }

    @Test
    void invalidSettingsAndMissingModelAreClearErrors() {
        assertThrows(IllegalArgumentException.class, () -> Sampling.defaults().temperature(-1));
        assertThrows(IllegalStateException.class, () -> Isthmus.builder().build());
        assertThrows(IllegalArgumentException.class, () -> Isthmus.builder().kvType("q4"));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Isthmus.load(tmp.resolve("missing.gguf")));
    }
}
