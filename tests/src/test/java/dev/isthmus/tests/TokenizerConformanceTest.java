package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * llama.cpp's tokenizer test vectors ({@code ../shared/vocab}, see its README): every case of every
 * vocabulary that has a GGUF there must give exactly llama.cpp's ids (no BOS, no special parsing).
 * Skips when {@code ../shared} is absent.
 */
class TokenizerConformanceTest {
    static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    static Path vocabDir() {
        String shared = System.getProperty("isthmus.shared");
        Path dir = shared == null ? null : Path.of(shared, "vocab");
        Assumptions.assumeTrue(dir != null && Files.isDirectory(dir),
                "../shared/vocab is absent (isthmus.shared=" + shared + "): tokenizer conformance skipped");
        return dir;
    }

    static Stream<String> vocabs() throws IOException {
        String shared = System.getProperty("isthmus.shared");
        Path dir = shared == null ? null : Path.of(shared, "vocab");
        if (dir == null || !Files.isDirectory(dir)) {
            return Stream.of("(absent)");
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".gguf") && Files.isRegularFile(dir.resolve(n + ".inp")))
                    .sorted().toList().stream();
        }
    }

    /** The cases of a {@code .inp}/{@code .out} pair, in order, duplicates kept once (llama.cpp keeps them in a map). */
    static Map<String, int[]> cases(Path inp, Path out) throws IOException {
        String text = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> inputs = new ArrayList<>(Arrays.asList(text.split(SEPARATOR, -1)));
        if (text.endsWith(SEPARATOR)) {
            inputs.removeLast();
        }
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        while (lines.size() > inputs.size() && lines.getLast().isBlank()) {
            lines.removeLast();
        }
        assertEquals(inputs.size(), lines.size(), inp + ": inputs and expected lines differ in number");
        Map<String, int[]> cases = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            String l = lines.get(i).strip();
            int[] ids = l.isEmpty() ? new int[0] : Arrays.stream(l.split("\\s+")).mapToInt(Integer::parseInt).toArray();
            cases.putIfAbsent(inputs.get(i), ids);
        }
        return cases;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vocabs")
    void matchesLlamaCpp(String name) throws IOException {
        Path dir = vocabDir();
        Path gguf = dir.resolve(name);
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(gguf)) {
            tok = Tokenizer.fromGguf(f);
        }
        Map<String, int[]> cases = cases(dir.resolve(name + ".inp"), dir.resolve(name + ".out"));
        assertTrue(cases.size() > 30, name + ": too few cases: " + cases.size());
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, int[]> c : cases.entrySet()) {
            int[] got = tok.encode(c.getKey(), false, false);
            if (!Arrays.equals(c.getValue(), got)) {
                failures.add("input " + escape(c.getKey()) + "\n   expected " + Arrays.toString(c.getValue())
                        + "\n   got      " + Arrays.toString(got));
            }
        }
        assertTrue(failures.isEmpty(), name + ": " + failures.size() + " of " + cases.size() + " cases differ:\n"
                + String.join("\n", failures));
    }

    /** Qwen 3.5's vectors (no GGUF of their own here) pass with the Qwen 3 vocabulary, as the README of ../shared/vocab reports. */
    @org.junit.jupiter.api.Test
    void qwen35VectorsWithTheQwen3Vocab() throws IOException {
        Path dir = vocabDir();
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(dir.resolve("regen-vocab-qwen3.gguf"))) {
            tok = Tokenizer.fromGguf(f);
        }
        Map<String, int[]> cases = cases(dir.resolve("ggml-vocab-qwen35.gguf.inp"), dir.resolve("ggml-vocab-qwen35.gguf.out"));
        assertTrue(cases.size() > 40);
        for (Map.Entry<String, int[]> c : cases.entrySet()) {
            assertArrayEquals(c.getValue(), tok.encode(c.getKey(), false, false), () -> escape(c.getKey()));
        }
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '\n') {
                b.append("\\n");
            } else if (c == '\t') {
                b.append("\\t");
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
