package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.format.UnsupportedModelException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import dev.isthmus.runtime.convert.ConvertType;
import dev.isthmus.runtime.convert.HfToGguf;
import dev.isthmus.runtime.model.DenseTransformer;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance from GGUF: every fixture is converted with {@code isthmus convert} ({@link HfToGguf})
 * and run from the GGUF file through the same reference forward pass. F32 must match transformers
 * as safetensors does (max |Δlogit| ≤ 1e-3, greedy equal with and without the KV cache); the
 * lossy types must stay within the bounds below, measured and recorded in {@code docs/CONFORMANCE.md}
 * (about 2–3× headroom over the worst fixture).
 *
 * <p>The fixtures' rows are 64 (hidden) and 96 (intermediate) long: Q8_0's 32-element blocks fit,
 * Q4_K's 256 do not, so a Q4_K conversion falls back to Q8_0 for every weight — what this test
 * measures for "Q4_K" is the Q8_0 fallback, and it checks that the converter reported it.
 */
class ConformanceGgufTest {
    /** Bounds on max |Δlogit| vs transformers per requested type (see docs/CONFORMANCE.md for the measurements). */
    static final Map<ConvertType, Double> BOUNDS = Map.of(
            ConvertType.F32, 1e-3,
            ConvertType.F16, 1.5e-2,
            ConvertType.BF16, 1e-1,
            ConvertType.Q8_0, 4e-1,
            ConvertType.Q4_K, 4e-1);

    static Stream<String> fixtures() throws IOException, URISyntaxException {
        return FixtureIntegrityTest.fixtures();
    }

    static Stream<Arguments> lossy() throws IOException, URISyntaxException {
        List<Arguments> out = new ArrayList<>();
        for (String f : FixtureIntegrityTest.fixtures().toList()) {
            for (ConvertType t : List.of(ConvertType.F16, ConvertType.BF16, ConvertType.Q8_0, ConvertType.Q4_K)) {
                out.add(Arguments.of(f, t));
            }
        }
        return out.stream();
    }

    /** Converts fixture {@code name} to {@code type} in {@code tmp}; returns the GGUF path and the converter's fallbacks. */
    static HfToGguf.Result convert(String name, ConvertType type, Path out) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        List<String> warnings = new ArrayList<>();
        return HfToGguf.convert(new HfToGguf.Options(dir, out, type, false), warnings::add, null);
    }

    static double maxDelta(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        return worst;
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void f32GgufMatchesTransformers(String name, @TempDir Path tmp) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        Path gguf = tmp.resolve(name + "-f32.gguf");
        HfToGguf.Result r = convert(name, ConvertType.F32, gguf);
        assertEquals(List.of(), r.fallbacks());
        DenseTransformer model = DenseTransformer.load(gguf);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        double worst = maxDelta(ConformanceTest.floats(dir.resolve("logits.f32")), model.logits(input));
        System.out.printf("gguf %-14s %-5s max |dlogit| = %.2e%n", name, "f32", worst);
        assertTrue(worst <= BOUNDS.get(ConvertType.F32), name + " f32: max |dlogit| " + worst);
        int[] expected = ConformanceTest.ids(dir.resolve("greedy.txt"));
        assertArrayEquals(expected, model.greedy(input, expected.length), name + " with the KV cache");
        assertArrayEquals(expected, model.greedyWithoutCache(input, expected.length), name + " without a cache");
    }

    @ParameterizedTest
    @MethodSource("lossy")
    void lossyGgufStaysWithinItsBound(String name, ConvertType type, @TempDir Path tmp) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        Path gguf = tmp.resolve(name + "-" + type + ".gguf");
        HfToGguf.Result r = convert(name, type, gguf);
        Map<String, Integer> fallbacks = new TreeMap<>();
        for (String f : r.fallbacks()) {
            fallbacks.merge(f.substring(f.indexOf(": ") + 2), 1, Integer::sum);
        }
        if (type == ConvertType.Q4_K && !name.endsWith("-wide")) {
            // 64- and 96-long rows are not whole 256-element blocks: every 2-D weight falls back
            assertTrue(!r.fallbacks().isEmpty() && fallbacks.keySet().equals(java.util.Set.of("Q8_0")),
                    name + " q4_k fallbacks: " + fallbacks);
        } else {
            assertEquals(List.of(), r.fallbacks(), name + " " + type + " fallbacks");
        }
        DenseTransformer model = DenseTransformer.load(gguf);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        double worst = maxDelta(ConformanceTest.floats(dir.resolve("logits.f32")), model.logits(input));
        System.out.printf("gguf %-14s %-5s max |dlogit| = %.2e  fallbacks %s%n", name, type, worst, fallbacks);
        // a "-wide" fixture really runs Q4_K (no Q8_0 fallback): its bound is the real Q4_K one (BackendConformanceTest)
        double bound = type == ConvertType.Q4_K && name.endsWith("-wide") ? 2.0 : BOUNDS.get(type);
        assertTrue(worst <= bound, name + " " + type + ": max |dlogit| " + worst + " > " + bound);
    }

    /**
     * A Gemma GGUF as llama.cpp's converter writes it, without the per-layer
     * {@code attention.sliding_window_pattern} that {@code isthmus convert} adds: the loader falls
     * back to llama.cpp's fixed patterns (Gemma 2 every other layer, Gemma 3 five of six), which the
     * fixtures follow.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gemma2", "gemma3"})
    void gemmaWithoutTheLayerPatternUsesLlamaCppsFixedPattern(String name, @TempDir Path tmp) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        Path full = tmp.resolve(name + ".gguf");
        convert(name, ConvertType.F32, full);
        Path stripped = tmp.resolve(name + "-llamacpp.gguf");
        try (GgufFile in = GgufFile.open(full)) {
            Map<String, GgufValue> meta = new java.util.LinkedHashMap<>(in.metadata());
            assertTrue(meta.remove(in.architecture() + ".attention.sliding_window_pattern") != null);
            List<GgufWriter.TensorSpec> specs = in.tensors().stream().map(GgufWriter.TensorSpec::of).toList();
            try (GgufWriter w = GgufWriter.create(stripped, meta, specs)) {
                for (var t : in.tensors()) {
                    w.writeTensorData(t.name(), in.tensorData(t));
                }
            }
        }
        DenseTransformer model = DenseTransformer.load(stripped);
        int[] input = ConformanceTest.ids(dir.resolve("input_ids.txt"));
        double worst = maxDelta(ConformanceTest.floats(dir.resolve("logits.f32")), model.logits(input));
        assertTrue(worst <= BOUNDS.get(ConvertType.F32), name + ": max |dlogit| " + worst);
    }

    /**
     * Bounds on max |Δlogit| of the widened fixtures (logit standard deviation about 1) vs the same
     * model from F32 safetensors, per type (see docs/CONFORMANCE.md for the measurements).
     */
    static final Map<ConvertType, Double> WIDE_BOUNDS = Map.of(
            ConvertType.F32, 1e-3,
            ConvertType.Q8_0, 0.3,
            ConvertType.Q6_K, 1.0,
            ConvertType.Q4_K, 3.5);

    /**
     * Q4_K and Q6_K for real: the fixtures' rows are too short for their 256-element blocks, so each
     * fixture's config is widened four times (hidden 256, head_dim ×4, intermediate 512; vocabulary,
     * layers, heads, RoPE and attention pattern as they are) and filled with seeded random weights
     * ({@link WideFixture}). The reference is the same model run from its F32 safetensors; every
     * type must be written without fallbacks and stay within {@link #WIDE_BOUNDS}.
     */
    @ParameterizedTest
    @MethodSource("fixtures")
    void kQuantsOnWidenedFixtures(String name, @TempDir Path tmp) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(name.endsWith("-wide"),
                name + " is already wide: BackendConformanceTest checks its K-quants against transformers");
        Path hf = WideFixture.write(FixtureIntegrityTest.root().resolve(name), tmp.resolve(name), 4, 512);
        int[] input = ConformanceTest.ids(FixtureIntegrityTest.root().resolve(name).resolve("input_ids.txt"));
        float[] reference = DenseTransformer.load(hf).logits(input);
        StringBuilder line = new StringBuilder(String.format("wide %-14s logit std %.2f", name, std(reference)));
        List<String> failures = new ArrayList<>();
        for (ConvertType type : List.of(ConvertType.F32, ConvertType.Q8_0, ConvertType.Q6_K, ConvertType.Q4_K)) {
            Path gguf = tmp.resolve(name + "-" + type + ".gguf");
            HfToGguf.Result r = HfToGguf.convert(new HfToGguf.Options(hf, gguf, type, false), w -> { }, null);
            assertEquals(List.of(), r.fallbacks(), name + " " + type + " fallbacks");
            double worst = maxDelta(reference, DenseTransformer.load(gguf).logits(input));
            line.append(String.format("  %s %.2e", type, worst));
            if (!(worst <= WIDE_BOUNDS.get(type))) {
                failures.add(type + " " + worst + " > " + WIDE_BOUNDS.get(type));
            }
        }
        System.out.println(line);
        assertEquals(List.of(), failures, name + " widened");
    }

    static double std(float[] v) {
        double m = 0;
        for (float x : v) {
            m += x;
        }
        m /= v.length;
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }

    @Test
    void unsupportedArchitectureIsNamed(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("mamba.gguf");
        try (GgufWriter w = GgufWriter.create(gguf, Map.of("general.architecture", GgufValue.string("mamba")), List.of())) {
            // metadata only
        }
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> DenseTransformer.load(gguf));
        assertTrue(e.getMessage().contains("'mamba'") && e.getMessage().contains("llama")
                && e.getMessage().contains("gemma3"), e.getMessage());
    }
}
