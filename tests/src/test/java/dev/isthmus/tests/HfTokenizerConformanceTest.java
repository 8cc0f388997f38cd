package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code tokenizer.json} path against llama.cpp's vectors: the Llama 3 and Qwen 3 vocabularies
 * of {@code ../shared/vocab} are written back as HF {@code tokenizer.json} files (with the Split
 * regexes exactly as HF ships them, {@code (?i:...)} and all) and must tokenize the llama-bpe and
 * qwen2 vectors as llama.cpp does; byte-level decoding must give every input back.
 */
class HfTokenizerConformanceTest {
    static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final ObjectMapper M = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void llama3FromTokenizerJson() throws IOException {
        check("regen-vocab-llama3.gguf", "ggml-vocab-llama-bpe.gguf", LLAMA3, true, false);
    }

    @Test
    void qwen3FromTokenizerJson() throws IOException {
        check("regen-vocab-qwen3.gguf", "ggml-vocab-qwen2.gguf", QWEN2, false, true);
    }

    private void check(String gguf, String vectors, String regex, boolean ignoreMerges, boolean nfc) throws IOException {
        Path dir = TokenizerConformanceTest.vocabDir();
        Path folder = tmp.resolve(gguf);
        Files.createDirectories(folder);
        Tokenizer fromGguf;
        try (GgufFile f = GgufFile.open(dir.resolve(gguf))) {
            writeTokenizerJson(f, folder, regex, ignoreMerges, nfc);
            fromGguf = Tokenizer.fromGguf(f);
        }
        Tokenizer tok = Tokenizer.fromHfFolder(folder);
        assertEquals(fromGguf.vocabSize(), tok.vocabSize());
        assertEquals(fromGguf.bos(), tok.bos());
        Map<String, int[]> cases = TokenizerConformanceTest.cases(dir.resolve(vectors + ".inp"), dir.resolve(vectors + ".out"));
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, int[]> c : cases.entrySet()) {
            int[] got = tok.encode(c.getKey(), false, false);
            if (!Arrays.equals(c.getValue(), got)) {
                failures.add(TokenizerConformanceTest.escape(c.getKey()) + " expected " + Arrays.toString(c.getValue())
                        + " got " + Arrays.toString(got));
            }
            String back = tok.decode(got);
            String want = nfc ? java.text.Normalizer.normalize(c.getKey(), java.text.Normalizer.Form.NFC) : c.getKey();
            if (!want.equals(back)) {
                failures.add("decode " + TokenizerConformanceTest.escape(c.getKey()) + " gave " + TokenizerConformanceTest.escape(back));
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " failures:\n" + String.join("\n", failures));
        // special tokens: parsed only when asked
        String text = tok.piece(tok.eos().orElseThrow());
        assertTrue(tok.isEndOfGeneration(tok.eos().getAsInt()));
        int[] plain = tok.encode(text, false, false);
        int[] special = tok.encode(text, false, true);
        assertEquals(1, special.length);
        assertTrue(plain.length > 1);
        assertArrayEquals(fromGguf.encode(text, false, true), special);
    }

    /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} the way HF ships a byte-level BPE. */
    static void writeTokenizerJson(GgufFile f, Path folder, String regex, boolean ignoreMerges, boolean nfc) throws IOException {
        List<String> tokens = f.get("tokenizer.ggml.tokens").orElseThrow().strings();
        int[] types = f.get("tokenizer.ggml.token_type").orElseThrow().ints();
        ObjectNode root = M.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = M.createObjectNode();
        for (int i = 0; i < tokens.size(); i++) {
            if (types[i] == 3 || types[i] == 4 || types[i] == 5) {
                ObjectNode a = added.addObject();
                a.put("id", i).put("content", tokens.get(i)).put("special", types[i] != 4);
            } else {
                vocab.put(tokens.get(i), i);
            }
        }
        if (nfc) {
            root.putObject("normalizer").put("type", "NFC");
        } else {
            root.putNull("normalizer");
        }
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode pts = pre.putArray("pretokenizers");
        ObjectNode split = pts.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", regex);
        split.put("behavior", "Isolated").put("invert", false);
        pts.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", false);
        root.putObject("decoder").put("type", "ByteLevel");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").put("ignore_merges", ignoreMerges).put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (String m : f.get("tokenizer.ggml.merges").orElseThrow().strings()) {
            int sp = m.indexOf(' ', 1);
            merges.addArray().add(m.substring(0, sp)).add(m.substring(sp + 1));
        }
        M.writeValue(folder.resolve("tokenizer.json").toFile(), root);
        ObjectNode tc = M.createObjectNode();
        long bos = f.getLong("tokenizer.ggml.bos_token_id").orElseThrow();
        long eos = f.getLong("tokenizer.ggml.eos_token_id").orElseThrow();
        tc.put("bos_token", tokens.get((int) bos)).put("eos_token", tokens.get((int) eos));
        tc.put("add_bos_token", f.get("tokenizer.ggml.add_bos_token").map(v -> v.asBoolean()).orElse(false));
        M.writeValue(folder.resolve("tokenizer_config.json").toFile(), tc);
    }
}
