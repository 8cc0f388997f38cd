package dev.isthmus.hf;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Rotary position embedding parameters of one attention kind, normalised from either the
 * transformers-5 {@code rope_parameters} block or the older {@code rope_theta} +
 * {@code rope_scaling} keys (see {@link HfConfig#ropeParameters(String)}).
 *
 * @param ropeType                      {@code "default"}, {@code "linear"}, {@code "dynamic"},
 *                                      {@code "yarn"}, {@code "longrope"}, {@code "llama3"} or another
 *                                      type the config names (legacy {@code "su"} is reported as
 *                                      {@code "longrope"}, legacy {@code "mrope"} as {@code "default"})
 * @param theta                         the base frequency ({@code rope_theta}; 10000 when absent)
 * @param factor                        scaling factor (linear, dynamic, yarn, longrope, llama3)
 * @param originalMaxPositionEmbeddings context length the model was pre-trained with
 *                                      (from the block, else the config's top-level key)
 * @param lowFreqFactor                 llama3: low-frequency factor
 * @param highFreqFactor                llama3: high-frequency factor
 * @param betaFast                      yarn: fast-rotation boundary
 * @param betaSlow                      yarn: slow-rotation boundary
 * @param attentionFactor               yarn/longrope: attention scaling, when given explicitly
 * @param mscale                        yarn (DeepSeek): {@code mscale}
 * @param mscaleAllDim                  yarn (DeepSeek): {@code mscale_all_dim}
 * @param truncate                      yarn: whether correction-range bounds are truncated to integers
 *                                      (transformers' default is true; gpt-oss sets false)
 * @param shortFactor                   longrope: per-frequency factors for short contexts (empty if absent)
 * @param longFactor                    longrope: per-frequency factors for long contexts (empty if absent)
 * @param partialRotaryFactor           fraction of each head's dimensions that are rotated (1.0 when absent)
 * @param mropeSection                  multimodal RoPE sections (empty if absent)
 * @param mropeInterleaved              multimodal RoPE: interleaved layout
 */
public record RopeParameters(String ropeType, double theta, OptionalDouble factor,
                             OptionalInt originalMaxPositionEmbeddings, OptionalDouble lowFreqFactor,
                             OptionalDouble highFreqFactor, OptionalDouble betaFast, OptionalDouble betaSlow,
                             OptionalDouble attentionFactor, OptionalDouble mscale, OptionalDouble mscaleAllDim,
                             Optional<Boolean> truncate, List<Double> shortFactor, List<Double> longFactor,
                             double partialRotaryFactor, List<Integer> mropeSection, boolean mropeInterleaved) {
    /** Plain RoPE. */
    public static final String DEFAULT = "default";
    /** Position interpolation. */
    public static final String LINEAR = "linear";
    /** Dynamic NTK scaling. */
    public static final String DYNAMIC = "dynamic";
    /** YaRN. */
    public static final String YARN = "yarn";
    /** LongRoPE (Phi-3). */
    public static final String LONGROPE = "longrope";
    /** Llama 3.1 frequency-dependent scaling. */
    public static final String LLAMA3 = "llama3";

    /** Null checks and defensive copies. */
    public RopeParameters {
        Objects.requireNonNull(ropeType, "ropeType");
        Objects.requireNonNull(factor, "factor");
        Objects.requireNonNull(originalMaxPositionEmbeddings, "originalMaxPositionEmbeddings");
        Objects.requireNonNull(lowFreqFactor, "lowFreqFactor");
        Objects.requireNonNull(highFreqFactor, "highFreqFactor");
        Objects.requireNonNull(betaFast, "betaFast");
        Objects.requireNonNull(betaSlow, "betaSlow");
        Objects.requireNonNull(attentionFactor, "attentionFactor");
        Objects.requireNonNull(mscale, "mscale");
        Objects.requireNonNull(mscaleAllDim, "mscaleAllDim");
        Objects.requireNonNull(truncate, "truncate");
        shortFactor = List.copyOf(shortFactor);
        longFactor = List.copyOf(longFactor);
        mropeSection = List.copyOf(mropeSection);
    }

    /** Plain RoPE with base {@code theta}, all dimensions rotated. */
    public static RopeParameters plain(double theta) {
        return new RopeParameters(DEFAULT, theta, OptionalDouble.empty(), OptionalInt.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.empty(), Optional.empty(), List.of(), List.of(), 1.0,
                List.of(), false);
    }
}
