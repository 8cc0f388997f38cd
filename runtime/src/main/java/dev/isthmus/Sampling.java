package dev.isthmus;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;

/**
 * How the next token is chosen, and when generation stops: an immutable value with fluent withers.
 *
 * <pre>{@code
 * Sampling s = Sampling.defaults().temperature(0.7).topP(0.9).maxTokens(256).seed(42).stop("\n\n");
 * Sampling g = Sampling.greedy();
 * }</pre>
 *
 * <p>Every wither returns a new instance and validates its argument at once: an invalid value is an
 * {@link IllegalArgumentException} whose message names the parameter.
 *
 * <p><b>Order of the sampler chain</b> (llama.cpp's default order): logit bias; repetition, presence
 * and frequency penalties over the last {@link #penaltyWindow()} tokens; then, if the temperature is
 * 0, the highest logit (greedy; ties go to the lowest id); otherwise top-k, typical-p, top-p, min-p
 * (each on the softmax of the surviving candidates, before the temperature), the temperature, and a
 * draw from the softmax of what is left with the generation's own seeded random state.
 *
 * <p>Defaults ({@link #defaults()}): temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, typical-p 1
 * (off), no penalties (repetition 1, presence 0, frequency 0) over a window of 64 tokens, no logit
 * bias, no seed (each generation draws a fresh one), no stop strings or extra stop tokens, at most
 * 512 new tokens.
 */
public final class Sampling {
    private static final Sampling DEFAULTS = new Sampling(0.8, 40, 0.95, 0.05, 1.0, 1.0, 0.0, 0.0, 64,
            Map.of(), false, 0L, List.of(), Set.of(), 512);

    private final double temperature;
    private final int topK;
    private final double topP;
    private final double minP;
    private final double typicalP;
    private final double repetitionPenalty;
    private final double presencePenalty;
    private final double frequencyPenalty;
    private final int penaltyWindow;
    private final Map<Integer, Float> logitBias;   // unmodifiable, sorted by token id
    private final boolean seeded;
    private final long seed;
    private final List<String> stop;
    private final Set<Integer> stopTokens;
    private final int maxTokens;

    private Sampling(double temperature, int topK, double topP, double minP, double typicalP,
                     double repetitionPenalty, double presencePenalty, double frequencyPenalty,
                     int penaltyWindow, Map<Integer, Float> logitBias, boolean seeded, long seed,
                     List<String> stop, Set<Integer> stopTokens, int maxTokens) {
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.minP = minP;
        this.typicalP = typicalP;
        this.repetitionPenalty = repetitionPenalty;
        this.presencePenalty = presencePenalty;
        this.frequencyPenalty = frequencyPenalty;
        this.penaltyWindow = penaltyWindow;
        this.logitBias = logitBias;
        this.seeded = seeded;
        this.seed = seed;
        this.stop = stop;
        this.stopTokens = stopTokens;
        this.maxTokens = maxTokens;
    }

    /** The default settings (see the class comment). */
    public static Sampling defaults() {
        return DEFAULTS;
    }

    /** Greedy decoding: the defaults with temperature 0 (always the highest logit after bias and penalties). */
    public static Sampling greedy() {
        return DEFAULTS.temperature(0);
    }

    private Sampling with(double temperature, int topK, double topP, double minP, double typicalP,
                          double repetitionPenalty, double presencePenalty, double frequencyPenalty,
                          int penaltyWindow) {
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, logitBias, seeded, seed, stop, stopTokens, maxTokens);
    }

    private static double finite(String name, double v) {
        if (!Double.isFinite(v)) throw new IllegalArgumentException(name + " must be a finite number, got " + v);
        return v;
    }

    /** Temperature: 0 means greedy; otherwise logits are divided by it before the draw. Must be finite and ≥ 0. */
    public Sampling temperature(double temperature) {
        if (finite("temperature", temperature) < 0)
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /** Top-k: keep the k highest logits; 0 turns it off. Must be ≥ 0. */
    public Sampling topK(int topK) {
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /** Top-p (nucleus): keep the smallest set of most likely tokens whose probability reaches p; 1 turns it off. In (0, 1]. */
    public Sampling topP(double topP) {
        if (!(finite("topP", topP) > 0 && topP <= 1))
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /** Min-p: drop tokens whose probability is below minP times the top token's; 0 turns it off. In [0, 1]. */
    public Sampling minP(double minP) {
        if (!(finite("minP", minP) >= 0 && minP <= 1))
            throw new IllegalArgumentException("minP must be in [0, 1], got " + minP);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /** Locally typical sampling: keep the tokens closest to the expected surprise up to mass p; 1 turns it off. In (0, 1]. */
    public Sampling typicalP(double typicalP) {
        if (!(finite("typicalP", typicalP) > 0 && typicalP <= 1))
            throw new IllegalArgumentException("typicalP must be in (0, 1], got " + typicalP);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /**
     * Repetition penalty (CTRL style): a token seen in the window has its logit divided by the penalty
     * when positive and multiplied by it when negative; 1 turns it off. Must be finite and &gt; 0.
     */
    public Sampling repetitionPenalty(double penalty) {
        if (!(finite("repetitionPenalty", penalty) > 0))
            throw new IllegalArgumentException("repetitionPenalty must be > 0 (1 = off), got " + penalty);
        return with(temperature, topK, topP, minP, typicalP, penalty, presencePenalty, frequencyPenalty, penaltyWindow);
    }

    /** Presence penalty: subtracted once from the logit of every token seen in the window; 0 turns it off. Finite. */
    public Sampling presencePenalty(double penalty) {
        finite("presencePenalty", penalty);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, penalty, frequencyPenalty, penaltyWindow);
    }

    /** Frequency penalty: subtracted from a token's logit once per occurrence in the window; 0 turns it off. Finite. */
    public Sampling frequencyPenalty(double penalty) {
        finite("frequencyPenalty", penalty);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, penalty, penaltyWindow);
    }

    /** How many of the most recent tokens the penalties look at; 0 turns the penalties off. Must be ≥ 0. */
    public Sampling penaltyWindow(int tokens) {
        if (tokens < 0) throw new IllegalArgumentException("penaltyWindow must be >= 0, got " + tokens);
        return with(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty, frequencyPenalty, tokens);
    }

    /**
     * Adds {@code bias} to token {@code tokenId}'s logit (replacing an earlier bias for that token);
     * {@code Float.NEGATIVE_INFINITY} bans the token. The id must be ≥ 0 (the sampler checks it
     * against the vocabulary); the bias must not be NaN or +∞.
     */
    public Sampling logitBias(int tokenId, float bias) {
        if (tokenId < 0) throw new IllegalArgumentException("logitBias token id must be >= 0, got " + tokenId);
        if (Float.isNaN(bias) || bias == Float.POSITIVE_INFINITY)
            throw new IllegalArgumentException("logitBias for token " + tokenId + " must be finite or -Infinity, got " + bias);
        TreeMap<Integer, Float> m = new TreeMap<>(logitBias);
        m.put(tokenId, bias);
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, Collections.unmodifiableMap(m), seeded, seed, stop, stopTokens, maxTokens);
    }

    /** The random seed: the same seed and settings give the same tokens for the same logits. */
    public Sampling seed(long seed) {
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, logitBias, true, seed, stop, stopTokens, maxTokens);
    }

    /**
     * Adds stop strings: generation ends when the text contains one (also when it spans tokens); the
     * stop string itself is not emitted. Each must be non-null and non-empty.
     */
    public Sampling stop(String... strings) {
        Objects.requireNonNull(strings, "stop");
        LinkedHashSet<String> all = new LinkedHashSet<>(stop);
        for (String s : strings) {
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop strings must be non-empty, got " + (s == null ? "null" : "\"\""));
            all.add(s);
        }
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, logitBias, seeded, seed, List.copyOf(all), stopTokens, maxTokens);
    }

    /** Adds stop tokens (besides the model's own end-of-generation tokens). Each id must be ≥ 0. */
    public Sampling stopTokens(int... tokenIds) {
        Objects.requireNonNull(tokenIds, "stopTokens");
        LinkedHashSet<Integer> all = new LinkedHashSet<>(stopTokens);
        for (int t : tokenIds) {
            if (t < 0) throw new IllegalArgumentException("stopTokens ids must be >= 0, got " + t);
            all.add(t);
        }
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, logitBias, seeded, seed, stop, Collections.unmodifiableSet(all), maxTokens);
    }

    /** The most new tokens one generation may produce. Must be &gt; 0. */
    public Sampling maxTokens(int maxTokens) {
        if (maxTokens <= 0) throw new IllegalArgumentException("maxTokens must be > 0, got " + maxTokens);
        return new Sampling(temperature, topK, topP, minP, typicalP, repetitionPenalty, presencePenalty,
                frequencyPenalty, penaltyWindow, logitBias, seeded, seed, stop, stopTokens, maxTokens);
    }

    /** @return the temperature (0 = greedy) */
    public double temperature() { return temperature; }
    /** @return top-k (0 = off) */
    public int topK() { return topK; }
    /** @return top-p (1 = off) */
    public double topP() { return topP; }
    /** @return min-p (0 = off) */
    public double minP() { return minP; }
    /** @return typical-p (1 = off) */
    public double typicalP() { return typicalP; }
    /** @return the repetition penalty (1 = off) */
    public double repetitionPenalty() { return repetitionPenalty; }
    /** @return the presence penalty (0 = off) */
    public double presencePenalty() { return presencePenalty; }
    /** @return the frequency penalty (0 = off) */
    public double frequencyPenalty() { return frequencyPenalty; }
    /** @return how many recent tokens the penalties consider */
    public int penaltyWindow() { return penaltyWindow; }
    /** @return token id to logit bias, sorted by id (unmodifiable) */
    public Map<Integer, Float> logitBias() { return logitBias; }
    /** @return the seed, or empty when each generation draws its own */
    public OptionalLong seed() { return seeded ? OptionalLong.of(seed) : OptionalLong.empty(); }
    /** @return the stop strings, in the order given (unmodifiable) */
    public List<String> stop() { return stop; }
    /** @return the extra stop token ids (unmodifiable) */
    public Set<Integer> stopTokens() { return stopTokens; }
    /** @return the most new tokens one generation may produce */
    public int maxTokens() { return maxTokens; }

    /** @return whether the temperature is 0 (greedy) */
    public boolean isGreedy() { return temperature == 0; }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sampling s && temperature == s.temperature && topK == s.topK && topP == s.topP
                && minP == s.minP && typicalP == s.typicalP && repetitionPenalty == s.repetitionPenalty
                && presencePenalty == s.presencePenalty && frequencyPenalty == s.frequencyPenalty
                && penaltyWindow == s.penaltyWindow && logitBias.equals(s.logitBias) && seeded == s.seeded
                && seed == s.seed && stop.equals(s.stop) && stopTokens.equals(s.stopTokens) && maxTokens == s.maxTokens;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new Object[] {temperature, topK, topP, minP, typicalP, repetitionPenalty,
                presencePenalty, frequencyPenalty, penaltyWindow, logitBias, seeded, seed, stop, stopTokens, maxTokens});
    }

    @Override
    public String toString() {
        return "Sampling[temperature=" + temperature + ", topK=" + topK + ", topP=" + topP + ", minP=" + minP
                + ", typicalP=" + typicalP + ", repetitionPenalty=" + repetitionPenalty + ", presencePenalty="
                + presencePenalty + ", frequencyPenalty=" + frequencyPenalty + ", penaltyWindow=" + penaltyWindow
                + ", logitBias=" + logitBias + ", seed=" + (seeded ? Long.toString(seed) : "none") + ", stop="
                + stop + ", stopTokens=" + stopTokens + ", maxTokens=" + maxTokens + "]";
    }
}
