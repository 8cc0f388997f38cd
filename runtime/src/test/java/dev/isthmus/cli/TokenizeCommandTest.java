package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code tokenize} and {@code detokenize} output contracts on a hand-made byte-level BPE GGUF. */
class TokenizeCommandTest {
    @TempDir
    Path dir;

    /** GPT-2's byte alphabet (ids 0..255 in byte-alphabet order), then he, ll, hell, hello, Ġhello, <|eot|>. */
    Path gguf(boolean addBos) throws IOException {
        List<String> tokens = new ArrayList<>();
        List<Integer> bytes = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bytes.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            bytes.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            bytes.add(b);
        }
        int n = 0;
        String[] alphabet = new String[256];
        for (int b = 0; b < 256; b++) {
            alphabet[b] = bytes.contains(b) ? String.valueOf((char) b) : String.valueOf((char) (256 + n++));
        }
        for (int b = 0; b < 256; b++) {
            tokens.add(alphabet[b]);
        }
        tokens.addAll(List.of("he", "ll", "hell", "hello", "\u0120hello", "<|eot|>"));
        int[] types = new int[tokens.size()];
        java.util.Arrays.fill(types, 1);
        types[tokens.size() - 1] = 3;
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufValue.string("llama"));
        meta.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        meta.put("tokenizer.ggml.pre", GgufValue.string("gpt-2"));
        meta.put("tokenizer.ggml.tokens", GgufValue.stringArray(tokens));
        meta.put("tokenizer.ggml.token_type", GgufValue.int32Array(types));
        meta.put("tokenizer.ggml.merges", GgufValue.stringArray(List.of("h e", "l l", "he ll", "hell o", "\u0120 hello")));
        meta.put("tokenizer.ggml.bos_token_id", GgufValue.uint32(261));
        meta.put("tokenizer.ggml.eos_token_id", GgufValue.uint32(261));
        meta.put("tokenizer.ggml.add_bos_token", GgufValue.bool(addBos));
        Path p = dir.resolve("vocab-" + addBos + ".gguf");
        try (GgufWriter w = GgufWriter.create(p, meta, List.of())) {
            // metadata only
        }
        return p;
    }

    Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void oneLinePerFileInOrder() throws IOException {
        Path m = gguf(true);
        CliTest.Result r = LogitsCommandTest.run("tokenize", m.toString(), "--text-file", file("a", "hello hello").toString(),
                "--text-file", file("empty", "").toString(), "--text-file", file("c", "hello<|eot|>").toString());
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n", -1);
        assertEquals(4, lines.length, r.out());
        assertEquals("259 260", lines[0]);
        assertEquals("", lines[1]);
        assertTrue(lines[2].startsWith("259 ") && !lines[2].contains("261"), "special text is plain without --special: " + lines[2]);
        assertEquals("", lines[3]);

        r = LogitsCommandTest.run("tokenize", m.toString(), "--special", "--bos", "--text-file", dir.resolve("c").toString(),
                "--text-file", dir.resolve("empty").toString());
        assertEquals("261 259 261\n261\n", r.out());
        r = LogitsCommandTest.run("tokenize", gguf(false).toString(), "--bos", "--text-file", dir.resolve("a").toString());
        assertEquals("259 260\n", r.out(), "no BOS when the metadata says not to add one");
    }

    @Test
    void detokenizePrintsTheTextExactly() throws IOException {
        Path m = gguf(false);
        CliTest.Result r = LogitsCommandTest.run("detokenize", m.toString(), "--ids", "259 261 260 10");
        assertEquals(0, r.code(), r.err());
        assertEquals("hello hello\n", r.out()); // id 10 is byte 0x0A; the control token adds nothing
    }

    @Test
    void errorsAreOneLine() throws IOException {
        Path m = gguf(false);
        Path bad = dir.resolve("bad");
        Files.write(bad, new byte[] {'a', (byte) 0xC3});
        CliTest.Result r = LogitsCommandTest.run("tokenize", m.toString(), "--text-file", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("not valid UTF-8"), r.err());
        assertEquals("", r.out());
        r = LogitsCommandTest.run("detokenize", m.toString(), "--ids", "1 99999");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("99999"), r.err());
        r = LogitsCommandTest.run("detokenize", m.toString(), "--ids", "1 x");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("'x'"), r.err());
        r = LogitsCommandTest.run("tokenize", dir.resolve("missing.gguf").toString(), "--text-file", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing.gguf"), r.err());
    }
}
