package dev.isthmus.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The heap merge for long words gives what the scan gives, and a huge word is not quadratic. */
class BpeLongWordTest {
    static BpeTokenizer load(String name) throws IOException {
        String shared = System.getProperty("isthmus.shared");
        Path dir = shared == null ? null : Path.of(shared, "vocab");
        Assumptions.assumeTrue(dir != null && Files.isDirectory(dir), "../shared/vocab is absent: skipped");
        try (GgufFile f = GgufFile.open(dir.resolve(name))) {
            return (BpeTokenizer) GgufTokenizers.load(f);
        }
    }

    @Test
    void heapEqualsScan() throws IOException {
        for (String name : new String[] {"ggml-vocab-gpt-2.gguf", "regen-vocab-qwen3.gguf"}) {
            BpeTokenizer scan = load(name);
            BpeTokenizer heap = load(name);
            scan.shortWordLimit = Integer.MAX_VALUE;
            heap.shortWordLimit = 1;
            Random r = new Random(11);
            String letters = "abcdeeeilnorstthhaaéßжш中文";
            for (int t = 0; t < 400; t++) {
                StringBuilder b = new StringBuilder();
                int n = 1 + r.nextInt(t < 200 ? 12 : 300);
                for (int i = 0; i < n; i++) {
                    b.append(letters.charAt(r.nextInt(letters.length())));
                }
                String s = b.toString();
                assertArrayEquals(scan.encode(s, false, false), heap.encode(s, false, false), s);
            }
        }
    }

    @Test
    @Timeout(60)
    void aMegabyteWordIsFast() throws IOException {
        BpeTokenizer tok = load("ggml-vocab-gpt-2.gguf");
        int[] ids = tok.encode("ab".repeat(500_000), false, false);
        assertTrue(ids.length > 1000 && ids.length < 1_000_000, "ids: " + ids.length);
    }
}
