package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.convert.ConvertType;
import dev.isthmus.runtime.convert.HfToGguf;
import dev.isthmus.runtime.model.DenseModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance of the fast path ({@link DenseModel} on every {@link Backend} that opens here) with
 * transformers, on the same fixtures as {@link ConformanceTest}: from the safetensors folder and
 * from our converted GGUF (F32, whose weights are read in place, Q/K rows permuted for Llama-type
 * families and RoPE run in the interleaved layout as llama.cpp does), max |Δlogit| ≤ 1e-3 at every
 * position and the greedy continuation equal with the KV cache (one token a step) and without it;
 * the lossy GGUF types within {@link ConformanceGgufTest#BOUNDS}.
 */
class BackendConformanceTest {
    @TempDir
    static Path tmp;

    static final List<Backend> BACKENDS = new ArrayList<>();

    @BeforeAll
    static void open() {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (!p.probe().available()) {
                System.out.println("BackendConformanceTest: backend " + p.name() + " skipped: " + p.probe().reason());
                continue;
            }
            try {
                BACKENDS.add(p.open(2));
            } catch (UnsupportedOperationException e) {
                System.out.println("BackendConformanceTest: backend " + p.name() + " skipped: " + e.getMessage());
            }
        }
    }

    @AfterAll
    static void close() {
        BACKENDS.forEach(Backend::close);
    }

    static Stream<Arguments> cases() throws Exception {
        List<Arguments> out = new ArrayList<>();
        for (String f : FixtureIntegrityTest.fixtures().toList()) {
            for (String source : List.of("safetensors", "gguf-f32")) {
                out.add(Arguments.of(f, source));
            }
        }
        return out.stream();
    }

    static Path model(String name, String source) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        if (source.equals("safetensors")) {
            return dir;
        }
        ConvertType type = ConvertType.valueOf(source.substring(5).toUpperCase());
        Path out = tmp.resolve(name + "-" + source + ".gguf");
        if (!out.toFile().exists()) {
            ConformanceGgufTest.convert(name, type, out);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} from {1}")
    @MethodSource("cases")
    void logitsAndGreedyMatchTransformers(String name, String source) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        float[] expected = ConformanceTest.floats(dir.resolve("logits.f32"));
        int[] greedy = ConformanceTest.ids(dir.resolve("greedy.txt"));
        assertTrue(!BACKENDS.isEmpty(), "no backend opened");
        for (Backend backend : BACKENDS) {
            // a small prefill chunk so the fixtures' prompts run in several chunks too
            try (DenseModel m = DenseModel.load(model(name, source), backend, 5)) {
                double worst = ConformanceGgufTest.maxDelta(expected, m.logits(input));
                System.out.printf("%-14s %-12s %-5s max |dlogit| = %.2e%n", name, source, backend.name(), worst);
                assertTrue(worst <= ConformanceTest.TOLERANCE, name + " from " + source + " on " + backend.name()
                        + ": max |dlogit| " + worst);
                assertArrayEquals(greedy, m.greedy(input, greedy.length, KvType.F32),
                        name + " greedy with the cache on " + backend.name());
                int[] seq = Arrays.copyOf(input, input.length + greedy.length);
                int vocab = m.spec().vocab();
                for (int i = 0; i < greedy.length; i++) {
                    int len = input.length + i;
                    float[] logits = m.logits(Arrays.copyOf(seq, len));
                    int best = 0;
                    for (int v = 1; v < vocab; v++) {
                        if (logits[(len - 1) * vocab + v] > logits[(len - 1) * vocab + best]) {
                            best = v;
                        }
                    }
                    seq[len] = best;
                }
                assertArrayEquals(greedy, Arrays.copyOfRange(seq, input.length, seq.length),
                        name + " greedy without the cache on " + backend.name());
            }
        }
    }

    static Stream<Arguments> lossy() throws Exception {
        List<Arguments> out = new ArrayList<>();
        for (String f : FixtureIntegrityTest.fixtures().toList()) {
            for (String source : List.of("gguf-f16", "gguf-bf16", "gguf-q8_0")) {
                out.add(Arguments.of(f, source));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} from {1}")
    @MethodSource("lossy")
    void lossyTypesStayWithinTheirBounds(String name, String source) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        float[] expected = ConformanceTest.floats(dir.resolve("logits.f32"));
        double bound = ConformanceGgufTest.BOUNDS.get(ConvertType.valueOf(source.substring(5).toUpperCase()));
        for (Backend backend : BACKENDS) {
            try (DenseModel m = DenseModel.load(model(name, source), backend)) {
                double worst = ConformanceGgufTest.maxDelta(expected, m.logits(input));
                System.out.printf("%-14s %-12s %-5s max |dlogit| = %.2e (bound %.1e)%n", name, source, backend.name(),
                        worst, bound);
                assertTrue(worst <= bound, name + " from " + source + " on " + backend.name() + ": " + worst);
            }
        }
    }

    /**
     * K-quants against transformers itself, on the fixture whose rows are 256 wide so that Q4_K/Q6_K
     * blocks fit every matrix (no fallback to Q8_0). Bounds: see docs/CONFORMANCE.md.
     */
    @ParameterizedTest(name = "llama3-wide from {0}")
    @MethodSource("kQuants")
    void kQuantsAgainstTransformers(String source, double bound) throws Exception {
        String name = "llama3-wide";
        Path dir = FixtureIntegrityTest.root().resolve(name);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        float[] expected = ConformanceTest.floats(dir.resolve("logits.f32"));
        HfToGguf.Result converted = ConformanceGgufTest.convert(name,
                ConvertType.valueOf(source.substring(5).toUpperCase()), tmp.resolve(name + "-" + source + ".gguf"));
        assertTrue(converted.fallbacks().isEmpty(), "no fallback expected: " + converted.fallbacks());
        for (Backend backend : BACKENDS) {
            try (DenseModel m = DenseModel.load(tmp.resolve(name + "-" + source + ".gguf"), backend)) {
                double worst = ConformanceGgufTest.maxDelta(expected, m.logits(input));
                System.out.printf("%-14s %-12s %-5s max |dlogit| = %.2e (bound %.1e)%n", name, source, backend.name(),
                        worst, bound);
                assertTrue(worst <= bound, name + " from " + source + " on " + backend.name() + ": " + worst);
            }
        }
    }

    static Stream<Arguments> kQuants() {
        // measured on the CPU backend: Q8_0 0.086, Q6_K 0.26, Q4_K 0.93, Q4_0 1.18 (max |logit| 3.9)
        return Stream.of(Arguments.of("gguf-q8_0", 0.25), Arguments.of("gguf-q6_k", 0.6), Arguments.of("gguf-q4_k", 2.0),
                Arguments.of("gguf-q4_0", 2.5));
    }

    @Test
    void badTokensAndOverlongInputsAreClearErrors() throws Exception {
        for (Backend backend : BACKENDS) {
            try (DenseModel m = DenseModel.load(model("llama3", "safetensors"), backend)) {
                int vocab = m.spec().vocab();
                assertThrows(IllegalArgumentException.class, () -> m.logits(new int[] {1, vocab}));
                assertThrows(IllegalArgumentException.class, () -> m.logits(new int[] {-1}));
                assertThrows(IllegalArgumentException.class, () -> m.logits(new int[0]));
                try (DenseModel.Session s = m.newSession(4, KvType.F16)) {
                    assertThrows(IllegalArgumentException.class, () -> s.forward(new int[] {1, 2, 3, 4, 5}, false));
                    s.forward(new int[] {1, 2, 3, 4}, false);
                    assertThrows(IllegalArgumentException.class, () -> s.next(new int[] {1}));
                }
                m.close();
                assertThrows(IllegalStateException.class, () -> m.logits(new int[] {1}));
            }
        }
    }
}
