package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.hf.RopeParameters;
import dev.isthmus.safetensors.SafetensorsDType;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The golden fixtures made by {@code tests/fixtures/generate_fixtures.py} (transformers 5 on the GPU
 * machine) are complete, and our loaders read what transformers wrote: its config.json (the
 * transformers-5 {@code rope_parameters} form, per-layer-type blocks, layer types) and its
 * safetensors. The logits themselves are compared by the conformance tests once the model graphs run.
 */
class FixtureIntegrityTest {
    static Path root() throws URISyntaxException {
        return Path.of(FixtureIntegrityTest.class.getResource("/fixtures").toURI());
    }

    static Stream<String> fixtures() throws IOException, URISyntaxException {
        try (Stream<Path> s = Files.list(root())) {
            // fixtures/chat holds chat templates and their renders (ChatTemplateFixtureTest), not a model
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals("chat")).sorted().toList().stream();
        }
    }

    static long[] ids(Path file) throws IOException {
        return Arrays.stream(Files.readString(file).trim().split("\\s+")).mapToLong(Long::parseLong).toArray();
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void fixtureIsCompleteAndReadable(String name) throws Exception {
        Path dir = root().resolve(name);
        JsonNode meta = new ObjectMapper().readTree(dir.resolve("meta.json").toFile());
        HfConfig cfg = HfConfig.read(dir.resolve("config.json"));
        assertEquals(meta.get("model_type").asText(), cfg.modelType());
        int vocab = meta.get("vocab").asInt();
        int tokens = meta.get("tokens").asInt();
        assertEquals(vocab, cfg.vocabSize());
        assertEquals(cfg.numHiddenLayers(), cfg.layerTypes().size());

        long[] input = ids(dir.resolve("input_ids.txt"));
        long[] greedy = ids(dir.resolve("greedy.txt"));
        assertEquals(tokens, input.length);
        assertEquals(meta.get("greedy_tokens").asInt(), greedy.length);
        assertTrue(Arrays.stream(input).allMatch(i -> i >= 0 && i < vocab));
        assertTrue(Arrays.stream(greedy).allMatch(i -> i >= 0 && i < vocab));

        byte[] raw = Files.readAllBytes(dir.resolve("logits.f32"));
        assertEquals((long) tokens * vocab * 4, raw.length, "logits are [tokens, vocab] float32");
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        double maxAbs = 0;
        for (int i = 0; i < tokens * vocab; i++) {
            float f = b.getFloat();
            assertTrue(Float.isFinite(f));
            maxAbs = Math.max(maxAbs, Math.abs(f));
        }
        assertEquals(meta.get("max_abs_logit").asDouble(), maxAbs, 1e-4 * Math.max(1, maxAbs));

        // The RoPE types transformers reported using are the ones our config reader sees.
        List<String> ropeTypes = cfg.layerTypes().stream().distinct()
                .map(t -> cfg.ropeParameters(t).ropeType()).distinct().sorted().toList();
        List<String> seen = new java.util.ArrayList<>();
        meta.get("rope_types").forEach(n -> seen.add(n.asText()));
        assertEquals(seen, ropeTypes, "rope types per layer type");

        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            SafetensorsTensor emb = m.tensor("model.embed_tokens.weight").orElseThrow();
            // fixtures are float32, except the "-wide" ones, saved as bfloat16 to stay small (meta says so)
            boolean bf16 = meta.has("weights_saved_as") && meta.get("weights_saved_as").asText().equals("bfloat16");
            assertEquals(bf16 ? SafetensorsDType.BF16 : SafetensorsDType.F32, emb.dtype());
            assertEquals(List.of((long) vocab, (long) cfg.hiddenSize()), Arrays.stream(emb.shape()).boxed().toList());
            assertEquals(cfg.tieWordEmbeddings(), m.tensor("lm_head.weight").isEmpty(), "lm_head present iff untied");
            for (int layer = 0; layer < cfg.numHiddenLayers(); layer++) {
                String prefix = "model.layers." + layer + ".";
                boolean found = m.tensors().stream().anyMatch(t -> t.name().startsWith(prefix));
                assertTrue(found, "layer " + layer + " has tensors");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void featuresTheFixtureClaimsAreSwitchedOn(String name) throws Exception {
        HfConfig cfg = HfConfig.read(root().resolve(name).resolve("config.json"));
        switch (name) {
            case "llama3" -> {
                RopeParameters r = cfg.ropeParameters();
                assertEquals(RopeParameters.LLAMA3, r.ropeType());
                assertEquals(32, r.originalMaxPositionEmbeddings().orElseThrow());
                assertTrue(cfg.tieWordEmbeddings());
            }
            case "mistral", "gemma2", "gemma3", "olmo3", "ministral" ->
                    assertTrue(cfg.slidingWindow().orElseThrow() < 32, "window shorter than the prompt");
            default -> {
            }
        }
        if (name.equals("gemma3")) {
            assertEquals(List.of("sliding_attention", "full_attention"), cfg.layerTypes().stream().distinct().toList());
            assertEquals(RopeParameters.LINEAR, cfg.ropeParameters("full_attention").ropeType());
            assertEquals(10000.0, cfg.ropeParameters("sliding_attention").theta());
        }
        if (name.equals("gemma2")) {
            assertEquals(50.0, cfg.attnLogitSoftcapping().orElseThrow());
            assertEquals(30.0, cfg.finalLogitSoftcapping().orElseThrow());
        }
        if (name.equals("phi3")) {
            RopeParameters r = cfg.ropeParameters();
            assertEquals(RopeParameters.LONGROPE, r.ropeType());
            assertEquals(8, r.longFactor().size());
            assertFalse(r.shortFactor().isEmpty());
        }
        if (name.equals("qwen2")) {
            assertEquals(RopeParameters.YARN, cfg.ropeParameters().ropeType());
        }
        if (name.equals("mistral-small")) {
            assertEquals(32, cfg.headDim());
            assertEquals(16, cfg.hiddenSize() / cfg.numAttentionHeads());
        }
    }
}
