package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufValueType;
import dev.isthmus.gguf.GgufWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's contracts: {@code inspect [--json]}, {@code probe [--json]}, one-line errors, exit codes. */
class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    static Path shared() {
        String p = System.getProperty("isthmus.shared");
        return p == null ? Path.of("..", "..", "shared") : Path.of(p);
    }

    Path smallGguf() throws IOException {
        Path file = dir.resolve("tiny.gguf");
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufValue.string("llama"));
        meta.put("llama.block_count", GgufValue.uint32(2));
        meta.put("llama.rope.freq_base", GgufValue.float32(500000.0f));
        meta.put("test.norm_eps", GgufValue.float32(1e-5f));
        int[] twenty = new int[20];
        for (int i = 0; i < 20; i++) {
            twenty[i] = i;
        }
        meta.put("test.long_array", GgufValue.int32Array(twenty));
        meta.put("test.short_array", GgufValue.int32Array(1, 2, 3));
        meta.put("test.nested", GgufValue.array(GgufValueType.ARRAY,
                List.of(GgufValue.stringArray(List.of("a", "b")), GgufValue.stringArray(List.of("c")))));
        meta.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
        meta.put("tokenizer.ggml.pre", GgufValue.string("llama-bpe"));
        meta.put("tokenizer.ggml.tokens", GgufValue.stringArray(List.of("a", "b", "c")));
        meta.put("tokenizer.ggml.bos_token_id", GgufValue.uint32(1));
        List<GgufWriter.TensorSpec> specs = List.of(
                new GgufWriter.TensorSpec("token_embd.weight", GgmlType.F32, new long[] {8, 3}),
                new GgufWriter.TensorSpec("blk.0.attn_q.weight", GgmlType.Q8_0, new long[] {64, 2}));
        try (GgufWriter w = GgufWriter.create(file, meta, specs); Arena arena = Arena.ofConfined()) {
            MemorySegment emb = arena.allocate(8 * 3 * 4);
            for (int i = 0; i < 24; i++) {
                emb.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i);
            }
            w.writeTensorData("token_embd.weight", emb);
            w.writeTensorData("blk.0.attn_q.weight", arena.allocate(2 * 2 * 34));
        }
        return file;
    }

    @Test
    void inspectJsonHasTheContractKeys() throws Exception {
        Path file = smallGguf();
        Result r = run("inspect", file.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("gguf", j.get("format").asText());
        assertEquals(3, j.get("version").asInt());
        assertEquals("llama", j.get("architecture").asText());
        JsonNode meta = j.get("metadata");
        assertEquals(2, meta.get("llama.block_count").asInt());
        assertEquals("500000.0", meta.get("llama.rope.freq_base").asText());
        // float32 values print as their shortest decimal, not as the widened double 9.99999974737875E-6
        assertEquals(1e-5, meta.get("test.norm_eps").asDouble(), 0.0);
        assertEquals("INT32", meta.get("test.long_array").get("array_of").asText());
        assertEquals(20, meta.get("test.long_array").get("length").asInt());
        assertEquals(3, meta.get("test.short_array").size());
        assertEquals("c", meta.get("test.nested").get(1).get(0).asText());
        JsonNode tensors = j.get("tensors");
        assertEquals(2, tensors.size());
        JsonNode q = tensors.get(1);
        assertEquals("blk.0.attn_q.weight", q.get("name").asText());
        assertEquals("Q8_0", q.get("type").asText());
        assertEquals(64, q.get("shape").get(0).asInt());
        assertEquals(2 * 2 * 34, q.get("bytes").asLong());
        long dataOffset = j.get("data_offset").asLong();
        assertEquals(dataOffset, tensors.get(0).get("offset").asLong(), "offsets are absolute");
        assertTrue(q.get("offset").asLong() % 32 == 0 && q.get("offset").asLong() > dataOffset);
    }

    /** A safetensors file: 8-byte header length, JSON header, data. */
    static void writeSafetensors(Path file, String headerJson, int dataBytes) throws IOException {
        byte[] header = headerJson.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + header.length + dataBytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        for (int i = 0; i < dataBytes; i++) {
            b.put((byte) i);
        }
        Files.write(file, b.array());
    }

    @Test
    void inspectSafetensorsFileAndShardedHfFolder() throws Exception {
        Path hf = Files.createDirectories(dir.resolve("hf"));
        writeSafetensors(hf.resolve("model-00001-of-00002.safetensors"),
                "{\"__metadata__\":{\"format\":\"pt\"},\"model.embed_tokens.weight\":{\"dtype\":\"BF16\",\"shape\":[4,3],\"data_offsets\":[0,24]}}", 24);
        writeSafetensors(hf.resolve("model-00002-of-00002.safetensors"),
                "{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
                        + "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}}", 60);
        Files.writeString(hf.resolve("model.safetensors.index.json"), "{\"metadata\":{\"total_size\":84},\"weight_map\":{"
                + "\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\","
                + "\"lm_head.weight\":\"model-00002-of-00002.safetensors\","
                + "\"model.norm.weight\":\"model-00002-of-00002.safetensors\"}}");
        Files.writeString(hf.resolve("config.json"), "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\","
                + "\"hidden_size\":3,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":1,"
                + "\"vocab_size\":4,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"max_position_embeddings\":64}");
        Files.writeString(hf.resolve("tokenizer.json"), "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"c\":3},"
                + "\"merges\":[\"a b\"]},\"added_tokens\":[]}");

        Result r = run("inspect", hf.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("hf", j.get("format").asText());
        assertTrue(j.get("version").isNull());
        assertEquals("llama", j.get("architecture").asText());
        assertEquals(3, j.get("metadata").get("hidden_size").asInt());
        assertEquals(3, j.get("tensors").size());
        JsonNode emb = null;
        for (JsonNode t : j.get("tensors")) {
            if (t.get("name").asText().equals("model.embed_tokens.weight")) {
                emb = t;
            }
        }
        assertEquals("BF16", emb.get("type").asText());
        assertEquals(4, emb.get("shape").get(0).asInt());
        assertEquals("model-00001-of-00002.safetensors", emb.get("file").asText());
        assertEquals(24, emb.get("bytes").asInt());
        assertTrue(j.get("tokenizer").asText().contains("BPE, 4 tokens, 1 merges"), j.get("tokenizer").asText());

        Path single = hf.resolve("model-00002-of-00002.safetensors");
        Result s = run("inspect", single.toString(), "--json");
        assertEquals(0, s.code(), s.err());
        JsonNode sj = new ObjectMapper().readTree(s.out());
        assertEquals("safetensors", sj.get("format").asText());
        assertEquals(2, sj.get("tensors").size());
        long dataOffset = sj.get("data_offset").asLong();
        assertEquals(dataOffset + 48, sj.get("tensors").get(1).get("offset").asLong(), "absolute offset of the second tensor");

        Result text = run("inspect", hf.toString());
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("F32") && text.out().contains("BF16") && text.out().contains("total: 3 tensors, 27 parameters"), text.out());

        // a corrupt shard: header length beyond the file
        Files.write(single, new byte[] {(byte) 0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        Result bad = run("inspect", hf.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("model-00002-of-00002.safetensors"), bad.err());
    }

    @Test
    void inspectTextShowsTableTypesTotalsAndTokenizer() throws Exception {
        Result r = run("inspect", smallGguf().toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("GGUF v3"), r.out());
        assertTrue(r.out().contains("blk.0.attn_q.weight"), r.out());
        assertTrue(r.out().contains("gpt2 (pre: llama-bpe), 3 tokens"), r.out());
        assertTrue(r.out().contains("[INT32 × 20]"), r.out());
        assertTrue(r.out().contains("total: 2 tensors, 152 parameters"), r.out());
    }

    @Test
    void inspectReadsEveryGgufInSharedVocab() throws Exception {
        Path vocab = shared().resolve("vocab");
        assumeTrue(Files.isDirectory(vocab), "skipped: " + vocab + " is absent (only CI and dev machines have ../shared)");
        List<Path> files;
        try (Stream<Path> s = Files.list(vocab)) {
            files = s.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
        assertFalse(files.isEmpty());
        for (Path f : files) {
            Result r = run("inspect", f.toString(), "--json");
            assertEquals(0, r.code(), f + ": " + r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertEquals("gguf", j.get("format").asText());
            assertTrue(j.get("metadata").get("tokenizer.ggml.tokens").has("array_of"), f.toString());
            assertFalse(j.get("architecture").isNull(), f.toString());
        }
    }

    @Test
    void corruptFilesGiveOneLineErrorsAndExitOne() throws Exception {
        Path good = smallGguf();
        byte[] bytes = Files.readAllBytes(good);
        List<byte[]> variants = new ArrayList<>();
        // the last cut falls inside the last tensor (the file ends with under 32 bytes of padding)
        for (int cut : new int[] {0, 3, 7, 15, 23, 40, 100, bytes.length / 2, bytes.length - 40}) {
            variants.add(java.util.Arrays.copyOf(bytes, cut));
        }
        byte[] magic = bytes.clone();
        magic[0] = 'X';
        variants.add(magic);
        byte[] count = bytes.clone();
        for (int i = 16; i < 24; i++) {
            count[i] = (byte) 0x7f; // metadata count of ~2^63
        }
        variants.add(count);
        int n = 0;
        for (byte[] v : variants) {
            Path f = dir.resolve("bad" + (n++) + ".gguf");
            Files.write(f, v);
            Result r = run("inspect", f.toString());
            assertEquals(1, r.code(), f + " out=" + r.out());
            String err = r.err().strip();
            assertFalse(err.contains("\n"), "one line: " + err);
            assertTrue(err.startsWith("isthmus: ") && err.contains(f.toString()), err);
            assertFalse(err.contains("internal error"), err);
        }
    }

    @Test
    void missingFileAndBadUsage() {
        Result r = run("inspect", dir.resolve("nope.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no such file"), r.err());
        Result u = run("inspect");
        assertEquals(2, u.code());
        assertTrue(u.err().contains("Missing required parameter"), u.err());
        assertEquals(2, run("frobnicate").code());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"probe", "inspect", "convert", "logits"}) {
            Result r = run(cmd, "--help");
            assertEquals(0, r.code());
            assertTrue(r.out().contains("Usage: isthmus " + cmd), r.out());
        }
    }

    @Test
    void probeJsonNamesTheChosenBackendAndWhy() throws Exception {
        Result r = run("probe", "--json", "--no-bandwidth");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("cpu").get("physical_cores").asInt() >= 1);
        assertTrue(j.get("cpu").get("vector_bits").asInt() >= 64);
        assertFalse(j.get("backend").get("reason").asText().isBlank());
        List<String> names = new ArrayList<>();
        j.get("backends").forEach(b -> names.add(b.get("name").asText()));
        assertTrue(names.containsAll(List.of("cpu", "cuda")), names.toString());
        if (!j.get("cuda").get("available").asBoolean()) {
            assertEquals("cpu", j.get("backend").get("name").asText());
            assertTrue(j.get("backend").get("reason").asText().contains("cuda unavailable"));
        }
    }

    @Test
    void probeTextEndsWithTheChoiceInOneLine() {
        Result r = run("probe", "--no-bandwidth");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].startsWith("backend:    "), r.out());
        assertTrue(r.out().contains("vector api:"), r.out());
    }
}
