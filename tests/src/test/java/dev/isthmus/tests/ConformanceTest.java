package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.runtime.model.DenseTransformer;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance with Hugging Face transformers on the committed fixtures (see
 * {@code tests/fixtures/README.md}): our reference forward pass, loaded from the same safetensors,
 * must give logits within 1e-3 of transformers' at every position, and the same greedy
 * continuation both with the KV cache (one token per step) and without it.
 */
class ConformanceTest {
    static final double TOLERANCE = 1e-3;

    static Stream<String> fixtures() throws IOException, URISyntaxException {
        return FixtureIntegrityTest.fixtures();
    }

    static int[] ids(Path file) throws IOException {
        return Arrays.stream(Files.readString(file).trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void logitsMatchTransformersFromSafetensors(String name) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        DenseTransformer model = DenseTransformer.load(dir);
        int[] input = ids(dir.resolve("input_ids.txt"));
        float[] expected = floats(dir.resolve("logits.f32"));
        float[] actual = model.logits(input);
        assertEquals(expected.length, actual.length);
        int vocab = model.spec().vocab();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (d > worst) {
                worst = d;
                worstAt = i;
            }
        }
        System.out.printf("%-14s max |dlogit| = %.2e%n", name, worst);
        assertTrue(worst <= TOLERANCE, name + ": max |dlogit| " + worst + " at position " + (worstAt / vocab)
                + ", token " + (worstAt % vocab) + " (expected " + expected[Math.max(worstAt, 0)] + ", got "
                + actual[Math.max(worstAt, 0)] + ")");
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void greedyContinuationMatchesWithAndWithoutTheCache(String name) throws Exception {
        Path dir = FixtureIntegrityTest.root().resolve(name);
        DenseTransformer model = DenseTransformer.load(dir);
        int[] input = ids(dir.resolve("input_ids.txt"));
        int[] expected = ids(dir.resolve("greedy.txt"));
        assertArrayEquals(expected, model.greedy(input, expected.length), name + " with the KV cache");
        assertArrayEquals(expected, model.greedyWithoutCache(input, expected.length), name + " without a cache");
    }
}
