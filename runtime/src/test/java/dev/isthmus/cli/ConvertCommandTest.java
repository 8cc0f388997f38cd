package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus convert}: output line, progress on stderr, one-line errors and exit codes. */
class ConvertCommandTest {
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

    Path qwen3() throws IOException {
        Path hf = Files.createDirectories(dir.resolve("qwen3"));
        Files.writeString(hf.resolve("config.json"), """
                {"model_type":"qwen3","hidden_size":32,"intermediate_size":32,"num_hidden_layers":1,"head_dim":16,
                 "num_attention_heads":2,"num_key_value_heads":1,"vocab_size":4,"max_position_embeddings":64,
                 "rms_norm_eps":1e-6,"tie_word_embeddings":true}
                """);
        String[][] tensors = {
            {"model.embed_tokens.weight", "4,32"}, {"model.layers.0.input_layernorm.weight", "32"},
            {"model.layers.0.self_attn.q_proj.weight", "32,32"}, {"model.layers.0.self_attn.k_proj.weight", "16,32"},
            {"model.layers.0.self_attn.v_proj.weight", "16,32"}, {"model.layers.0.self_attn.o_proj.weight", "32,32"},
            {"model.layers.0.self_attn.q_norm.weight", "16"}, {"model.layers.0.self_attn.k_norm.weight", "16"},
            {"model.layers.0.post_attention_layernorm.weight", "32"}, {"model.layers.0.mlp.gate_proj.weight", "32,32"},
            {"model.layers.0.mlp.up_proj.weight", "32,32"}, {"model.layers.0.mlp.down_proj.weight", "32,32"},
            {"model.norm.weight", "32"}};
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        for (String[] t : tensors) {
            long n = 1;
            for (String d : t[1].split(",")) {
                n *= Long.parseLong(d);
            }
            h.append(h.length() > 1 ? "," : "").append('"').append(t[0]).append("\":{\"dtype\":\"F32\",\"shape\":[")
                    .append(t[1]).append("],\"data_offsets\":[").append(off).append(',').append(off + 4 * n).append("]}");
            off += 4 * n;
        }
        h.append('}');
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate((int) (8 + hb.length + off)).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(hb.length).put(hb);
        while (bb.hasRemaining()) {
            bb.putFloat(0.25f);
        }
        Files.write(hf.resolve("model.safetensors"), bb.array());
        return hf;
    }

    @Test
    void convertsAndReports() throws IOException {
        Path hf = qwen3();
        Path out = dir.resolve("q.gguf");
        Result r = run("convert", hf.toString(), "--out", out.toString(), "--type", "q8_0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("qwen3") && r.out().contains("q8_0"), r.out());
        assertTrue(r.err().contains("warning: no tokenizer.json"), r.err());
        assertTrue(r.err().contains("converting:") && r.err().contains("100%"), r.err());
        assertTrue(Files.size(out) > 0);

        Result again = run("convert", hf.toString(), "--out", out.toString());
        assertEquals(1, again.code());
        assertEquals(1, again.err().strip().lines().count(), again.err());
        assertTrue(again.err().startsWith("isthmus: ") && again.err().contains("--force"), again.err());
        assertEquals(0, run("convert", hf.toString(), "--out", out.toString(), "--force").code());
    }

    @Test
    void usageAndInputErrors() {
        Result bad = run("convert", dir.toString(), "--out", dir.resolve("x.gguf").toString(), "--type", "q5_k");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("unknown type 'q5_k'"), bad.err());
        Result noConfig = run("convert", dir.toString(), "--out", dir.resolve("x.gguf").toString());
        assertEquals(1, noConfig.code());
        assertTrue(noConfig.err().contains("no config.json"), noConfig.err());
        assertEquals(2, run("convert", dir.toString()).code(), "--out is required");
    }
}
