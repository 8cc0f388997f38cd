package dev.isthmus.runtime.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A vocabulary as llama.cpp keeps it: token texts, their types (GGUF's token-type numbers) and
 * scores, the text-to-id map, and the special ids.
 */
final class Vocab {
    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    /** Token texts that end generation even when the metadata does not say so (as llama.cpp). */
    static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
            "<|return|>", "<|call|>");

    final String[] tokens;
    final int[] types;
    final float[] scores;
    final Map<String, Integer> ids;
    final int maxTokenChars;

    int bos = -1;
    int eos = -1;
    int unk = -1;
    int sep = -1;
    boolean addBos;
    boolean addEos;
    boolean addSep;
    final BitSet eog = new BitSet();

    Vocab(List<String> texts, int[] types, float[] scores, String source) {
        int n = texts.size();
        if (n == 0) {
            throw new IllegalArgumentException(source + ": the vocabulary is empty");
        }
        if (types != null && types.length < n) {
            throw new IllegalArgumentException(source + ": " + types.length + " token types for " + n + " tokens");
        }
        if (scores != null && scores.length < n) {
            throw new IllegalArgumentException(source + ": " + scores.length + " token scores for " + n + " tokens");
        }
        this.tokens = new String[n];
        this.types = new int[n];
        this.scores = new float[n];
        this.ids = new HashMap<>(n * 2);
        int max = 0;
        for (int i = 0; i < n; i++) {
            String t = texts.get(i);
            if (t == null || t.isEmpty()) {
                t = "[EMPTY_" + i + "]";
            }
            tokens[i] = t;
            this.types[i] = types == null ? NORMAL : types[i];
            this.scores[i] = scores == null ? 0f : scores[i];
            Integer prev = ids.putIfAbsent(t, i);
            if (prev != null) {
                throw new IllegalArgumentException(source + ": duplicate token in the vocabulary: '" + t
                        + "' has ids " + prev + " and " + i);
            }
            max = Math.max(max, t.length());
        }
        this.maxTokenChars = max;
    }

    int size() {
        return tokens.length;
    }

    int id(String text) {
        Integer i = ids.get(text);
        return i == null ? -1 : i;
    }

    /**
     * The id of {@code text} when plain-text tokenization may produce it: not a control, unused
     * or unknown token (those come only from special-token parsing or the metadata), else -1.
     */
    int plainId(String text) {
        Integer i = ids.get(text);
        if (i == null) {
            return -1;
        }
        int t = types[i];
        return t == CONTROL || t == UNUSED || t == UNKNOWN ? -1 : i;
    }

    boolean valid(int id) {
        return id >= 0 && id < tokens.length;
    }

    /** Marks end-of-generation tokens: eos, the given extra ids, and tokens with an EOG text. */
    void markEog(int... extra) {
        if (valid(eos)) {
            eog.set(eos);
        }
        for (int e : extra) {
            if (valid(e)) {
                eog.set(e);
            }
        }
        for (String t : EOG_TEXTS) {
            int i = id(t);
            if (i >= 0) {
                eog.set(i);
                types[i] = CONTROL; // llama.cpp overrides these to control tokens too
            }
        }
    }

    /**
     * The ids that {@code parseSpecial = true} (all) or false (user-defined only) splits out of
     * text, longest text first (llama.cpp's order).
     */
    int[] specials(boolean control) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            int t = types[i];
            if (t == USER_DEFINED || (control && (t == CONTROL || t == UNKNOWN))) {
                l.add(i);
            }
        }
        l.sort((a, b) -> Integer.compare(tokens[b].length(), tokens[a].length()));
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
