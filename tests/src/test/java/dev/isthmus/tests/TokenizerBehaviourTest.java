package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.runtime.tokenizer.Detokenizer;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * BOS/EOS, special tokens, end of generation and (streaming) decoding on the real vocabularies of
 * {@code ../shared/vocab}. Skips when {@code ../shared} is absent.
 */
class TokenizerBehaviourTest {
    static Tokenizer load(String name) throws IOException {
        try (GgufFile f = GgufFile.open(TokenizerConformanceTest.vocabDir().resolve(name))) {
            return Tokenizer.fromGguf(f);
        }
    }

    @Test
    void llama3SpecialTokens() throws IOException {
        Tokenizer t = load("regen-vocab-llama3.gguf");
        assertEquals(128000, t.bos().getAsInt());
        assertEquals(128001, t.eos().getAsInt());
        int[] hello = t.encode("Hello", false, false);
        int[] withBos = t.encode("Hello", true, false);
        assertEquals(128000, withBos[0]);
        assertArrayEquals(hello, Arrays.copyOfRange(withBos, 1, withBos.length));
        String chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        int[] plain = t.encode(chat, false, false);
        assertTrue(Arrays.stream(plain).allMatch(id -> id < 128000), "control tokens from plain text: " + Arrays.toString(plain));
        int[] parsed = t.encode(chat, false, true);
        assertEquals(128006, parsed[0]);
        assertEquals(128009, parsed[parsed.length - 1]);
        assertEquals(chat.replaceAll("<\\|[a-z_]+\\|>", ""), t.decode(parsed));
        assertEquals(chat, t.decode(plain));
        assertTrue(t.isEndOfGeneration(128009));
        assertTrue(t.isEndOfGeneration(128001));
        int[] eom = t.encode("<|eom_id|>", false, true);
        assertTrue(eom.length > 1 || t.isEndOfGeneration(eom[0]), "<|eom_id|>, when the vocabulary has it");
        assertFalse(t.isEndOfGeneration(128000));
        assertFalse(t.isEndOfGeneration(hello[0]));
        assertEquals("<|eot_id|>", t.piece(128009));
    }

    @Test
    void qwen3AddsNoBos() throws IOException {
        Tokenizer t = load("regen-vocab-qwen3.gguf");
        assertArrayEquals(t.encode("Hello", false, false), t.encode("Hello", true, false));
        assertTrue(t.isEndOfGeneration(151645)); // <|im_end|>
        assertTrue(t.isEndOfGeneration(151643)); // <|endoftext|>
        int[] im = t.encode("<|im_start|>user\nHi<|im_end|>", false, true);
        assertEquals(151644, im[0]);
        assertEquals(151645, im[im.length - 1]);
    }

    @Test
    void spmAndWordPieceAddTheirSpecials() throws IOException {
        Tokenizer spm = load("ggml-vocab-llama-spm.gguf");
        int[] ids = spm.encode("Hello world", true, false);
        assertEquals(1, ids[0]);
        assertEquals("Hello world", spm.decode(ids));
        for (String text : List.of("<s>", "</s>", "<unk>", "a<s>b</s>")) {
            int[] plain = spm.encode(text, false, false);
            assertTrue(Arrays.stream(plain).allMatch(id -> id > 2), text + " gave a control token: " + Arrays.toString(plain));
            assertEquals(text, spm.decode(plain));
        }
        assertArrayEquals(new int[] {1}, spm.encode("<s>", false, true));
        Tokenizer bert = load("ggml-vocab-bert-bge.gguf");
        int[] b = bert.encode("Hello world", true, false);
        assertEquals(101, b[0]);
        assertEquals(102, b[b.length - 1]);
        assertEquals("hello world", bert.decode(b));
    }

    /** Lossless vocabularies give every test input back, and streaming gives the same text as decode. */
    @Test
    void decodeAndStreamingGiveTheTextBack() throws IOException {
        Path dir = TokenizerConformanceTest.vocabDir();
        for (String name : List.of("regen-vocab-llama3.gguf", "regen-vocab-qwen3.gguf", "ggml-vocab-gpt-2.gguf",
                "ggml-vocab-falcon.gguf", "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                "ggml-vocab-bert-bge.gguf")) {
            Tokenizer t = load(name);
            boolean lossless = !name.contains("bert");
            Map<String, int[]> cases = TokenizerConformanceTest.cases(dir.resolve(name + ".inp"), dir.resolve(name + ".out"));
            for (String text : cases.keySet()) {
                int[] ids = t.encode(text, true, false);
                String decoded = t.decode(ids);
                if (lossless) {
                    assertEquals(text, decoded, name);
                }
                Detokenizer d = t.streamingDecoder();
                StringBuilder streamed = new StringBuilder();
                for (int id : ids) {
                    String piece = d.push(id);
                    assertFalse(piece.contains("\uFFFD") && !text.contains("\uFFFD"), name + ": a split character leaked as U+FFFD");
                    streamed.append(piece);
                }
                streamed.append(d.flush());
                assertEquals(decoded, streamed.toString(), name + ": streaming differs from decode");
            }
        }
    }
}
