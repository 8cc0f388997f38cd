package dev.isthmus.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * SentencePiece merging word by word (the fast path) gives the same ids as merging the whole text
 * (llama.cpp's way), on the real Llama 2 and Phi-3 vocabularies of {@code ../shared/vocab}.
 */
class SpmWordSplitTest {
    @Test
    void wordByWordEqualsWholeText() throws IOException {
        String shared = System.getProperty("isthmus.shared");
        Path dir = shared == null ? null : Path.of(shared, "vocab");
        Assumptions.assumeTrue(dir != null && Files.isDirectory(dir), "../shared/vocab is absent: skipped");
        String inp = Files.readString(dir.resolve("ggml-vocab-llama-spm.gguf.inp"));
        List<String> texts = List.of(inp.split("\n__ggml_vocab_test__\n"));
        for (String name : List.of("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf")) {
            SpmTokenizer fast;
            SpmTokenizer whole;
            try (GgufFile f = GgufFile.open(dir.resolve(name))) {
                fast = (SpmTokenizer) GgufTokenizers.load(f);
                whole = new SpmTokenizer(fast.vocab, true, false);
            }
            assertTrue(fast.splitWords, name + ": the fast path should apply");
            Random r = new Random(3);
            for (int t = 0; t < 300; t++) {
                StringBuilder b = new StringBuilder();
                for (int k = 0; k < 1 + r.nextInt(6); k++) {
                    b.append(texts.get(r.nextInt(texts.size())));
                    b.append(" \n\t  ".substring(r.nextInt(5)));
                }
                String s = b.toString();
                assertArrayEquals(whole.encode(s, true, false), fast.encode(s, true, false), s);
            }
        }
    }
}
