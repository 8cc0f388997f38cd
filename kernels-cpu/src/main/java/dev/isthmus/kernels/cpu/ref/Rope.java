package dev.isthmus.kernels.cpu.ref;

import java.util.List;

/**
 * Rotary position embedding frequencies for one attention kind, computed as transformers'
 * {@code modeling_rope_utils.py} does ({@code ROPE_INIT_FUNCTIONS}), in float32 where transformers works
 * on float32 tensors and in double where it works on Python floats:
 *
 * <ul>
 *   <li>{@code default}: {@code _compute_default_rope_parameters}:
 *       {@code inv_freq[i] = 1 / theta^(float(2i) / dim)}, {@code dim = int(headDim * partial_rotary_factor)}.</li>
 *   <li>{@code linear}: {@code _compute_linear_scaling_rope_parameters}: default divided by {@code factor}.</li>
 *   <li>{@code dynamic}: {@code _compute_dynamic_ntk_parameters}: default with base
 *       {@code theta * (factor * L / maxPos - (factor - 1))^(dim / (dim - 2))}, {@code L = max(seqLen, maxPos)},
 *       {@code maxPos} the model's {@code max_position_embeddings}.</li>
 *   <li>{@code llama3}: {@code _compute_llama3_parameters}: wavelengths {@code 2 pi / inv_freq} above
 *       {@code original / low_freq_factor} divided by {@code factor}, below {@code original / high_freq_factor}
 *       kept, between smoothly interpolated.</li>
 *   <li>{@code yarn}: {@code _compute_yarn_parameters} (transformers after PR #40320: an explicit
 *       {@code factor} wins; {@code max_position_embeddings / original_max_position_embeddings} only when
 *       none is given): interpolation/extrapolation blended by a linear ramp over the correction range of
 *       {@code beta_fast}/{@code beta_slow} (floored/ceiled unless {@code truncate} is false), attention
 *       factor explicit, else {@code get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)} when
 *       both are non-zero, else {@code 0.1 ln(factor) + 1} (1 for {@code factor <= 1}).</li>
 *   <li>{@code longrope}: {@code _compute_longrope_parameters}: {@code inv_freq[i] = 1 / (ext[i] * theta^(2i/dim))}
 *       with {@code ext} the long factors when {@code seqLen > original_max_position_embeddings}, else the short
 *       ones; attention factor explicit, else {@code sqrt(1 + ln(f) / ln(original))} with {@code f} the
 *       explicit {@code factor}, or {@code maxPos / original} when none is given (1 when {@code f <= 1}).</li>
 * </ul>
 * Absent {@code original_max_position_embeddings} defaults to {@code max_position_embeddings} (transformers 5's
 * {@code standardize_rope_params}). Checked against transformers 5.17 by {@code RefHfFixtureTest}.
 *
 * <p>Optional per-frequency divisors ({@link RopeConfig#freqFactors()}, llama.cpp's {@code rope_freqs}) divide
 * every type's {@code inv_freq} last.
 *
 * <p>Which tables a forward pass uses follows transformers' {@code dynamic_rope_update} decorator; see
 * {@link Schedule}.
 */
public final class Rope {
    private final RopeConfig config;
    private final int headDim;
    private final int rotaryDim;
    private final int maxPositionEmbeddings;
    private final RopeTables initial;

    /**
     * @param config                the scaling parameters
     * @param headDim               the attention head dimension
     * @param maxPositionEmbeddings the model's {@code max_position_embeddings}
     */
    public Rope(RopeConfig config, int headDim, int maxPositionEmbeddings) {
        this.config = config;
        this.headDim = headDim;
        this.rotaryDim = (int) (headDim * config.partialRotaryFactor());
        this.maxPositionEmbeddings = maxPositionEmbeddings;
        if (rotaryDim < 2 || rotaryDim % 2 != 0) {
            throw new IllegalArgumentException("rotary dimension " + rotaryDim + " (head dim " + headDim
                    + " x " + config.partialRotaryFactor() + ") must be even and positive");
        }
        this.initial = compute(-1);
    }

    /** The parameters. */
    public RopeConfig config() {
        return config;
    }

    /** The head dimension. */
    public int headDim() {
        return headDim;
    }

    /** The rotated dimensions per head: {@code int(headDim * partial_rotary_factor)}. */
    public int rotaryDim() {
        return rotaryDim;
    }

    /** The tables transformers builds at initialisation ({@code rope_init_fn(config, device)}, no sequence length). */
    public RopeTables initialTables() {
        return initial;
    }

    /**
     * The tables {@code rope_init_fn(config, device, seq_len=seqLen)} returns: for {@code dynamic} the NTK base
     * for that length, for {@code longrope} the long factors beyond the original context; the other types do
     * not depend on it.
     */
    public RopeTables tables(int seqLen) {
        return compute(seqLen);
    }

    /** A new per-sequence schedule starting from the initial tables. */
    public Schedule schedule() {
        return new Schedule();
    }

    private RopeTables compute(int seqLen) {
        String type = config.ropeType();
        return switch (type) {
            case "default" -> tables(defaultInvFreq(config.theta()), 1f, rotaryDim);
            case "linear" -> {
                float[] inv = defaultInvFreq(config.theta());
                float factor = (float) requireFactor();
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = inv[i] / factor;
                }
                yield tables(inv, 1f, rotaryDim);
            }
            case "dynamic" -> dynamic(seqLen);
            case "llama3" -> llama3();
            case "yarn" -> yarn();
            case "longrope" -> longRope(seqLen);
            default -> throw new UnsupportedOperationException("rope type '" + type + "' has no reference implementation");
        };
    }

    /**
     * The tables of {@code inv}, after dividing by the configuration's per-frequency factors, if any.
     */
    private RopeTables tables(float[] inv, float attention, int dim) {
        List<Double> ff = config.freqFactors();
        if (!ff.isEmpty()) {
            if (ff.size() != inv.length) {
                throw new IllegalArgumentException(ff.size() + " frequency factors for " + inv.length
                        + " rotary frequencies");
            }
            for (int i = 0; i < inv.length; i++) {
                inv[i] = (float) (inv[i] / ff.get(i));
            }
        }
        return new RopeTables(inv, attention, dim);
    }

    private double requireFactor() {
        return config.factor().orElseThrow(() -> new IllegalArgumentException(
                "rope type '" + config.ropeType() + "' needs a factor"));
    }

    /** {@code torch.arange(0, dim, 2).float() / dim}: the float32 exponent of pair {@code i}. */
    private float exponent(int i) {
        return (float) (2 * i) / (float) rotaryDim;
    }

    /** {@code base ** exponent} with a float32 tensor: the base as float32, the power rounded to float. */
    private float power(double base, int i) {
        return (float) Math.pow((float) base, exponent(i));
    }

    private float[] defaultInvFreq(double base) {
        float[] inv = new float[rotaryDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0f / power(base, i);
        }
        return inv;
    }

    private RopeTables dynamic(int seqLen) {
        double factor = requireFactor();
        int maxPos = maxPositionEmbeddings;
        double length = seqLen > maxPos ? seqLen : maxPos;
        double base = config.theta()
                * Math.pow(factor * length / maxPos - (factor - 1), (double) rotaryDim / (rotaryDim - 2));
        return tables(defaultInvFreq(base), 1f, rotaryDim);
    }

    private RopeTables llama3() {
        float[] inv = defaultInvFreq(config.theta());
        double factor = requireFactor();
        double low = config.lowFreqFactor().orElseThrow(() -> new IllegalArgumentException("llama3 needs low_freq_factor"));
        double high = config.highFreqFactor().orElseThrow(() -> new IllegalArgumentException("llama3 needs high_freq_factor"));
        int old = config.originalMaxPositionEmbeddings().orElse(maxPositionEmbeddings);
        // comparisons of a float32 tensor with a Python float happen in float32
        float lowFreqWavelen = (float) (old / low);
        float highFreqWavelen = (float) (old / high);
        float factorF = (float) factor;
        float[] out = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            // torch: python_scalar / tensor == reciprocal(tensor) * scalar, in float32
            float wavelen = (1.0f / inv[i]) * (float) (2 * Math.PI);
            float scaled = wavelen > lowFreqWavelen ? inv[i] / factorF : inv[i];
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                float smooth = ((1.0f / wavelen) * (float) old - (float) low) / (float) (high - low);
                scaled = (1 - smooth) * scaled / factorF + smooth * scaled;
            }
            out[i] = scaled;
        }
        return tables(out, 1f, rotaryDim);
    }

    private static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private RopeTables yarn() {
        double base = config.theta();
        int original = config.originalMaxPositionEmbeddings().orElse(maxPositionEmbeddings);
        double factor = config.factor().isPresent() ? config.factor().getAsDouble()
                : (double) maxPositionEmbeddings / original;
        double attention;
        if (config.attentionFactor().isPresent()) {
            attention = config.attentionFactor().getAsDouble();
        } else {
            double mscale = config.mscale().orElse(0);
            double mscaleAllDim = config.mscaleAllDim().orElse(0);
            attention = mscale != 0 && mscaleAllDim != 0
                    ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
                    : yarnMscale(factor, 1);
        }
        // "or 32" / "or 1": absent or zero takes the default
        double betaFast = config.betaFast().orElse(0) != 0 ? config.betaFast().getAsDouble() : 32;
        double betaSlow = config.betaSlow().orElse(0) != 0 ? config.betaSlow().getAsDouble() : 1;
        boolean truncate = config.truncate().orElse(true);

        double low = correctionDim(betaFast, base, original);
        double high = correctionDim(betaSlow, base, original);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, rotaryDim - 1);
        if (low == high) {
            high += 0.001; // transformers' guard against a zero-width ramp
        }
        float lowF = (float) low;
        float span = (float) (high - low);
        float factorF = (float) factor;
        float[] inv = new float[rotaryDim / 2];
        for (int i = 0; i < inv.length; i++) {
            float posFreq = power(base, i);
            float extrapolation = 1.0f / posFreq;
            float interpolation = 1.0f / (factorF * posFreq);
            float ramp = Math.min(1f, Math.max(0f, ((float) i - lowF) / span));
            float extrapolationFactor = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return tables(inv, (float) attention, rotaryDim);
    }

    /** YaRN's inverse dimension formula: the dimension whose wavelength fits {@code rotations} times in the context. */
    private double correctionDim(double rotations, double base, int context) {
        return rotaryDim * Math.log(context / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    private RopeTables longRope(int seqLen) {
        double base = config.theta();
        int original = config.originalMaxPositionEmbeddings().orElse(maxPositionEmbeddings);
        double factor = config.factor().isPresent() ? config.factor().getAsDouble()
                : (double) maxPositionEmbeddings / original;
        double attention;
        if (config.attentionFactor().isPresent()) {
            attention = config.attentionFactor().getAsDouble();
        } else if (factor <= 1.0) {
            attention = 1.0;
        } else {
            attention = Math.sqrt(1 + Math.log(factor) / Math.log(original));
        }
        List<Double> ext = seqLen > original ? config.longFactor() : config.shortFactor();
        if (ext.size() != rotaryDim / 2) {
            throw new IllegalArgumentException("longrope needs " + rotaryDim / 2 + " factors, has " + ext.size());
        }
        float[] inv = new float[rotaryDim / 2];
        for (int i = 0; i < inv.length; i++) {
            float e = ext.get(i).floatValue();
            inv[i] = 1.0f / (e * power(base, i));
        }
        return tables(inv, (float) attention, rotaryDim);
    }

    /**
     * The tables each forward pass of one sequence uses, as transformers' {@code dynamic_rope_update}
     * decides them from {@code seq_len = max(position_ids) + 1}:
     *
     * <ul>
     *   <li>{@code dynamic}: when {@code seq_len} exceeds the longest seen so far (initially
     *       {@code max_position_embeddings}) the tables are recomputed for it and kept; when it falls below
     *       {@code max_position_embeddings} after having grown, the initial tables come back. Keys already in
     *       the cache keep the rotation they were given (transformers caches rotated keys).</li>
     *   <li>{@code longrope}: the long-factor tables while {@code seq_len > original_max_position_embeddings}
     *       (or {@code max_position_embeddings} when none is given), else the initial (short) ones.</li>
     *   <li>other types: always the initial tables.</li>
     * </ul>
     * Not thread-safe: one schedule per sequence.
     */
    public final class Schedule {
        private RopeTables current = initial;
        private int maxSeqLenCached = maxPositionEmbeddings;
        private RopeTables longTables;

        private Schedule() {
        }

        /** The tables for a forward pass whose largest position id is {@code maxPosition}. */
        public RopeTables forward(int maxPosition) {
            int seqLen = maxPosition + 1;
            String type = config.ropeType();
            if (type.equals("dynamic")) {
                if (seqLen > maxSeqLenCached) {
                    current = compute(seqLen);
                    maxSeqLenCached = seqLen;
                }
                if (seqLen < maxPositionEmbeddings && maxSeqLenCached > maxPositionEmbeddings) {
                    current = initial;
                    maxSeqLenCached = maxPositionEmbeddings;
                }
                return current;
            }
            if (type.equals("longrope")) {
                int original = config.originalMaxPositionEmbeddings().orElse(maxPositionEmbeddings);
                if (seqLen > original) {
                    if (longTables == null) {
                        longTables = compute(original + 1);
                    }
                    return longTables;
                }
                return initial;
            }
            return initial;
        }

        /** The tables for a forward pass over {@code positions} (its largest decides). */
        public RopeTables forward(int[] positions) {
            int max = Integer.MIN_VALUE;
            for (int p : positions) {
                max = Math.max(max, p);
            }
            return forward(max);
        }
    }
}
