package dev.isthmus.runtime.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.quant.Dequantize;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Converts tiny HF folders of each tested family with every output type and checks the GGUF. */
class ConvertFamiliesTest {
    @TempDir
    Path tmp;

    final List<String> warnings = new ArrayList<>();

    GgufFile convert(HfFolder f, ConvertType type) throws IOException {
        Path out = tmp.resolve("out-" + type + ".gguf");
        HfToGguf.convert(new HfToGguf.Options(f.dir, out, type, false), warnings::add, null);
        return GgufFile.open(out);
    }

    static float[] floats(GgufFile g, String name) {
        GgufTensorInfo t = g.tensor(name).orElseThrow();
        return Dequantize.toFloats(t.type(), g.tensorData(t), t.elementCount());
    }

    static void assertShape(GgufFile g, String name, long... ne) {
        assertArrayEquals(ne, g.tensor(name).orElseThrow(() -> new AssertionError("no tensor " + name)).shape(), name);
    }

    static GgmlType type(GgufFile g, String name) {
        return g.tensor(name).orElseThrow().type();
    }

    /** Largest |a - b| relative to the largest |b|. */
    static double relErr(float[] a, float[] b) {
        double max = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return max / scale;
    }

    // ------------------------------------------------------------------------------------ llama

    static final int L_EMBD = 256;
    static final int L_HEADS = 4;
    static final int L_KV = 2;
    static final int L_HD = 64;
    static final int L_FF = 512;
    static final int L_VOCAB = 32;

    HfFolder llama() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("Tiny-Llama-3"));
        f.config("""
                {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":1,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000.0,
                 "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                                 "original_max_position_embeddings":8192,"rope_type":"llama3"},
                 "bos_token_id":8,"eos_token_id":9,"tie_word_embeddings":false}
                """.formatted(L_EMBD, L_FF, L_HEADS, L_KV, L_VOCAB));
        f.add("model.embed_tokens.weight", L_VOCAB, L_EMBD);
        f.add("model.layers.0.input_layernorm.weight", L_EMBD);
        f.add("model.layers.0.self_attn.q_proj.weight", L_HEADS * L_HD, L_EMBD);
        f.add("model.layers.0.self_attn.k_proj.weight", L_KV * L_HD, L_EMBD);
        f.add("model.layers.0.self_attn.v_proj.weight", true, L_KV * L_HD, L_EMBD);
        f.add("model.layers.0.self_attn.o_proj.weight", L_EMBD, L_HEADS * L_HD);
        f.add("model.layers.0.post_attention_layernorm.weight", L_EMBD);
        f.add("model.layers.0.mlp.gate_proj.weight", L_FF, L_EMBD);
        f.add("model.layers.0.mlp.up_proj.weight", L_FF, L_EMBD);
        f.add("model.layers.0.mlp.down_proj.weight", L_EMBD, L_FF);
        f.add("model.norm.weight", L_EMBD);
        f.add("lm_head.weight", L_VOCAB, L_EMBD);
        f.add("model.rotary_emb.inv_freq", L_HD / 2);
        return f.writeSafetensors().writeTokenizer();
    }

    @ParameterizedTest
    @EnumSource(ConvertType.class)
    void llamaWithLlama3RopeScaling(ConvertType type) throws IOException {
        HfFolder f = llama();
        try (GgufFile g = convert(f, type)) {
            assertEquals("llama", g.architecture());
            assertEquals("Tiny-Llama-3", g.getString("general.name").orElseThrow());
            assertEquals(type.fileType(), g.getLong("general.file_type").orElseThrow());
            assertEquals(2, g.getLong("general.quantization_version").orElseThrow());
            assertEquals(131072, g.getLong("llama.context_length").orElseThrow());
            assertEquals(L_EMBD, g.getLong("llama.embedding_length").orElseThrow());
            assertEquals(1, g.getLong("llama.block_count").orElseThrow());
            assertEquals(L_FF, g.getLong("llama.feed_forward_length").orElseThrow());
            assertEquals(L_HEADS, g.getLong("llama.attention.head_count").orElseThrow());
            assertEquals(L_KV, g.getLong("llama.attention.head_count_kv").orElseThrow());
            assertEquals(L_VOCAB, g.getLong("llama.vocab_size").orElseThrow());
            assertEquals(L_HD, g.getLong("llama.rope.dimension_count").orElseThrow());
            assertEquals(500000f, (float) g.get("llama.rope.freq_base").orElseThrow().asDouble());
            assertEquals(1e-5f, (float) g.get("llama.attention.layer_norm_rms_epsilon").orElseThrow().asDouble());
            assertFalse(g.get("llama.rope.scaling.type").isPresent(), "llama3 scaling is the rope_freqs tensor only");

            List<String> names = g.tensors().stream().map(GgufTensorInfo::name).toList();
            assertEquals(List.of("rope_freqs.weight", "token_embd.weight", "blk.0.attn_norm.weight",
                    "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
                    "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight",
                    "output_norm.weight", "output.weight"), names);
            assertShape(g, "token_embd.weight", L_EMBD, L_VOCAB);
            assertShape(g, "blk.0.attn_q.weight", L_EMBD, L_HEADS * L_HD);
            assertShape(g, "blk.0.attn_k.weight", L_EMBD, L_KV * L_HD);
            assertShape(g, "blk.0.ffn_down.weight", L_FF, L_EMBD);
            assertShape(g, "blk.0.attn_norm.weight", L_EMBD);
            assertShape(g, "rope_freqs.weight", L_HD / 2);

            assertEquals(GgmlType.F32, type(g, "blk.0.attn_norm.weight"));
            assertEquals(GgmlType.F32, type(g, "output_norm.weight"));
            assertEquals(GgmlType.F32, type(g, "rope_freqs.weight"));
            assertEquals(type.weightType(), type(g, "blk.0.attn_q.weight"));
            assertEquals(type.weightType(), type(g, "token_embd.weight"));
            GgmlType outType = switch (type) {
                case Q4_0, Q4_K, Q6_K -> GgmlType.Q6_K;
                default -> type.weightType();
            };
            assertEquals(outType, type(g, "output.weight"));

            float[] rf = floats(g, "rope_freqs.weight");
            assertEquals(1f, rf[0], "highest frequency is not scaled");
            assertEquals(8f, rf[rf.length - 1], "lowest frequency is scaled by factor");
            assertArrayEquals(HfToGguf.llama3RopeFactors(
                    dev.isthmus.hf.HfConfig.read(f.dir.resolve("config.json")).ropeParameters(), L_HD), rf);

            // the Q/K permutation: GGUF row 1 of q is HF row 32 (head 0, pair 0, second half); of k, row 65 is HF row 96
            float[] q = floats(g, "blk.0.attn_q.weight");
            float[] k = floats(g, "blk.0.attn_k.weight");
            HfFolder.T hq = f.tensors.get("model.layers.0.self_attn.q_proj.weight");
            HfFolder.T hk = f.tensors.get("model.layers.0.self_attn.k_proj.weight");
            assertEquals(32, Family.permutedRow(1, L_HEADS * L_HD, L_HEADS));
            assertEquals(96, Family.permutedRow(65, L_KV * L_HD, L_KV));
            float[] hqPermuted = new float[q.length];
            for (int r = 0; r < L_HEADS * L_HD; r++) {
                System.arraycopy(hq.data(), (int) Family.permutedRow(r, L_HEADS * L_HD, L_HEADS) * L_EMBD,
                        hqPermuted, r * L_EMBD, L_EMBD);
            }
            if (type == ConvertType.F32) {
                assertEquals(hq.at(32, 5), q[L_EMBD + 5]);
                assertEquals(hq.at(0, 7), q[7]);
                assertEquals(hq.at(1, 7), q[2 * L_EMBD + 7]);
                assertEquals(hk.at(96, 3), k[65 * L_EMBD + 3]);
                assertArrayEquals(hqPermuted, q);
                assertArrayEquals(f.tensors.get("model.embed_tokens.weight").data(), floats(g, "token_embd.weight"));
                assertArrayEquals(f.tensors.get("model.layers.0.self_attn.v_proj.weight").data(), floats(g, "blk.0.attn_v.weight"));
                assertArrayEquals(f.tensors.get("model.layers.0.input_layernorm.weight").data(), floats(g, "blk.0.attn_norm.weight"));
                assertArrayEquals(f.tensors.get("model.layers.0.mlp.down_proj.weight").data(), floats(g, "blk.0.ffn_down.weight"));
            } else {
                double tol = switch (type) {
                    case F16, BF16 -> 0.01;
                    case Q8_0 -> 0.02;
                    case Q6_K -> 0.05;
                    default -> 0.25;
                };
                assertTrue(relErr(q, hqPermuted) < tol, type + " q error " + relErr(q, hqPermuted));
                float[] down = f.tensors.get("model.layers.0.mlp.down_proj.weight").data();
                assertTrue(relErr(floats(g, "blk.0.ffn_down.weight"), down) < tol, type + " ffn_down");
            }

            // tokenizer
            assertEquals("gpt2", g.getString("tokenizer.ggml.model").orElseThrow());
            assertEquals("llama-bpe", g.getString("tokenizer.ggml.pre").orElseThrow());
            List<String> tokens = g.get("tokenizer.ggml.tokens").orElseThrow().strings();
            assertEquals(L_VOCAB, tokens.size());
            assertEquals("ab", tokens.get(3));
            assertEquals("<|begin_of_text|>", tokens.get(8));
            assertEquals("[PAD10]", tokens.get(10));
            int[] tt = g.get("tokenizer.ggml.token_type").orElseThrow().ints();
            assertEquals(HfTokenizer.NORMAL, tt[3]);
            assertEquals(HfTokenizer.CONTROL, tt[8]);
            assertEquals(HfTokenizer.UNUSED, tt[31]);
            assertEquals(List.of("a b", "ab c"), g.get("tokenizer.ggml.merges").orElseThrow().strings());
            assertEquals(8, g.getLong("tokenizer.ggml.bos_token_id").orElseThrow());
            assertEquals(9, g.getLong("tokenizer.ggml.eos_token_id").orElseThrow());
            assertTrue(g.get("tokenizer.ggml.add_bos_token").orElseThrow().asBoolean());
            assertFalse(g.get("tokenizer.ggml.add_eos_token").orElseThrow().asBoolean());
            assertEquals("{{ messages[0].content }}", g.getString("tokenizer.chat_template").orElseThrow());
        }
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    // ------------------------------------------------------------------------------------ qwen2

    HfFolder qwen2() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("qwen2"));
        f.config("""
                {"model_type":"qwen2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                 "num_attention_heads":2,"num_key_value_heads":1,"vocab_size":16,"max_position_embeddings":4096,
                 "rms_norm_eps":1e-6,"rope_theta":1000000.0,"use_sliding_window":false,"sliding_window":4096,
                 "tie_word_embeddings":true}
                """);
        f.add("model.embed_tokens.weight", 16, 64);
        for (int i = 0; i < 2; i++) {
            String p = "model.layers." + i + ".";
            f.add(p + "input_layernorm.weight", 64);
            f.add(p + "self_attn.q_proj.weight", 64, 64);
            f.add(p + "self_attn.q_proj.bias", 64);
            f.add(p + "self_attn.k_proj.weight", 32, 64);
            f.add(p + "self_attn.k_proj.bias", 32);
            f.add(p + "self_attn.v_proj.weight", 32, 64);
            f.add(p + "self_attn.v_proj.bias", 32);
            f.add(p + "self_attn.o_proj.weight", 64, 64);
            f.add(p + "post_attention_layernorm.weight", 64);
            f.add(p + "mlp.gate_proj.weight", 128, 64);
            f.add(p + "mlp.up_proj.weight", 128, 64);
            f.add(p + "mlp.down_proj.weight", 64, 128);
        }
        f.add("model.norm.weight", 64);
        return f.writeSafetensors().writeTokenizer();
    }

    @ParameterizedTest
    @EnumSource(ConvertType.class)
    void qwen2WithBiases(ConvertType type) throws IOException {
        HfFolder f = qwen2();
        try (GgufFile g = convert(f, type)) {
            assertEquals("qwen2", g.architecture());
            assertEquals(2, g.getLong("qwen2.block_count").orElseThrow());
            assertEquals(1, g.getLong("qwen2.attention.head_count_kv").orElseThrow());
            assertEquals(1e6f, (float) g.get("qwen2.rope.freq_base").orElseThrow().asDouble());
            assertFalse(g.get("qwen2.attention.key_length").isPresent(), "no head_dim in config");
            assertFalse(g.tensor("output.weight").isPresent(), "tied embeddings: no output tensor");
            for (String b : List.of("attn_q", "attn_k", "attn_v")) {
                String name = "blk.1." + b + ".bias";
                assertEquals(GgmlType.F32, type(g, name));
                String hf = "model.layers.1.self_attn." + b.charAt(5) + "_proj.bias";
                assertArrayEquals(f.tensors.get(hf).data(), floats(g, name), "qwen2 biases are not permuted");
            }
            assertShape(g, "blk.1.attn_k.bias", 32);
            assertShape(g, "blk.0.ffn_up.weight", 64, 128);
            // rows of 64: q4_k and q6_k do not fit (256) and fall back to q8_0; q4_0/q8_0 fit
            GgmlType expected = switch (type) {
                case Q4_K, Q6_K -> GgmlType.Q8_0;
                default -> type.weightType();
            };
            assertEquals(expected, type(g, "blk.0.attn_q.weight"));
            assertEquals(expected == GgmlType.Q4_0 ? GgmlType.Q8_0 : expected, type(g, "token_embd.weight"),
                    "the tied embedding is the output: Q6_K wanted, Q8_0 fits");
            if (type == ConvertType.F32) {
                assertArrayEquals(f.tensors.get("model.layers.0.self_attn.q_proj.weight").data(), floats(g, "blk.0.attn_q.weight"),
                        "qwen2 is not permuted");
            }
            if (type == ConvertType.Q8_0) {
                float[] src = f.tensors.get("model.layers.1.mlp.up_proj.weight").data();
                assertTrue(relErr(floats(g, "blk.1.ffn_up.weight"), src) < 0.02);
            }
        }
        if (type == ConvertType.Q4_K || type == ConvertType.Q6_K) {
            assertTrue(warnings.stream().anyMatch(w -> w.contains("blk.0.attn_q.weight") && w.contains("Q8_0")), warnings.toString());
        }
    }

    // ------------------------------------------------------------------------------------ gemma2

    HfFolder gemma2() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("gemma2"));
        f.config("""
                {"model_type":"gemma2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
                 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"vocab_size":16,
                 "max_position_embeddings":8192,"rms_norm_eps":1e-6,"rope_theta":10000.0,
                 "attn_logit_softcapping":50.0,"final_logit_softcapping":30.0,"sliding_window":4096,
                 "query_pre_attn_scalar":32}
                """);
        f.add("model.embed_tokens.weight", 16, 64);
        String p = "model.layers.0.";
        f.add(p + "input_layernorm.weight", 64);
        f.add(p + "self_attn.q_proj.weight", 64, 64);
        f.add(p + "self_attn.k_proj.weight", 32, 64);
        f.add(p + "self_attn.v_proj.weight", 32, 64);
        f.add(p + "self_attn.o_proj.weight", 64, 64);
        f.add(p + "post_attention_layernorm.weight", 64);
        f.add(p + "pre_feedforward_layernorm.weight", 64);
        f.add(p + "post_feedforward_layernorm.weight", 64);
        f.add(p + "mlp.gate_proj.weight", 128, 64);
        f.add(p + "mlp.up_proj.weight", 128, 64);
        f.add(p + "mlp.down_proj.weight", 64, 128);
        f.add("model.norm.weight", 64);
        return f.writeSafetensors();
    }

    @ParameterizedTest
    @EnumSource(ConvertType.class)
    void gemma2SandwichNorms(ConvertType type) throws IOException {
        HfFolder f = gemma2();
        try (GgufFile g = convert(f, type)) {
            assertEquals("gemma2", g.architecture());
            assertEquals(50f, (float) g.get("gemma2.attn_logit_softcapping").orElseThrow().asDouble());
            assertEquals(30f, (float) g.get("gemma2.final_logit_softcapping").orElseThrow().asDouble());
            assertEquals(4096, g.getLong("gemma2.attention.sliding_window").orElseThrow());
            assertArrayEquals(new boolean[] {true}, g.get("gemma2.attention.sliding_window_pattern").orElseThrow().booleans());
            assertFalse(g.get("gemma2.attention.scale").isPresent(), "query_pre_attn_scalar == head_dim: no scale key");
            assertEquals(32, g.getLong("gemma2.attention.key_length").orElseThrow());
            assertEquals(32, g.getLong("gemma2.attention.value_length").orElseThrow());
            assertFalse(g.get("tokenizer.ggml.model").isPresent());
            String[][] norms = {
                {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
                {"blk.0.post_attention_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
                {"blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight"},
                {"blk.0.post_ffw_norm.weight", "model.layers.0.post_feedforward_layernorm.weight"},
                {"output_norm.weight", "model.norm.weight"}};
            for (String[] n : norms) {
                assertEquals(GgmlType.F32, type(g, n[0]));
                float[] src = f.tensors.get(n[1]).data();
                float[] got = floats(g, n[0]);
                for (int i = 0; i < src.length; i++) {
                    assertEquals(src[i] + 1f, got[i], n[0] + " is written as w + 1");
                }
            }
            if (type == ConvertType.F32) {
                assertArrayEquals(f.tensors.get("model.layers.0.self_attn.k_proj.weight").data(), floats(g, "blk.0.attn_k.weight"),
                        "gemma2 is not permuted");
            }
        }
        assertTrue(warnings.stream().anyMatch(w -> w.contains("no tokenizer.json")), warnings.toString());
    }

    // ------------------------------------------------------------------------------------ phi3

    HfFolder phi3() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("phi3"));
        StringBuilder lf = new StringBuilder();
        StringBuilder sf = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            lf.append(i == 0 ? "" : ",").append(1.0 + i);
            sf.append(i == 0 ? "" : ",").append(1.0 + i / 100.0);
        }
        f.config("""
                {"model_type":"phi3","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
                 "num_attention_heads":2,"num_key_value_heads":2,"vocab_size":16,"max_position_embeddings":131072,
                 "original_max_position_embeddings":4096,"rms_norm_eps":1e-5,"rope_theta":10000.0,
                 "rope_scaling":{"type":"longrope","long_factor":[%s],"short_factor":[%s]},
                 "sliding_window":262144,"tie_word_embeddings":false}
                """.formatted(lf, sf));
        f.add("model.embed_tokens.weight", 16, 64);
        String p = "model.layers.0.";
        f.add(p + "input_layernorm.weight", 64);
        f.add(p + "self_attn.qkv_proj.weight", 192, 64);
        f.add(p + "self_attn.o_proj.weight", 64, 64);
        f.add(p + "post_attention_layernorm.weight", 64);
        f.add(p + "mlp.gate_up_proj.weight", 256, 64);
        f.add(p + "mlp.down_proj.weight", 64, 128);
        f.add("model.norm.weight", 64);
        f.add("lm_head.weight", 16, 64);
        return f.writeSafetensors().writeTokenizer();
    }

    @ParameterizedTest
    @EnumSource(ConvertType.class)
    void phi3FusedQkvAndLongRope(ConvertType type) throws IOException {
        HfFolder f = phi3();
        try (GgufFile g = convert(f, type)) {
            assertEquals("phi3", g.architecture());
            assertEquals(131072, g.getLong("phi3.context_length").orElseThrow());
            assertEquals(4096, g.getLong("phi3.rope.scaling.original_context_length").orElseThrow());
            assertEquals(32, g.getLong("phi3.rope.dimension_count").orElseThrow());
            assertEquals(262144, g.getLong("phi3.attention.sliding_window").orElseThrow());
            double scale = 131072.0 / 4096;
            assertEquals((float) Math.sqrt(1 + Math.log(scale) / Math.log(4096)),
                    (float) g.get("phi3.rope.scaling.attn_factor").orElseThrow().asDouble());
            assertShape(g, "blk.0.attn_qkv.weight", 64, 192);
            assertShape(g, "blk.0.ffn_up.weight", 64, 256);
            assertShape(g, "blk.0.ffn_down.weight", 128, 64);
            assertShape(g, "rope_factors_long.weight", 16);
            assertShape(g, "rope_factors_short.weight", 16);
            assertEquals(16f, floats(g, "rope_factors_long.weight")[15]);
            assertEquals(1.15f, floats(g, "rope_factors_short.weight")[15]);
            assertFalse(g.tensor("blk.0.attn_q.weight").isPresent());
            assertTrue(g.tensor("blk.0.ffn_norm.weight").isPresent());
            if (type == ConvertType.F32) {
                assertArrayEquals(f.tensors.get("model.layers.0.self_attn.qkv_proj.weight").data(), floats(g, "blk.0.attn_qkv.weight"));
                assertArrayEquals(f.tensors.get("model.layers.0.mlp.gate_up_proj.weight").data(), floats(g, "blk.0.ffn_up.weight"));
            }
        }
    }

    @Test
    void olmo3IsOlmo2WithSlidingWindowPattern() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("olmo3"));
        f.config("""
                {"model_type":"olmo3","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                 "num_attention_heads":2,"num_key_value_heads":2,"vocab_size":16,"max_position_embeddings":65536,
                 "rms_norm_eps":1e-6,"rope_theta":500000.0,"sliding_window":4096,
                 "layer_types":["sliding_attention","full_attention"]}
                """);
        f.add("model.embed_tokens.weight", 16, 64);
        for (int i = 0; i < 2; i++) {
            String p = "model.layers." + i + ".";
            f.add(p + "self_attn.q_proj.weight", 64, 64);
            f.add(p + "self_attn.k_proj.weight", 64, 64);
            f.add(p + "self_attn.v_proj.weight", 64, 64);
            f.add(p + "self_attn.o_proj.weight", 64, 64);
            f.add(p + "self_attn.q_norm.weight", 64);
            f.add(p + "self_attn.k_norm.weight", 64);
            f.add(p + "post_attention_layernorm.weight", 64);
            f.add(p + "post_feedforward_layernorm.weight", 64);
            f.add(p + "mlp.gate_proj.weight", 128, 64);
            f.add(p + "mlp.up_proj.weight", 128, 64);
            f.add(p + "mlp.down_proj.weight", 64, 128);
        }
        f.add("model.norm.weight", 64);
        f.add("lm_head.weight", 16, 64);
        f.writeSafetensors();
        try (GgufFile g = convert(f, ConvertType.F32)) {
            assertEquals("olmo2", g.architecture());
            assertEquals(4096, g.getLong("olmo2.attention.sliding_window").orElseThrow());
            boolean[] pattern = g.get("olmo2.attention.sliding_window_pattern").orElseThrow().booleans();
            assertArrayEquals(new boolean[] {true, false}, pattern);
            assertTrue(g.tensor("blk.1.attn_q_norm.weight").isPresent());
            assertTrue(g.tensor("blk.1.post_ffw_norm.weight").isPresent());
            assertFalse(g.tensor("blk.1.attn_norm.weight").isPresent());
        }
    }

    @Test
    void ministralKeepsItsSlidingLayers() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("ministral"));
        f.config("""
                {"model_type":"ministral","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                 "num_attention_heads":2,"num_key_value_heads":2,"vocab_size":16,"max_position_embeddings":4096,
                 "rms_norm_eps":1e-6,"rope_theta":100000000.0,"sliding_window":32,
                 "layer_types":["sliding_attention","full_attention"]}
                """);
        f.add("model.embed_tokens.weight", 16, 64);
        for (int i = 0; i < 2; i++) {
            String p = "model.layers." + i + ".";
            f.add(p + "input_layernorm.weight", 64);
            f.add(p + "self_attn.q_proj.weight", 64, 64);
            f.add(p + "self_attn.k_proj.weight", 64, 64);
            f.add(p + "self_attn.v_proj.weight", 64, 64);
            f.add(p + "self_attn.o_proj.weight", 64, 64);
            f.add(p + "post_attention_layernorm.weight", 64);
            f.add(p + "mlp.gate_proj.weight", 128, 64);
            f.add(p + "mlp.up_proj.weight", 128, 64);
            f.add(p + "mlp.down_proj.weight", 64, 128);
        }
        f.add("model.norm.weight", 64);
        f.add("lm_head.weight", 16, 64);
        f.writeSafetensors();
        try (GgufFile g = convert(f, ConvertType.F32)) {
            assertEquals("llama", g.architecture());
            assertEquals(32, g.getLong("llama.attention.sliding_window").orElseThrow());
            assertArrayEquals(new boolean[] {true, false}, g.get("llama.attention.sliding_window_pattern").orElseThrow().booleans());
        }
    }

    @Test
    void gemmaKeepsAQueryScaleOtherThanTheHeadSize() throws IOException {
        HfFolder gemma = new HfFolder(tmp.resolve("gemma2-scaled"));
        gemma.config("""
                {"model_type":"gemma2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
                 "num_attention_heads":2,"num_key_value_heads":1,"head_dim":32,"vocab_size":16,
                 "max_position_embeddings":8192,"rms_norm_eps":1e-6,"rope_theta":10000.0,"query_pre_attn_scalar":24}
                """);
        HfFolder base = gemma2();
        base.tensors.forEach((n, t) -> gemma.add(n, t.shape()));
        gemma.writeSafetensors();
        try (GgufFile g = convert(gemma, ConvertType.F32)) {
            assertEquals((float) Math.pow(24, -0.5), (float) g.get("gemma2.attention.scale").orElseThrow().asDouble());
            assertFalse(g.get("gemma2.attention.sliding_window").isPresent());
        }
    }
}
