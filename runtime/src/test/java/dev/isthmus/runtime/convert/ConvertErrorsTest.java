package dev.isthmus.runtime.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The converter's refusals: missing config, unsupported type, missing tensor, existing output, partial output. */
class ConvertErrorsTest {
    @TempDir
    Path tmp;

    final List<String> warnings = new ArrayList<>();

    HfFolder tinyLlama(String name) throws IOException {
        HfFolder f = new HfFolder(tmp.resolve(name));
        f.config("""
                {"model_type":"llama","hidden_size":64,"intermediate_size":64,"num_hidden_layers":1,
                 "num_attention_heads":2,"num_key_value_heads":2,"vocab_size":8,"max_position_embeddings":128,
                 "rms_norm_eps":1e-5}
                """);
        f.add("model.embed_tokens.weight", 8, 64);
        String p = "model.layers.0.";
        f.add(p + "input_layernorm.weight", 64);
        f.add(p + "self_attn.q_proj.weight", 64, 64);
        f.add(p + "self_attn.k_proj.weight", 64, 64);
        f.add(p + "self_attn.v_proj.weight", 64, 64);
        f.add(p + "self_attn.o_proj.weight", 64, 64);
        f.add(p + "post_attention_layernorm.weight", 64);
        f.add(p + "mlp.gate_proj.weight", 64, 64);
        f.add(p + "mlp.up_proj.weight", 64, 64);
        f.add(p + "mlp.down_proj.weight", 64, 64);
        f.add("model.norm.weight", 64);
        return f;
    }

    void convert(HfFolder f, Path out, ConvertType type, boolean force) throws IOException {
        HfToGguf.convert(new HfToGguf.Options(f.dir, out, type, force), warnings::add, null);
    }

    @Test
    void missingConfig() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("empty"));
        var e = assertThrows(IllegalArgumentException.class, () -> convert(f, tmp.resolve("o.gguf"), ConvertType.F16, false));
        assertTrue(e.getMessage().contains("no config.json"), e.getMessage());
    }

    @Test
    void unsupportedModelTypeIsNamedWithTheSupportedList() throws IOException {
        HfFolder f = new HfFolder(tmp.resolve("bert")).config("{\"model_type\":\"bert\"}");
        var e = assertThrows(IllegalArgumentException.class, () -> convert(f, tmp.resolve("o.gguf"), ConvertType.F16, false));
        assertTrue(e.getMessage().contains("'bert'"), e.getMessage());
        assertTrue(e.getMessage().contains("qwen3") && e.getMessage().contains("phi3"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        HfFolder f = tinyLlama("partial");
        f.tensors.remove("model.layers.0.mlp.up_proj.weight");
        f.writeSafetensors();
        var e = assertThrows(IllegalArgumentException.class, () -> convert(f, tmp.resolve("o.gguf"), ConvertType.F16, false));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj.weight"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("o.gguf")));
    }

    @Test
    void unknownTensorsAreSkippedWithAWarning() throws IOException {
        HfFolder f = tinyLlama("extra");
        f.add("model.layers.0.mlp.mystery.weight", 4, 4);
        f.writeSafetensors();
        Path out = tmp.resolve("o.gguf");
        convert(f, out, ConvertType.F32, false);
        assertTrue(warnings.stream().anyMatch(w -> w.contains("model.layers.0.mlp.mystery.weight")), warnings.toString());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(11, g.tensors().size());
        }
    }

    @Test
    void existingOutputNeedsForce() throws IOException {
        HfFolder f = tinyLlama("force");
        f.writeSafetensors();
        Path out = tmp.resolve("o.gguf");
        Files.writeString(out, "keep me");
        var e = assertThrows(IllegalArgumentException.class, () -> convert(f, out, ConvertType.F16, false));
        assertTrue(e.getMessage().contains("--force"), e.getMessage());
        assertEquals("keep me", Files.readString(out));
        convert(f, out, ConvertType.F16, true);
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals("llama", g.architecture());
        }
    }

    @Test
    void failureMidWriteLeavesNoPartialFile() throws IOException {
        HfFolder f = tinyLlama("nan");
        f.tensors.get("model.layers.0.mlp.down_proj.weight").data()[100] = Float.NaN;
        f.writeSafetensors();
        Path out = tmp.resolve("o.gguf");
        assertThrows(IllegalArgumentException.class, () -> convert(f, out, ConvertType.Q8_0, false));
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("o.gguf.part")));
    }

    @Test
    void sentencePieceOnlyFolderConvertsWeightsAndWarns() throws IOException {
        HfFolder f = tinyLlama("spm");
        f.writeSafetensors();
        Files.write(f.dir.resolve("tokenizer.model"), new byte[] {1, 2, 3});
        Path out = tmp.resolve("o.gguf");
        convert(f, out, ConvertType.F16, false);
        assertTrue(warnings.stream().anyMatch(w -> w.contains("tokenizer.model")), warnings.toString());
        try (GgufFile g = GgufFile.open(out)) {
            assertFalse(g.get("tokenizer.ggml.model").isPresent());
        }
    }

    @Test
    void permutationFormulaMatchesReshapeSwapaxes() {
        // reshape(heads, 2, hd/2).swapaxes(1, 2): output index (h, i, j) = input index (h, j, i)
        int heads = 3;
        int hd = 8;
        int rows = heads * hd;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < hd / 2; i++) {
                for (int j = 0; j < 2; j++) {
                    long outRow = h * hd + i * 2 + j;
                    long inRow = h * hd + j * (hd / 2) + i;
                    assertEquals(inRow, Family.permutedRow(outRow, rows, heads));
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Family.permutedRow(0, 10, 3));
    }

    @Test
    void namesTableRoundTrips() {
        TensorNames n = Family.GEMMA3.names();
        assertEquals("blk.7.post_ffw_norm.weight", n.toGguf("model.layers.7.post_feedforward_layernorm.weight").orElseThrow());
        assertEquals("model.layers.7.self_attn.k_norm.weight", n.toHf("blk.7.attn_k_norm.weight").orElseThrow());
        assertEquals("model.layers.2.mlp.gate_up_proj.weight", Family.PHI3.names().toHf("blk.2.ffn_up.weight").orElseThrow());
        assertEquals("model.layers.0.self_attn.q_proj.weight",
                Family.normalize("model.language_model.layers.0.self_attn.q_proj.weight").orElseThrow());
        assertEquals("lm_head.weight", Family.normalize("language_model.lm_head.weight").orElseThrow());
        assertTrue(Family.normalize("model.vision_tower.blocks.0.weight").isEmpty());
        assertEquals(Family.LLAMA, Family.ofModelType("mistral3").orElseThrow());
        assertEquals(Family.OLMO2, Family.ofModelType("olmo3").orElseThrow());
    }
}
