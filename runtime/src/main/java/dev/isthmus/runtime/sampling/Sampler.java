package dev.isthmus.runtime.sampling;

import dev.isthmus.Sampling;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Picks the next token id from a row of logits, following a {@link Sampling}: one sampler per
 * generation (it owns the generation's random state and is not thread-safe).
 *
 * <p>The chain, in order (llama.cpp's default order): logit bias; repetition / presence / frequency
 * penalties over the last {@code penaltyWindow} ids of the history; greedy argmax when the
 * temperature is 0 (ties go to the lowest id); otherwise top-k, typical-p, top-p and min-p (each on
 * the softmax of the candidates still in play, before the temperature, as llama.cpp does), the
 * temperature, and a draw from the softmax of the survivors.
 *
 * <p>Allocation-free per token: the work arrays are sized to the vocabulary once, here. The
 * candidates are kept in an id array; top-k and top-p only order as many of them as they need
 * (selection of the largest, then a sort of that prefix), so a 150k vocabulary is not fully sorted
 * unless typical-p is on (which needs every candidate ordered by a different key). The random state
 * is the sampler's own {@link SplittableRandom}, seeded from {@link Sampling#seed()} when given, so the
 * same seed, settings and logits give the same tokens.
 */
public final class Sampler {
    /** Up to this top-k, candidates are chosen with a streaming heap instead of a selection over the vocabulary. */
    private static final int HEAP_TOP_K = 4096;

    private final Sampling s;
    private final int vocab;
    private final int[] biasIds;
    private final float[] biasValues;
    private final SplittableRandom random;

    private final float[] logits;   // working logits, indexed by token id
    private final int[] cand;       // candidate ids; [0, n) are in play
    private final float[] key;      // scratch per token id (typical-p distance) / probabilities
    private final int[] counts;     // occurrences in the penalty window, per token id
    private final int[] touched;    // ids whose counts are non-zero
    private int n;                  // candidates in play
    private int sorted;             // cand[0, sorted) is in descending logit order, and ≥ everything after it

    /**
     * @param sampling the settings
     * @param vocabSize the logits row length
     * @throws IllegalArgumentException if the vocabulary is empty or a logit-bias or stop token id is outside it
     */
    public Sampler(Sampling sampling, int vocabSize) {
        this.s = java.util.Objects.requireNonNull(sampling, "sampling");
        if (vocabSize <= 0) throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        this.vocab = vocabSize;
        Map<Integer, Float> bias = sampling.logitBias();
        biasIds = new int[bias.size()];
        biasValues = new float[bias.size()];
        int i = 0;
        for (var e : bias.entrySet()) {
            if (e.getKey() >= vocabSize)
                throw new IllegalArgumentException("logitBias token id " + e.getKey() + " is outside the vocabulary of " + vocabSize);
            biasIds[i] = e.getKey();
            biasValues[i++] = e.getValue();
        }
        for (int t : sampling.stopTokens())
            if (t >= vocabSize)
                throw new IllegalArgumentException("stopTokens id " + t + " is outside the vocabulary of " + vocabSize);
        random = sampling.seed().isPresent() ? new SplittableRandom(sampling.seed().getAsLong()) : new SplittableRandom();
        logits = new float[vocabSize];
        cand = new int[vocabSize];
        key = new float[vocabSize];
        counts = new int[vocabSize];
        touched = new int[Math.max(1, Math.min(sampling.penaltyWindow(), vocabSize))];
    }

    /** @return the settings this sampler follows */
    public Sampling sampling() {
        return s;
    }

    /** @return whether {@code id} is one of the settings' extra stop tokens */
    public boolean isStopToken(int id) {
        return s.stopTokens().contains(id);
    }

    /**
     * Picks the next token.
     *
     * @param row the logits, one per vocabulary entry (not modified)
     * @param history the ids so far (prompt and generated); the last {@code historyLength} entries
     *                starting at index 0 are used, of which the penalties see the last {@code penaltyWindow}
     * @param historyLength how many entries of {@code history} are valid
     * @return the chosen token id
     * @throws IllegalArgumentException if the row's length is not the vocabulary size, a logit is NaN or
     *         +∞, every logit is -∞, or a history id is outside the vocabulary
     */
    public int sample(float[] row, int[] history, int historyLength) {
        if (row.length != vocab)
            throw new IllegalArgumentException("logits row has " + row.length + " entries, the vocabulary has " + vocab);
        if (historyLength < 0 || historyLength > history.length)
            throw new IllegalArgumentException("historyLength " + historyLength + " is outside the history array of " + history.length);
        for (int i = 0; i < vocab; i++) {
            float v = row[i];
            if (Float.isNaN(v) || v == Float.POSITIVE_INFINITY)
                throw new IllegalArgumentException("logit " + i + " is " + v);
            logits[i] = v;
        }
        for (int i = 0; i < biasIds.length; i++) logits[biasIds[i]] += biasValues[i];
        applyPenalties(history, historyLength);

        if (s.isGreedy()) {
            int best = argmax();
            cand[0] = best;
            n = 1;
            return best;
        }

        int k = s.topK();
        if (k > 0 && k <= HEAP_TOP_K) {
            // one streaming pass with a k-element heap: far cheaper than selecting over the whole vocabulary
            n = heapTopK(k);
            sorted = n;
        } else {
            n = 0;
            for (int i = 0; i < vocab; i++) if (logits[i] != Float.NEGATIVE_INFINITY) cand[n++] = i;
            sorted = 0;
            if (k > 0 && k < n) {
                ensureSorted(k);
                n = k;
            }
        }
        if (n == 0) throw new IllegalArgumentException("every logit is -Infinity after bias and penalties: nothing to sample");
        if (s.typicalP() < 1) typical(s.typicalP());
        if (s.topP() < 1) topP(s.topP());
        if (s.minP() > 0) minP(s.minP());
        return draw();
    }

    /**
     * The working logits of the last {@link #sample} call after logit bias and penalties (before
     * temperature), indexed by token id. A view for diagnostics and tests, overwritten by the next call.
     */
    public float[] processedLogits() {
        return logits;
    }

    /**
     * How many candidates survived top-k, typical-p, top-p and min-p in the last {@link #sample} call
     * (the set the token was drawn from; 1 when greedy).
     */
    public int candidateCount() {
        return n;
    }

    /**
     * @param i an index below {@link #candidateCount()}
     * @return the i-th surviving candidate's token id (in no particular order)
     */
    public int candidate(int i) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("candidate " + i + " of " + n);
        return cand[i];
    }

    private void applyPenalties(int[] history, int historyLength) {
        int window = Math.min(s.penaltyWindow(), historyLength);
        boolean on = s.repetitionPenalty() != 1 || s.presencePenalty() != 0 || s.frequencyPenalty() != 0;
        if (!on || window == 0) return;
        int nt = 0;
        for (int i = historyLength - window; i < historyLength; i++) {
            int id = history[i];
            if (id < 0 || id >= vocab)
                throw new IllegalArgumentException("history[" + i + "] = " + id + " is outside the vocabulary of " + vocab);
            if (counts[id]++ == 0) touched[nt++] = id;
        }
        float rep = (float) s.repetitionPenalty();
        float pres = (float) s.presencePenalty();
        float freq = (float) s.frequencyPenalty();
        for (int i = 0; i < nt; i++) {
            int id = touched[i];
            float v = logits[id];
            if (rep != 1) v = v > 0 ? v / rep : v * rep;
            v -= counts[id] * freq + pres;
            logits[id] = v;
            counts[id] = 0;
        }
    }

    private int argmax() {
        int best = -1;
        float bv = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            if (logits[i] > bv) { bv = logits[i]; best = i; }
        }
        if (best < 0) throw new IllegalArgumentException("every logit is -Infinity after bias and penalties: nothing to sample");
        return best;
    }

    /** Softmax of the candidates' logits, scaled by {@code invT}, into key[id]. */
    private void softmax(float invT) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[cand[i]]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            int id = cand[i];
            float p = (float) Math.exp((logits[id] - max) * invT);
            key[id] = p;
            sum += p;
        }
        float inv = (float) (1 / sum);
        for (int i = 0; i < n; i++) key[cand[i]] *= inv;
    }

    private void topP(double p) {
        softmax(1f);
        double cum = 0;
        int k = 0;
        int step = 64;
        while (true) {
            ensureSorted(Math.min(n, k + step));
            int end = Math.min(n, k + step);
            for (; k < end; k++) {
                cum += key[cand[k]];
                if (cum >= p) { n = k + 1; return; }
            }
            if (k >= n) return;  // rounding: the whole set is the nucleus
            step *= 4;
        }
    }

    private void minP(double p) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[cand[i]]);
        // p_i >= minP * p_max  <=>  logit_i >= logit_max + ln(minP)
        float threshold = (float) (max + Math.log(p));
        int w = 0;
        for (int i = 0; i < n; i++) {
            int id = cand[i];
            if (logits[id] >= threshold) cand[w++] = id;
        }
        // a stable in-place filter keeps relative order, so a sorted prefix stays a sorted prefix
        sorted = Math.min(sorted, w);
        n = w;
    }

    private void typical(double p) {
        softmax(1f);
        double entropy = 0;
        for (int i = 0; i < n; i++) {
            float q = key[cand[i]];
            if (q > 0) entropy -= q * Math.log(q);
        }
        // order every candidate by |(-log p) - H| ascending, keep until the mass reaches p
        for (int i = 0; i < n; i++) {
            int id = cand[i];
            float q = key[id];
            counts[id] = Float.floatToRawIntBits(q);  // stash the probability (counts are all 0 here)
            key[id] = (float) Math.abs(-Math.log(q) - entropy);
        }
        sortAscendingByKey(0, n);
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += Float.intBitsToFloat(counts[cand[i]]);
            if (cum >= p) { keep = i + 1; break; }
        }
        for (int i = 0; i < n; i++) counts[cand[i]] = 0;
        n = keep;
        sorted = 0;  // the order is by typicality, not by logit
    }

    private int draw() {
        float invT = (float) (1 / s.temperature());
        softmax(invT);
        double r = random.nextDouble();
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += key[cand[i]];
            if (r < cum) return cand[i];
        }
        return cand[n - 1];  // rounding: r landed past the last cumulative sum
    }

    // ---- ordering of candidate ids by logit, descending, ties by lower id ----

    private boolean before(int a, int b) {
        float la = logits[a], lb = logits[b];
        return la > lb || (la == lb && a < b);
    }

    private void swap(int i, int j) {
        int t = cand[i]; cand[i] = cand[j]; cand[j] = t;
    }

    /**
     * The k best finite logits into cand[0, size), best first, by one pass with a heap whose root is
     * the worst kept (ids arrive in increasing order, so at equal logits the earlier id stays).
     */
    private int heapTopK(int k) {
        int size = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits[i];
            if (v == Float.NEGATIVE_INFINITY) continue;
            if (size < k) {
                int at = size++;
                cand[at] = i;
                while (at > 0) {
                    int parent = (at - 1) >>> 1;
                    if (!before(cand[parent], cand[at])) break;
                    swap(parent, at);
                    at = parent;
                }
            } else if (v > logits[cand[0]]) {
                cand[0] = i;
                siftWorst(0, 0, size);
            }
        }
        heapSortDescending(0, size);
        return size;
    }

    /** Makes cand[0, k) the k best candidates in order (k ≤ n), keeping cand[0, sorted) as it is. */
    private void ensureSorted(int k) {
        if (k <= sorted) return;
        select(sorted, n, k);
        heapSortDescending(sorted, k);
        sorted = k;
    }

    /** Rearranges cand[lo, hi) so that cand[lo, k) holds its best k - lo elements (any order). */
    private void select(int lo, int hi, int k) {
        int depth = 2 * (32 - Integer.numberOfLeadingZeros(hi - lo + 1));
        while (hi - lo > 16) {
            if (depth-- == 0) { heapSortDescending(lo, hi); return; }
            int mid = (lo + hi) >>> 1;
            // median of three as the pivot, moved to hi - 1
            if (before(cand[mid], cand[lo])) swap(mid, lo);
            if (before(cand[hi - 1], cand[lo])) swap(hi - 1, lo);
            if (before(cand[hi - 1], cand[mid])) swap(hi - 1, mid);
            swap(mid, hi - 1);
            int pivot = cand[hi - 1];
            int store = lo;
            for (int i = lo; i < hi - 1; i++) if (before(cand[i], pivot)) swap(i, store++);
            swap(store, hi - 1);
            if (store == k || store + 1 == k) return;
            if (store < k) lo = store + 1; else hi = store;
        }
        heapSortDescending(lo, hi);
    }

    private void heapSortDescending(int lo, int hi) {
        int len = hi - lo;
        // a min-heap by "before" puts the worst at the root; extracting to the end sorts best-first
        for (int i = len / 2 - 1; i >= 0; i--) siftWorst(lo, i, len);
        for (int end = len - 1; end > 0; end--) {
            swap(lo, lo + end);
            siftWorst(lo, 0, end);
        }
    }

    private void siftWorst(int lo, int i, int len) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= len) return;
            int r = l + 1;
            int worst = (r < len && before(cand[lo + l], cand[lo + r])) ? r : l;
            if (before(cand[lo + worst], cand[lo + i])) return;
            swap(lo + i, lo + worst);
            i = worst;
        }
    }

    /** Heap sort of cand[lo, hi) by key[id] ascending, ties by lower id. */
    private void sortAscendingByKey(int lo, int hi) {
        int len = hi - lo;
        for (int i = len / 2 - 1; i >= 0; i--) siftKey(lo, i, len);
        for (int end = len - 1; end > 0; end--) {
            swap(lo, lo + end);
            siftKey(lo, 0, end);
        }
    }

    private boolean keyLess(int a, int b) {
        return key[a] < key[b] || (key[a] == key[b] && a < b);
    }

    private void siftKey(int lo, int i, int len) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= len) return;
            int r = l + 1;
            int big = (r < len && keyLess(cand[lo + l], cand[lo + r])) ? r : l;
            if (!keyLess(cand[lo + i], cand[lo + big])) return;
            swap(lo + i, lo + big);
            i = big;
        }
    }
}
