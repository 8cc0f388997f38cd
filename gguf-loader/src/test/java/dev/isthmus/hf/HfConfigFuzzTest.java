package dev.isthmus.hf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.isthmus.format.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Fuzzes {@link HfConfig} parsing and every getter with arbitrary text: only
 * {@link ModelFormatException} may escape. Regression inputs live under
 * {@code HfConfigFuzzTestInputs/parse/}; see {@code docs/FUZZING.md} for campaigns.
 */
class HfConfigFuzzTest {
    private static final Path NAME = Path.of("fuzz/config.json");

    private static final List<Function<HfConfig, Object>> GETTERS = List.of(
            HfConfig::modelType, HfConfig::textModelType, HfConfig::architectures, HfConfig::torchDtype,
            HfConfig::hiddenSize, HfConfig::intermediateSize, HfConfig::numHiddenLayers, HfConfig::numAttentionHeads,
            HfConfig::numKeyValueHeads, HfConfig::headDim, HfConfig::vocabSize, HfConfig::maxPositionEmbeddings,
            HfConfig::rmsNormEps, HfConfig::tieWordEmbeddings, HfConfig::attentionBias, HfConfig::slidingWindow,
            HfConfig::layerTypes, HfConfig::attnLogitSoftcapping, HfConfig::finalLogitSoftcapping,
            HfConfig::queryPreAttnScalar, HfConfig::bosTokenId, HfConfig::eosTokenIds, HfConfig::padTokenId,
            HfConfig::numExperts, HfConfig::numExpertsPerTok, HfConfig::moeIntermediateSize,
            HfConfig::numSharedExperts, HfConfig::sharedExpertIntermediateSize, HfConfig::ropeParameters,
            c -> c.ropeParameters(HfConfig.SLIDING_ATTENTION), c -> c.ropeParameters(HfConfig.FULL_ATTENTION),
            c -> c.optLong("n"), c -> c.raw("x"));

    @FuzzTest(maxDuration = "2m")
    void parse(byte[] input) {
        HfConfig c;
        try {
            c = HfConfig.parse(new String(input, StandardCharsets.UTF_8), NAME);
        } catch (ModelFormatException expected) {
            return;
        }
        exercise(c);
        c.textConfig().ifPresent(t -> {
            exercise(t);
            if (t.textConfig().isPresent()) {
                throw new AssertionError("a nested view has no further text_config");
            }
        });
    }

    private static void exercise(HfConfig c) {
        for (Function<HfConfig, Object> g : GETTERS) {
            try {
                g.apply(c);
            } catch (ModelFormatException expected) {
                // a wrong or missing value, reported properly
            }
        }
    }
}
