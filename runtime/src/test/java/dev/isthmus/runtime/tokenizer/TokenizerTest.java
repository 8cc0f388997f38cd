package dev.isthmus.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-made vocabularies whose tokenization can be worked out by hand. */
class TokenizerTest {
    static final ObjectMapper M = new ObjectMapper();

    @TempDir
    Path tmp;

    /**
     * A SentencePiece-style BPE tokenizer.json: <unk> <s> </s>, 256 byte tokens (3..258), then
     * ▁ h e l o ▁h ll ▁he llo ▁hello w, an added special <|x|> and an added plain <u>.
     */
    Path metaspaceFolder(boolean addBos) throws IOException {
        ObjectNode root = M.createObjectNode();
        ObjectNode vocab = M.createObjectNode();
        List<String> t = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        for (int b = 0; b < 256; b++) {
            t.add(String.format("<0x%02X>", b));
        }
        t.addAll(List.of("\u2581", "h", "e", "l", "o", "\u2581h", "ll", "\u2581he", "llo", "\u2581hello", "w"));
        for (int i = 0; i < t.size(); i++) {
            vocab.put(t.get(i), i);
        }
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", 0).put("content", "<unk>").put("special", true);
        added.addObject().put("id", 1).put("content", "<s>").put("special", true);
        added.addObject().put("id", 2).put("content", "</s>").put("special", true);
        added.addObject().put("id", 270).put("content", "<|x|>").put("special", true);
        added.addObject().put("id", 271).put("content", "<u>").put("special", false);
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Metaspace").put("replacement", "\u2581").put("prepend_scheme", "first").put("split", false);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").put("byte_fallback", true).put("unk_token", "<unk>");
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (String m : List.of("\u2581 h", "l l", "\u2581h e", "ll o", "\u2581he llo")) {
            merges.add(m);
        }
        Path dir = tmp.resolve("spm" + addBos);
        Files.createDirectories(dir);
        M.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        ObjectNode tc = M.createObjectNode().put("bos_token", "<s>").put("eos_token", "</s>").put("add_bos_token", addBos);
        M.writeValue(dir.resolve("tokenizer_config.json").toFile(), tc);
        return dir;
    }

    static int byteId(int b) {
        return 3 + b;
    }

    @Test
    void metaspaceBpeMergesByRankAndFallsBackToBytes() throws IOException {
        Tokenizer tok = Tokenizer.fromHfFolder(metaspaceFolder(true));
        assertEquals(272, tok.vocabSize());
        // ▁ h e l l o: ▁h, ll, ▁he, llo, ▁hello
        assertArrayEquals(new int[] {268}, tok.encode("hello", false, false));
        assertArrayEquals(new int[] {1, 268}, tok.encode("hello", true, false));
        // "hello w" -> ▁hello ▁ w ; 'x' is not a token: byte fallback
        assertArrayEquals(new int[] {268, 259, 269, byteId('x')}, tok.encode("hello wx", false, false));
        // 😀 = F0 9F 98 80
        int[] emoji = {268, byteId(0xF0), byteId(0x9F), byteId(0x98), byteId(0x80)};
        assertArrayEquals(emoji, tok.encode("hello\uD83D\uDE00", false, false));
        assertEquals("hello\uD83D\uDE00", tok.decode(emoji));
        assertEquals("hello wx", tok.decode(tok.encode("hello wx", true, false)));
    }

    @Test
    void streamingDecoderHoldsIncompleteUtf8() throws IOException {
        Tokenizer tok = Tokenizer.fromHfFolder(metaspaceFolder(true));
        Detokenizer d = tok.streamingDecoder();
        assertEquals("", d.push(1)); // BOS adds nothing
        assertEquals("hello", d.push(268)); // the prefix space of the first word is dropped
        assertEquals("", d.push(byteId(0xF0)));
        assertEquals("", d.push(byteId(0x9F)));
        assertEquals("", d.push(byteId(0x98)));
        assertEquals("\uD83D\uDE00", d.push(byteId(0x80)));
        assertEquals(" hello", d.push(268));
        assertEquals("", d.push(byteId(0xE2)));
        assertEquals("\uFFFD", d.flush()); // an incomplete character at the end
        // a byte that can never start a character comes out at once as U+FFFD
        assertEquals("\uFFFDw", tok.streamingDecoder().push(byteId(0x80)) + tok.streamingDecoder().push(269));
    }

    @Test
    void specialTokensOnlyWhenAsked() throws IOException {
        Tokenizer tok = Tokenizer.fromHfFolder(metaspaceFolder(false));
        int[] plain = tok.encode("hello<|x|>", false, false);
        for (int id : plain) {
            assertTrue(id != 270, "a control token came out of plain text");
        }
        assertArrayEquals(new int[] {268, 270}, tok.encode("hello<|x|>", false, true));
        // the added non-special token is matched either way
        assertArrayEquals(new int[] {268, 271}, tok.encode("hello<u>", false, false));
        // BOS: add_bos_token false
        assertArrayEquals(new int[] {268}, tok.encode("hello", true, false));
        assertEquals(1, tok.bos().getAsInt());
        assertEquals(2, tok.eos().getAsInt());
        assertTrue(tok.isEndOfGeneration(2));
        assertFalse(tok.isEndOfGeneration(268));
        assertEquals("<|x|>", tok.piece(270));
        assertEquals("hello", tok.decode(new int[] {268, 270}));
    }

    @Test
    void loneSurrogatesAreReplacementCharacters() throws IOException {
        Tokenizer tok = Tokenizer.fromHfFolder(metaspaceFolder(false));
        int[] fffd = {259, byteId(0xEF), byteId(0xBF), byteId(0xBD)};
        assertArrayEquals(tok.encode("\uFFFD", false, false), tok.encode("\uD800", false, false));
        assertArrayEquals(fffd, tok.encode("\uDC00", false, false));
        assertArrayEquals(tok.encode("hello\uFFFDhello", false, false), tok.encode("hello\uDBFFhello", false, false));
    }

    @Test
    void badIdsAndBadFilesAreClearErrors() throws IOException {
        Tokenizer tok = Tokenizer.fromHfFolder(metaspaceFolder(false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {272}));
        assertTrue(e.getMessage().contains("272"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.streamingDecoder().push(-1));
        assertThrows(IllegalArgumentException.class, () -> tok.piece(99999));

        Path wp = tmp.resolve("wordpiece");
        Files.createDirectories(wp);
        Files.writeString(wp.resolve("tokenizer.json"), "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}");
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromHfFolder(wp));
        assertTrue(e.getMessage().contains("WordPiece"), e.getMessage());
        assertThrows(java.nio.file.NoSuchFileException.class, () -> Tokenizer.fromHfFolder(tmp.resolve("nothing")));
    }

    /** A tiny byte-level BPE GGUF: the 256 byte symbols, then "he", "ll", "hell", "hello". */
    Path bpeGguf(String pre) throws IOException {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
        }
        tokens.addAll(List.of("he", "ll", "hell", "hello", "\u0120hello", "<|eot|>"));
        int[] types = IntStream.range(0, tokens.size()).map(i -> i == tokens.size() - 1 ? 3 : 1).toArray();
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufValue.string("llama"));
        meta.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        meta.put("tokenizer.ggml.pre", GgufValue.string(pre));
        meta.put("tokenizer.ggml.tokens", GgufValue.stringArray(tokens));
        meta.put("tokenizer.ggml.token_type", GgufValue.int32Array(types));
        meta.put("tokenizer.ggml.merges", GgufValue.stringArray(List.of("h e", "l l", "he ll", "hell o", "\u0120 hello")));
        meta.put("tokenizer.ggml.bos_token_id", GgufValue.uint32(tokens.size() - 1));
        meta.put("tokenizer.ggml.eos_token_id", GgufValue.uint32(tokens.size() - 1));
        meta.put("tokenizer.ggml.add_bos_token", GgufValue.bool(false));
        Path p = tmp.resolve("bpe-" + pre + ".gguf");
        try (GgufWriter w = GgufWriter.create(p, meta, List.of())) {
            // metadata only
        }
        return p;
    }

    @Test
    void byteLevelBpeFromGguf() throws IOException {
        try (GgufFile f = GgufFile.open(bpeGguf("gpt-2"))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            int eot = tok.vocabSize() - 1;
            // "hello" -> he, ll -> hell -> hello ; " hello" -> Ġ + hello -> Ġhello
            assertArrayEquals(new int[] {259, 260}, tok.encode("hello hello", false, false));
            assertArrayEquals(new int[] {259, eot}, tok.encode("hello<|eot|>", false, true));
            assertTrue(tok.encode("hello<|eot|>", false, false).length > 2);
            assertTrue(tok.isEndOfGeneration(eot));
            assertEquals("hello hello", tok.decode(new int[] {259, eot, 260}));
            // an emoji split over byte tokens streams out only when complete
            int[] ids = tok.encode("\uD83E\uDD99!", false, false);
            assertEquals(5, ids.length);
            Detokenizer d = tok.streamingDecoder();
            StringBuilder seen = new StringBuilder();
            for (int i = 0; i < 4; i++) {
                String s = d.push(ids[i]);
                assertEquals(i < 3 ? "" : "\uD83E\uDD99", s);
                seen.append(s);
            }
            assertEquals("!", d.push(ids[4]));
        }
    }

    @Test
    void unknownPreTokenizerIsNamed() throws IOException {
        try (GgufFile f = GgufFile.open(bpeGguf("no-such-pre"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromGguf(f));
            assertTrue(e.getMessage().contains("'no-such-pre'"), e.getMessage());
        }
    }
}
