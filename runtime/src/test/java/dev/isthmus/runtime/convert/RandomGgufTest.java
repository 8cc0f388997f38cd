package dev.isthmus.runtime.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.quant.Dequantize;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** {@code isthmus random}: same metadata and tensor plan as {@code convert}, seeded random data. */
class RandomGgufTest {
    @TempDir
    Path tmp;

    final List<String> warnings = new ArrayList<>();

    static final int EMBD = 256;
    static final int HEADS = 4;
    static final int KV = 2;
    static final int HD = 64;
    static final int FF = 512;
    static final int VOCAB = 32;

    /** A tiny llama (untied, llama3 rope, 2 layers) with its safetensors, so that convert can run too. */
    HfFolder llama() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("Tiny-Llama"));
        f.config("""
                {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":2,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000.0,
                 "rope_scaling":{"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                                 "original_max_position_embeddings":8192,"rope_type":"llama3"},
                 "tie_word_embeddings":false}
                """.formatted(EMBD, FF, HEADS, KV, VOCAB));
        f.add("model.embed_tokens.weight", VOCAB, EMBD);
        for (int i = 0; i < 2; i++) {
            String l = "model.layers." + i + ".";
            f.add(l + "input_layernorm.weight", EMBD);
            f.add(l + "self_attn.q_proj.weight", HEADS * HD, EMBD);
            f.add(l + "self_attn.k_proj.weight", KV * HD, EMBD);
            f.add(l + "self_attn.v_proj.weight", KV * HD, EMBD);
            f.add(l + "self_attn.o_proj.weight", EMBD, HEADS * HD);
            f.add(l + "post_attention_layernorm.weight", EMBD);
            f.add(l + "mlp.gate_proj.weight", FF, EMBD);
            f.add(l + "mlp.up_proj.weight", FF, EMBD);
            f.add(l + "mlp.down_proj.weight", EMBD, FF);
        }
        f.add("model.norm.weight", EMBD);
        f.add("lm_head.weight", VOCAB, EMBD);
        return f.writeSafetensors();
    }

    /** A tiny Qwen3 (tied, q/k norms, 2 layers). */
    HfFolder qwen3() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("Tiny-Qwen3"));
        f.config("""
                {"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":2,"num_attention_heads":%d,"num_key_value_heads":%d,"head_dim":%d,"vocab_size":%d,
                 "max_position_embeddings":40960,"rms_norm_eps":1e-6,"rope_theta":1000000,"tie_word_embeddings":true}
                """.formatted(EMBD, FF, HEADS, KV, HD, VOCAB));
        f.add("model.embed_tokens.weight", VOCAB, EMBD);
        for (int i = 0; i < 2; i++) {
            String l = "model.layers." + i + ".";
            f.add(l + "input_layernorm.weight", EMBD);
            f.add(l + "self_attn.q_proj.weight", HEADS * HD, EMBD);
            f.add(l + "self_attn.k_proj.weight", KV * HD, EMBD);
            f.add(l + "self_attn.v_proj.weight", KV * HD, EMBD);
            f.add(l + "self_attn.o_proj.weight", EMBD, HEADS * HD);
            f.add(l + "self_attn.q_norm.weight", HD);
            f.add(l + "self_attn.k_norm.weight", HD);
            f.add(l + "post_attention_layernorm.weight", EMBD);
            f.add(l + "mlp.gate_proj.weight", FF, EMBD);
            f.add(l + "mlp.up_proj.weight", FF, EMBD);
            f.add(l + "mlp.down_proj.weight", EMBD, FF);
        }
        f.add("model.norm.weight", EMBD);
        return f.writeSafetensors();
    }

    Path random(HfFolder f, ConvertType type, long seed, String outName, int threads) throws IOException {
        Path out = tmp.resolve(outName);
        RandomGguf.generate(new RandomGguf.Options(f.dir.resolve("config.json").toString(), type, out, seed, null, false),
                warnings::add, null, threads);
        return out;
    }

    Path convert(HfFolder f, ConvertType type) throws IOException {
        Path out = tmp.resolve("converted-" + type + ".gguf");
        HfToGguf.convert(new HfToGguf.Options(f.dir, out, type, false), warnings::add, null);
        return out;
    }

    static float[] floats(GgufFile g, GgufTensorInfo t) {
        return Dequantize.toFloats(t.type(), g.tensorData(t), t.elementCount());
    }

    /** Same metadata (but general.name and the tokenizer) and the same tensor table as convert; data as documented. */
    void checkAgainstConvert(HfFolder f, ConvertType type, String arch) throws IOException {
        Path rnd = random(f, type, 7, "random-" + type + ".gguf", 2);
        Path conv = convert(f, type);
        try (GgufFile r = GgufFile.open(rnd); GgufFile c = GgufFile.open(conv)) {
            assertEquals(arch, r.architecture());
            assertEquals("Tiny-" + (arch.equals("llama") ? "Llama" : "Qwen3") + "-random",
                    r.getString("general.name").orElseThrow());
            for (Map.Entry<String, GgufValue> e : c.metadata().entrySet()) {
                String k = e.getKey();
                if (k.equals("general.name") || k.startsWith("tokenizer.") || k.equals(GgufFile.ALIGNMENT_KEY)) {
                    continue;
                }
                assertEquals(e.getValue(), r.get(k).orElseThrow(() -> new AssertionError("missing " + k)), k);
            }
            for (String k : r.metadata().keySet()) {
                assertTrue(k.equals("general.name") || k.startsWith("tokenizer.") || c.get(k).isPresent(), "extra key " + k);
            }
            assertEquals(type.fileType(), r.getLong("general.file_type").orElseThrow());
            assertEquals(c.tensors().size(), r.tensors().size());
            for (int i = 0; i < c.tensors().size(); i++) {
                GgufTensorInfo ct = c.tensors().get(i);
                GgufTensorInfo rt = r.tensors().get(i);
                assertEquals(ct.name(), rt.name());
                assertEquals(ct.type(), rt.type(), ct.name());
                assertArrayEquals(ct.shape(), rt.shape(), ct.name());
                float[] v = floats(r, rt);
                for (float x : v) {
                    assertTrue(Float.isFinite(x), rt.name());
                }
                if (rt.name().equals("rope_freqs.weight")) {
                    assertArrayEquals(floats(c, ct), v, 0f);
                } else if (rt.name().endsWith("norm.weight")) {
                    for (float x : v) {
                        assertEquals(1f, x, rt.name());
                    }
                } else {
                    double sum = 0;
                    double sq = 0;
                    for (float x : v) {
                        sum += x;
                        sq += (double) x * x;
                    }
                    double mean = sum / v.length;
                    double std = Math.sqrt(sq / v.length - mean * mean);
                    assertTrue(Math.abs(mean) < 0.002, rt.name() + " mean " + mean);
                    // Q4_0 and Q4_K round coarsely, which widens the spread a little
                    assertTrue(std > 0.018 && std < 0.024, rt.name() + " std " + std);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = ConvertType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void llamaMatchesConvert(ConvertType type) throws IOException {
        HfFolder f = llama();
        checkAgainstConvert(f, type, "llama");
        try (GgufFile r = GgufFile.open(tmp.resolve("random-" + type + ".gguf"))) {
            assertTrue(r.tensor("rope_freqs.weight").isPresent());
            assertTrue(r.tensor("output.weight").isPresent());
        }
    }

    @ParameterizedTest
    @EnumSource(value = ConvertType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void qwen3MatchesConvert(ConvertType type) throws IOException {
        HfFolder f = qwen3();
        checkAgainstConvert(f, type, "qwen3");
        try (GgufFile r = GgufFile.open(tmp.resolve("random-" + type + ".gguf"))) {
            assertTrue(r.tensor("blk.1.attn_q_norm.weight").isPresent());
            assertFalse(r.tensor("output.weight").isPresent());
        }
    }

    @Test
    void seedDecidesTheBytesNotTheThreads() throws IOException {
        HfFolder f = llama();
        Path a = random(f, ConvertType.Q4_K, 1, "a.gguf", 1);
        Path b = random(f, ConvertType.Q4_K, 1, "b.gguf", 3);
        Path c = random(f, ConvertType.Q4_K, 2, "c.gguf", 2);
        assertEquals(-1, Files.mismatch(a, b));
        assertNotEquals(-1, Files.mismatch(a, c));
        assertEquals(Files.size(a), Files.size(c));
        assertFalse(Files.exists(tmp.resolve("a.gguf.part")));
    }

    @Test
    void existingOutIsRefusedWithoutForce() throws IOException {
        HfFolder f = qwen3();
        Path out = tmp.resolve("exists.gguf");
        Files.writeString(out, "keep");
        var o = new RandomGguf.Options(f.dir.resolve("config.json").toString(), ConvertType.F16, out, 0, null, false);
        var e = assertThrows(IllegalArgumentException.class, () -> RandomGguf.generate(o, warnings::add, null, 1));
        assertTrue(e.getMessage().contains("--force"), e.getMessage());
        assertEquals("keep", Files.readString(out));
        RandomGguf.generate(new RandomGguf.Options(o.like(), o.type(), out, 0, null, true), warnings::add, null, 1);
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals("qwen3", g.architecture());
        }
    }

    @Test
    void unknownShapeAndUnsupportedFamily() throws IOException {
        var e = assertThrows(IllegalArgumentException.class,
                () -> RandomGguf.plan("llama-9-huge", ConvertType.F16, null, warnings::add));
        assertTrue(e.getMessage().contains("llama-3.2-1b"), e.getMessage());
        Path cfg = tmp.resolve("bert/config.json");
        Files.createDirectories(cfg.getParent());
        Files.writeString(cfg, "{\"model_type\":\"bert\",\"hidden_size\":32}");
        e = assertThrows(IllegalArgumentException.class,
                () -> RandomGguf.plan(cfg.toString(), ConvertType.F16, null, warnings::add));
        assertTrue(e.getMessage().contains("unsupported model_type 'bert'"), e.getMessage());
    }

    static Path vocab(String family) {
        Path p = Path.of("..", "..", "shared", "vocab", "regen-vocab-" + family + ".gguf");
        assumeTrue(Files.isRegularFile(p), "skipped: " + p + " is absent");
        return p;
    }

    @Test
    void vocabWithAnotherTokenCountIsAnError() throws IOException {
        HfFolder f = qwen3();
        Path v = vocab("qwen3");
        var e = assertThrows(IllegalArgumentException.class,
                () -> RandomGguf.plan(f.dir.resolve("config.json").toString(), ConvertType.F16, v, warnings::add));
        assertTrue(e.getMessage().contains("151936 tokens") || e.getMessage().contains("tokens but"), e.getMessage());
        // the default vocab is skipped with a warning for a config of another size
        warnings.clear();
        RandomGguf.Model m = RandomGguf.plan(f.dir.resolve("config.json").toString(), ConvertType.F16, null, warnings::add);
        assertEquals(null, m.vocab());
        assertFalse(m.metadata().containsKey("tokenizer.ggml.tokens"));
        assertEquals(1, warnings.size(), warnings.toString());
    }

    @Test
    void llama32OneBPlanWithoutWriting() throws IOException {
        RandomGguf.Model m = RandomGguf.plan("llama-3.2-1b", ConvertType.Q8_0, null, warnings::add);
        Map<String, GgufValue> md = m.metadata();
        assertEquals("llama", m.arch());
        assertEquals("llama", md.get("general.architecture").asString());
        assertEquals(16, md.get("llama.block_count").asLong());
        assertEquals(2048, md.get("llama.embedding_length").asLong());
        assertEquals(8192, md.get("llama.feed_forward_length").asLong());
        assertEquals(32, md.get("llama.attention.head_count").asLong());
        assertEquals(8, md.get("llama.attention.head_count_kv").asLong());
        assertEquals(64, md.get("llama.rope.dimension_count").asLong());
        assertEquals(64, md.get("llama.attention.key_length").asLong());
        assertEquals(131072, md.get("llama.context_length").asLong());
        assertEquals(128256, md.get("llama.vocab_size").asLong());
        assertEquals(500000.0, md.get("llama.rope.freq_base").asDouble());
        assertEquals(1e-5f, (float) md.get("llama.attention.layer_norm_rms_epsilon").asDouble());
        assertEquals(7, md.get("general.file_type").asLong());

        List<GgufValueCheck> expect = new ArrayList<>();
        expect.add(new GgufValueCheck("rope_freqs.weight", GgmlType.F32, 32));
        expect.add(new GgufValueCheck("token_embd.weight", GgmlType.Q8_0, 2048, 128256));
        for (int i = 0; i < 16; i++) {
            String b = "blk." + i + ".";
            expect.add(new GgufValueCheck(b + "attn_norm.weight", GgmlType.F32, 2048));
            expect.add(new GgufValueCheck(b + "attn_q.weight", GgmlType.Q8_0, 2048, 2048));
            expect.add(new GgufValueCheck(b + "attn_k.weight", GgmlType.Q8_0, 2048, 512));
            expect.add(new GgufValueCheck(b + "attn_v.weight", GgmlType.Q8_0, 2048, 512));
            expect.add(new GgufValueCheck(b + "attn_output.weight", GgmlType.Q8_0, 2048, 2048));
            expect.add(new GgufValueCheck(b + "ffn_norm.weight", GgmlType.F32, 2048));
            expect.add(new GgufValueCheck(b + "ffn_gate.weight", GgmlType.Q8_0, 2048, 8192));
            expect.add(new GgufValueCheck(b + "ffn_up.weight", GgmlType.Q8_0, 2048, 8192));
            expect.add(new GgufValueCheck(b + "ffn_down.weight", GgmlType.Q8_0, 8192, 2048));
        }
        expect.add(new GgufValueCheck("output_norm.weight", GgmlType.F32, 2048));
        List<HfToGguf.Planned> plan = m.plan().tensors();
        assertEquals(expect.size(), plan.size());
        long bytes = 0;
        long params = 0;
        for (int i = 0; i < plan.size(); i++) {
            assertEquals(expect.get(i).name, plan.get(i).name());
            assertEquals(expect.get(i).type, plan.get(i).type(), expect.get(i).name);
            assertArrayEquals(expect.get(i).ne, plan.get(i).ne(), expect.get(i).name);
            long n = RandomGguf.elements(expect.get(i).ne);
            params += n;
            bytes += expect.get(i).type.byteSize(n);
        }
        assertEquals(1_235_814_432L, params); // Llama-3.2-1B: 1.24 B parameters (+ 32 rope factors)
        assertEquals(bytes, m.tensorBytes());
        // llama3 rope factors for factor 32: 1 for the highest frequencies, 32 for the lowest
        float[] rf = ((HfToGguf.Generated) plan.getFirst().source()).data();
        assertEquals(1f, rf[0]);
        assertEquals(32f, rf[31]);
        assertEquals(plan.size(), m.table().size());

        // Q4_K: the tied embedding doubles as the output and is Q6_K
        RandomGguf.Model q4 = RandomGguf.plan("llama-3.2-1b", ConvertType.Q4_K, null, warnings::add);
        assertEquals(GgmlType.Q6_K, q4.plan().tensors().get(1).type());
        assertEquals(GgmlType.Q4_K, q4.plan().tensors().get(3).type());
    }

    @Test
    void builtInShapesTakeTheRealTokenizers() throws IOException {
        vocab("llama3");
        RandomGguf.Model l = RandomGguf.plan("llama-3.1-8b", ConvertType.Q4_K, null, warnings::add);
        assertEquals(128256, l.metadata().get("tokenizer.ggml.tokens").length());
        assertEquals("gpt2", l.metadata().get("tokenizer.ggml.model").asString());
        assertTrue(l.plan().tensors().stream().anyMatch(p -> p.name().equals("output.weight")));
        assertEquals(32 * 9 + 4, l.tensorCount());
        RandomGguf.Model q = RandomGguf.plan("qwen3-0.6b", ConvertType.Q8_0, null, warnings::add);
        assertEquals(151936, q.metadata().get("tokenizer.ggml.tokens").length());
        assertEquals(28, q.metadata().get("qwen3.block_count").asLong());
        assertEquals(128, q.metadata().get("qwen3.attention.key_length").asLong());
        assertTrue(q.vocab().toString().endsWith("regen-vocab-qwen3.gguf"));
        assertEquals(List.of(), warnings);
    }

    record GgufValueCheck(String name, GgmlType type, long... ne) {
    }
}
