package dev.isthmus.kernels.cpu.ref;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Rotary-embedding scaling parameters, field for field the same as gguf-loader's
 * {@code dev.isthmus.hf.RopeParameters} (which {@code kernels-cpu} may not depend on; the runtime maps one
 * onto the other one field at a time). Absent optional values take transformers' defaults where the
 * {@link Rope} computation needs them.
 *
 * @param ropeType                      {@code "default"}, {@code "linear"}, {@code "dynamic"}, {@code "yarn"},
 *                                      {@code "longrope"} or {@code "llama3"}
 * @param theta                         base frequency ({@code rope_theta})
 * @param factor                        scaling factor (linear, dynamic, yarn, longrope, llama3)
 * @param originalMaxPositionEmbeddings pre-training context length (llama3, yarn, longrope)
 * @param lowFreqFactor                 llama3 low-frequency factor
 * @param highFreqFactor                llama3 high-frequency factor
 * @param betaFast                      yarn fast boundary (32 when absent)
 * @param betaSlow                      yarn slow boundary (1 when absent)
 * @param attentionFactor               yarn/longrope explicit attention scaling
 * @param mscale                        yarn (DeepSeek) {@code mscale}
 * @param mscaleAllDim                  yarn (DeepSeek) {@code mscale_all_dim}
 * @param truncate                      yarn: floor/ceil the correction range (true when absent)
 * @param shortFactor                   longrope per-frequency factors for short contexts
 * @param longFactor                    longrope per-frequency factors for long contexts
 * @param partialRotaryFactor           fraction of each head's dimensions that are rotated
 * @param freqFactors                   optional per-frequency divisors, one per rotated pair, applied after
 *                                      the type's own computation: {@code inv_freq[i] /= freqFactors[i]}
 *                                      (llama.cpp's {@code rope_freqs} / {@code rope_factors} tensors, which is
 *                                      all a GGUF keeps of llama3 scaling); empty for none
 */
public record RopeConfig(String ropeType, double theta, OptionalDouble factor,
                         OptionalInt originalMaxPositionEmbeddings, OptionalDouble lowFreqFactor,
                         OptionalDouble highFreqFactor, OptionalDouble betaFast, OptionalDouble betaSlow,
                         OptionalDouble attentionFactor, OptionalDouble mscale, OptionalDouble mscaleAllDim,
                         Optional<Boolean> truncate, List<Double> shortFactor, List<Double> longFactor,
                         double partialRotaryFactor, List<Double> freqFactors) {
    /** Null checks and defensive copies. */
    public RopeConfig {
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
        freqFactors = List.copyOf(freqFactors);
        for (double f : freqFactors) {
            if (!(f > 0) || Double.isInfinite(f)) {
                throw new IllegalArgumentException("frequency factor " + f + " is not positive and finite");
            }
        }
        if (!(partialRotaryFactor > 0 && partialRotaryFactor <= 1)) {
            throw new IllegalArgumentException("partial rotary factor " + partialRotaryFactor + " not in (0, 1]");
        }
    }

    /** The parameters without per-frequency divisors (the form transformers' configs describe). */
    public RopeConfig(String ropeType, double theta, OptionalDouble factor,
                      OptionalInt originalMaxPositionEmbeddings, OptionalDouble lowFreqFactor,
                      OptionalDouble highFreqFactor, OptionalDouble betaFast, OptionalDouble betaSlow,
                      OptionalDouble attentionFactor, OptionalDouble mscale, OptionalDouble mscaleAllDim,
                      Optional<Boolean> truncate, List<Double> shortFactor, List<Double> longFactor,
                      double partialRotaryFactor) {
        this(ropeType, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor, betaFast,
                betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor, longFactor,
                partialRotaryFactor, List.of());
    }

    /** Plain RoPE with base {@code theta}, every dimension rotated. */
    public static RopeConfig plain(double theta) {
        return new RopeConfig("default", theta, OptionalDouble.empty(), OptionalInt.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.empty(), Optional.empty(), List.of(), List.of(), 1.0);
    }

    /** Linear position interpolation ({@code "linear"}) by {@code factor}. */
    public static RopeConfig linear(double theta, double factor) {
        return plain(theta).withType("linear").withFactor(factor);
    }

    /** Dynamic NTK scaling ({@code "dynamic"}) with {@code factor}. */
    public static RopeConfig dynamic(double theta, double factor) {
        return plain(theta).withType("dynamic").withFactor(factor);
    }

    /** Llama 3.1 scaling ({@code "llama3"}). */
    public static RopeConfig llama3(double theta, double factor, double lowFreqFactor, double highFreqFactor,
                                    int originalMaxPositionEmbeddings) {
        return new RopeConfig("llama3", theta, OptionalDouble.of(factor), OptionalInt.of(originalMaxPositionEmbeddings),
                OptionalDouble.of(lowFreqFactor), OptionalDouble.of(highFreqFactor), OptionalDouble.empty(),
                OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(),
                Optional.empty(), List.of(), List.of(), 1.0);
    }

    /** This configuration with another type. */
    public RopeConfig withType(String type) {
        return new RopeConfig(type, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor,
                betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor, longFactor,
                partialRotaryFactor, freqFactors);
    }

    /** This configuration with another scaling factor. */
    public RopeConfig withFactor(double value) {
        return new RopeConfig(ropeType, theta, OptionalDouble.of(value), originalMaxPositionEmbeddings, lowFreqFactor,
                highFreqFactor, betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor,
                longFactor, partialRotaryFactor, freqFactors);
    }

    /** This configuration with another original (pre-training) context length. */
    public RopeConfig withOriginalMaxPositionEmbeddings(int value) {
        return new RopeConfig(ropeType, theta, factor, OptionalInt.of(value), lowFreqFactor, highFreqFactor, betaFast,
                betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor, longFactor,
                partialRotaryFactor, freqFactors);
    }

    /** This configuration with YaRN's optional knobs set (pass empty optionals to leave them absent). */
    public RopeConfig withYarn(OptionalDouble fast, OptionalDouble slow, OptionalDouble attention,
                               OptionalDouble mscaleValue, OptionalDouble mscaleAllDimValue,
                               Optional<Boolean> truncateValue) {
        return new RopeConfig(ropeType, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor,
                fast, slow, attention, mscaleValue, mscaleAllDimValue, truncateValue, shortFactor, longFactor,
                partialRotaryFactor, freqFactors);
    }

    /** This configuration with LongRoPE's factor lists and optional explicit attention factor. */
    public RopeConfig withLongRope(List<Double> shortFactors, List<Double> longFactors, OptionalDouble attention) {
        return new RopeConfig(ropeType, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor,
                betaFast, betaSlow, attention, mscale, mscaleAllDim, truncate, shortFactors, longFactors,
                partialRotaryFactor, freqFactors);
    }

    /** This configuration rotating only {@code fraction} of each head's dimensions. */
    public RopeConfig withPartialRotaryFactor(double fraction) {
        return new RopeConfig(ropeType, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor,
                betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor, longFactor, fraction,
                freqFactors);
    }

    /**
     * This configuration with per-frequency divisors ({@code inv_freq[i] /= factors[i]} after the type's
     * own computation, as llama.cpp applies {@code rope_freqs}); an empty list removes them.
     */
    public RopeConfig withFreqFactors(List<Double> factors) {
        return new RopeConfig(ropeType, theta, factor, originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor,
                betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim, truncate, shortFactor, longFactor,
                partialRotaryFactor, factors);
    }
}
