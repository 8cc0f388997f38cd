package dev.isthmus.memory.backend;

import java.util.Objects;

/**
 * What RoPE needs at a step, independent of how the frequencies were derived: every scaling
 * (linear, dynamic NTK, llama3, YaRN, LongRoPE) is folded by the runtime into the inverse
 * frequencies and the attention scaling, so a backend only rotates.
 *
 * <p>For pair {@code i < rotaryDim/2} at position {@code p}: {@code θ = p · inverseFrequencies[i]},
 * {@code cos = cos(θ)·attentionScaling}, {@code sin = sin(θ)·attentionScaling}, computed in float32
 * as transformers does; dimensions at and above {@code rotaryDim} pass through unchanged
 * (partial rotary).
 *
 * @param inverseFrequencies {@code rotaryDim/2} values
 * @param attentionScaling   YaRN's / LongRoPE's attention factor (1 for the others)
 * @param rotaryDim          rotated dimensions per head (even, at most head_dim)
 * @param layout             which dimensions pair up
 */
public record RopeSpec(float[] inverseFrequencies, float attentionScaling, int rotaryDim, RopeLayout layout) {
    public RopeSpec {
        Objects.requireNonNull(inverseFrequencies, "inverseFrequencies");
        Objects.requireNonNull(layout, "layout");
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || inverseFrequencies.length != rotaryDim / 2) {
            throw new IllegalArgumentException("rotaryDim " + rotaryDim + " with " + inverseFrequencies.length
                    + " inverse frequencies");
        }
    }
}
