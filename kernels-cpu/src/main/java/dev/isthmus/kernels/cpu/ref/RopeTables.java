package dev.isthmus.kernels.cpu.ref;

/**
 * The inverse frequencies and attention scaling in force for one forward pass, and their application to
 * query/key heads.
 *
 * <p>cos/sin follow transformers' {@code LlamaRotaryEmbedding.forward} (and its copies) in float32:
 * {@code freq = inv_freq[i] * (float) position} (one float multiply), {@code cos = cos(freq) * attention_scaling}
 * and {@code sin = sin(freq) * attention_scaling}, each rounded to float. Application follows
 * {@code apply_rotary_pos_emb}: {@code x * cos + rotate(x) * sin}, each product rounded to float then summed;
 * with a partial rotary factor only the first {@code rotaryDim} dimensions of each head rotate and the
 * rest pass through.
 *
 * @param inverseFrequencies {@code rotaryDim / 2} inverse frequencies (float32, as HF's {@code inv_freq})
 * @param attentionScaling   multiplier on cos and sin (YaRN's mscale, LongRoPE's factor; 1 otherwise)
 * @param rotaryDim          rotated dimensions per head (even)
 */
public record RopeTables(float[] inverseFrequencies, float attentionScaling, int rotaryDim) {
    /** Validates the shapes and copies the frequencies. */
    public RopeTables {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || inverseFrequencies.length != rotaryDim / 2) {
            throw new IllegalArgumentException("rotary dim " + rotaryDim + " with " + inverseFrequencies.length
                    + " frequencies");
        }
        inverseFrequencies = inverseFrequencies.clone();
    }

    /** A copy of the inverse frequencies. */
    @Override
    public float[] inverseFrequencies() {
        return inverseFrequencies.clone();
    }

    /** Inverse frequency {@code i} ({@code 0 <= i < rotaryDim/2}). */
    public float inverseFrequency(int i) {
        return inverseFrequencies[i];
    }

    /** Fills {@code cos[i]} and {@code sin[i]} ({@code i < rotaryDim/2}) for {@code position}. */
    public void cosSin(int position, float[] cos, float[] sin) {
        float p = (float) position;
        for (int i = 0; i < inverseFrequencies.length; i++) {
            float freq = inverseFrequencies[i] * p;
            cos[i] = (float) Math.cos(freq) * attentionScaling;
            sin[i] = (float) Math.sin(freq) * attentionScaling;
        }
    }

    /**
     * Rotates, in place, {@code nHeads} heads of {@code headDim} values laid out {@code [nHeads][headDim]}
     * from {@code offset}, all at {@code position}.
     */
    public void apply(float[] x, int offset, int nHeads, int headDim, int position, RopeLayout layout) {
        if (headDim < rotaryDim) {
            throw new IllegalArgumentException("head dim " + headDim + " below rotary dim " + rotaryDim);
        }
        int half = rotaryDim / 2;
        float[] cos = new float[half];
        float[] sin = new float[half];
        cosSin(position, cos, sin);
        for (int h = 0; h < nHeads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < half; i++) {
                int a;
                int b;
                if (layout == RopeLayout.NEOX) {
                    a = base + i;
                    b = base + i + half;
                } else {
                    a = base + 2 * i;
                    b = base + 2 * i + 1;
                }
                float x1 = x[a];
                float x2 = x[b];
                // rotate(x) = (-x2, x1) on the pair; out = x * cos + rotate(x) * sin
                x[a] = x1 * cos[i] + -x2 * sin[i];
                x[b] = x2 * cos[i] + x1 * sin[i];
            }
        }
    }

    /**
     * Rotates, in place, a row-major {@code [nTokens][nHeads][headDim]} array, token {@code t} at
     * {@code positions[t]}.
     */
    public void apply(float[] x, int nHeads, int headDim, int[] positions, RopeLayout layout) {
        int stride = nHeads * headDim;
        if (x.length < positions.length * stride) {
            throw new IllegalArgumentException("array of " + x.length + " values holds fewer than "
                    + positions.length + " tokens of " + stride);
        }
        for (int t = 0; t < positions.length; t++) {
            apply(x, t * stride, nHeads, headDim, positions[t], layout);
        }
    }
}
