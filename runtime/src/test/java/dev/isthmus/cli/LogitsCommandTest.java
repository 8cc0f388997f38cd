package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code logits} contract, on a committed transformers fixture (tests/src/test/resources/fixtures). */
class LogitsCommandTest {
    @TempDir
    Path dir;

    static Path fixture(String name) {
        String root = System.getProperty("isthmus.root", "..");
        return Path.of(root, "tests", "src", "test", "resources", "fixtures", name);
    }

    static CliTest.Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new CliTest.Result(code, out.toString(), err.toString());
    }

    @Test
    void writesTransformersLogitsAndPrintsTheGreedyLine() throws Exception {
        Path fx = fixture("qwen3");
        String ids = Files.readString(fx.resolve("input_ids.txt")).trim();
        String tokens = Arrays.stream(ids.split("\\s+")).collect(Collectors.joining(","));
        Path out = dir.resolve("logits.f32");
        CliTest.Result r = run("logits", fx.toString(), "--tokens", tokens, "--out", out.toString(),
                "--greedy", "8", "--threads", "2");
        assertEquals(0, r.code(), r.err());
        assertEquals(Files.readString(fx.resolve("greedy.txt")).trim(), r.out().trim(), "one line of greedy ids");
        assertEquals(1, r.out().strip().lines().count());
        byte[] ours = Files.readAllBytes(out);
        byte[] theirs = Files.readAllBytes(fx.resolve("logits.f32"));
        assertEquals(theirs.length, ours.length, "[tokens, vocab] float32");
        ByteBuffer a = ByteBuffer.wrap(ours).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.wrap(theirs).order(ByteOrder.LITTLE_ENDIAN);
        double worst = 0;
        while (a.hasRemaining()) {
            worst = Math.max(worst, Math.abs(a.getFloat() - b.getFloat()));
        }
        assertTrue(worst <= 1e-3, "max |dlogit| " + worst);
    }

    @Test
    void threadsDoNotChangeTheResult() throws Exception {
        Path fx = fixture("gemma3");
        Path one = dir.resolve("one.f32");
        Path four = dir.resolve("four.f32");
        assertEquals(0, run("logits", fx.toString(), "--tokens", "5,9,200,17,3,3,8,1,250", "--out", one.toString()).code());
        assertEquals(0, run("logits", fx.toString(), "--tokens", "5,9,200,17,3,3,8,1,250", "--out", four.toString(),
                "--threads", "4").code());
        // Rows are split over the threads but each is computed by the same code, so the results agree up
        // to the order of the Vector API's lane reductions, which the JIT may change between interpreted,
        // C1 and C2 code (reduceLanes(ADD) has no specified order): equal to float rounding, not bit for
        // bit (a full test run, with other tests warming the JIT in between, once differed in the last bits).
        ByteBuffer a = ByteBuffer.wrap(Files.readAllBytes(one)).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(four)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(a.remaining(), b.remaining());
        while (a.hasRemaining()) {
            float x = a.getFloat();
            float y = b.getFloat();
            assertTrue(Math.abs(x - y) <= 1e-5f * (1 + Math.abs(x)), x + " vs " + y + " at float " + (a.position() / 4 - 1));
        }
    }

    @Test
    void badInputGivesOneLineErrorsAndNoFile() {
        Path fx = fixture("llama2");
        Path out = dir.resolve("x.f32");
        CliTest.Result vocab = run("logits", fx.toString(), "--tokens", "1,2,99999", "--out", out.toString());
        assertEquals(1, vocab.code());
        assertTrue(vocab.err().contains("99999") && vocab.err().contains("outside the vocabulary"), vocab.err());
        CliTest.Result context = run("logits", fx.toString(), "--tokens", "1,2", "--greedy", "500", "--out", out.toString());
        assertEquals(1, context.code());
        assertTrue(context.err().contains("exceed the model's context of 128"), context.err());
        CliTest.Result cuda = run("logits", fx.toString(), "--tokens", "1,2", "--backend", "cuda", "--out", out.toString());
        assertEquals(1, cuda.code());
        assertTrue(cuda.err().contains("cuda"), cuda.err());
        CliTest.Result threads = run("logits", fx.toString(), "--tokens", "1", "--threads", "-1", "--out", out.toString());
        assertEquals(1, threads.code());
        CliTest.Result missing = run("logits", dir.resolve("nope").toString(), "--tokens", "1", "--out", out.toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("no such file"), missing.err());
        assertEquals(2, run("logits", fx.toString(), "--tokens", "a,b", "--out", out.toString()).code());
        assertFalse(Files.exists(out), "no partial output");
    }
}
