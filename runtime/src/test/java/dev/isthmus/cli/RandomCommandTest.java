package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus random}: help, dry run, output line, one-line errors and exit codes. */
class RandomCommandTest {
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

    Path tinyQwen3() throws IOException {
        Path cfg = Files.createDirectories(dir.resolve("qwen3")).resolve("config.json");
        Files.writeString(cfg, """
                {"model_type":"qwen3","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"head_dim":32,
                 "num_attention_heads":2,"num_key_value_heads":1,"vocab_size":8,"max_position_embeddings":64,
                 "rms_norm_eps":1e-6,"tie_word_embeddings":true}
                """);
        return cfg;
    }

    @Test
    void helpSaysSpeedOnly() {
        Result r = run("random", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("SPEED") && r.out().contains("--like"), r.out());
    }

    @Test
    void dryRunPrintsTheTable() {
        Result r = run("random", "--like", "llama-3.2-1b", "--type", "q8_0", "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("blk.15.ffn_down.weight"), r.out());
        assertTrue(r.out().contains("147 tensors"), r.out());
        assertTrue(r.out().contains("1,313,251,456 bytes"), r.out());
    }

    @Test
    void writesAndRefusesExistingOut() throws IOException {
        Path cfg = tinyQwen3();
        Path out = dir.resolve("r.gguf");
        Result r = run("random", "--like", cfg.toString(), "--type", "q8_0", "--out", out.toString(), "--seed", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("wrote " + out + ": qwen3 (random weights, seed 3), 13 tensors"), r.out());
        assertTrue(r.err().contains("generating:"), r.err());
        r = run("random", "--like", cfg.toString(), "--type", "q8_0", "--out", out.toString());
        assertEquals(1, r.code());
        assertEquals("isthmus: " + out + " exists (use --force to replace it)", r.err().strip());
        assertFalse(Files.exists(dir.resolve("r.gguf.part")));
    }

    @Test
    void unknownLikeAndBadType() {
        Result r = run("random", "--like", "gpt-5", "--type", "q8_0", "--out", dir.resolve("x.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("isthmus: unknown shape 'gpt-5' (built in: llama-3.2-1b, qwen3-0.6b, llama-3.1-8b"),
                r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        r = run("random", "--like", "llama-3.2-1b", "--type", "q5_9", "--out", dir.resolve("x.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("isthmus: unknown type 'q5_9'"), r.err());
        assertFalse(Files.exists(dir.resolve("x.gguf")));
        r = run("random", "--like", "llama-3.2-1b", "--type", "q8_0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--out"), r.err());
    }
}
