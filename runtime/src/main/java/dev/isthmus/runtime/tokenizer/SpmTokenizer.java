package dev.isthmus.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * SentencePiece-style tokenizer ({@code tokenizer.ggml.model = llama}) as llama.cpp runs it:
 * spaces become {@code ▁} (with one in front of the text, {@code add_space_prefix}), the text is
 * split into characters, and the adjacent pair whose joined text is the vocabulary entry with the
 * highest score is merged until no pair is in the vocabulary (ties: the leftmost pair). Pieces left
 * that are not tokens are re-split along the merges that made them, and characters that are not
 * tokens fall back to their UTF-8 bytes ({@code <0xXX>} tokens).
 */
final class SpmTokenizer extends BaseTokenizer {
    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256];
    /** Whether no token has ▁ after another character, so that no merge crosses the start of a word. */
    final boolean splitWords;
    private final ThreadLocal<WordCache> cache = ThreadLocal.withInitial(WordCache::new);

    SpmTokenizer(Vocab vocab, boolean addSpacePrefix) {
        this(vocab, addSpacePrefix, true);
    }

    /** {@code allowSplit = false} merges every run of text as a whole, as llama.cpp does (for tests). */
    SpmTokenizer(Vocab vocab, boolean addSpacePrefix, boolean allowSplit) {
        super(vocab);
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) {
                id = vocab.id(String.valueOf((char) b));
            }
            byteTokens[b] = id >= 0 ? id : vocab.unk;
        }
        boolean split = allowSplit;
        for (String t : vocab.tokens) {
            for (int i = 1; i < t.length() && split; i++) {
                if (t.charAt(i) == '\u2581' && t.charAt(i - 1) != '\u2581') {
                    split = false;
                }
            }
        }
        this.splitWords = split;
    }

    @Override
    boolean stripsLeadingSpace() {
        return addSpacePrefix;
    }

    @Override
    byte[] normalBytes(int id) {
        return vocab.tokens[id].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    @Override
    byte[] userDefinedBytes(int id) {
        return normalBytes(id);
    }

    @Override
    void encodeText(String text, int start, int end, boolean afterSpecial, IntList out) {
        StringBuilder b = new StringBuilder(end - start + 1);
        if (addSpacePrefix && afterSpecial) {
            b.append('\u2581');
        }
        for (int i = start; i < end; i++) {
            char c = text.charAt(i);
            b.append(c == ' ' ? '\u2581' : c);
        }
        String t = b.toString();
        if (!splitWords) {
            new Session(t).run(out);
            return;
        }
        // words: a run of ▁ and the characters up to the next ▁ that follows another character;
        // merging each word alone gives the same tokens as merging the whole text (see splitWords)
        WordCache c = cache.get();
        int n = t.length();
        int ws = 0;
        for (int i = 1; i <= n; i++) {
            if (i == n || (t.charAt(i) == '\u2581' && t.charAt(i - 1) != '\u2581')) {
                int h = WordCache.hash(t, ws, i);
                int[] ids = c.get(t, ws, i, h);
                if (ids == null) {
                    String w = t.substring(ws, i);
                    IntList l = new IntList(8);
                    new Session(w).run(l);
                    ids = l.toArray();
                    c.put(w, h, ids);
                }
                out.addAll(ids);
                ws = i;
            }
        }
    }

    /** One run of the merge loop (llama.cpp's {@code llm_tokenizer_spm_session}). */
    private final class Session {
        final String s;
        final int[] start;
        final int[] len;
        final int[] prev;
        final int[] next;
        final Map<String, Long> revMerge = new HashMap<>();
        // the work queue: a binary heap of bigrams, best score first, then leftmost
        float[] hScore = new float[16];
        int[] hLeft = new int[16];
        int[] hRight = new int[16];
        int[] hSize = new int[16];
        int hn;

        Session(String s) {
            this.s = s;
            int n = s.codePointCount(0, s.length());
            start = new int[n];
            len = new int[n];
            prev = new int[n];
            next = new int[n];
            int off = 0;
            for (int i = 0; i < n; i++) {
                int l = Character.charCount(s.codePointAt(off));
                start[i] = off;
                len[i] = l;
                prev[i] = i - 1;
                off += l;
                next[i] = off == s.length() ? -1 : i + 1;
            }
        }

        void run(IntList out) {
            int n = start.length;
            if (n == 0) {
                return;
            }
            for (int i = 1; i < n; i++) {
                tryAdd(i - 1, i);
            }
            while (hn > 0) {
                int l = hLeft[0];
                int r = hRight[0];
                int size = hSize[0];
                pop();
                if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != size) {
                    continue;
                }
                len[l] += len[r];
                len[r] = 0;
                next[l] = next[r];
                if (next[r] >= 0) {
                    prev[next[r]] = l;
                }
                tryAdd(prev[l], l);
                tryAdd(l, next[l]);
            }
            for (int i = 0; i != -1; i = next[i]) {
                resegment(i, out);
            }
        }

        private void resegment(int i, IntList out) {
            String t = s.substring(start[i], start[i] + len[i]);
            int id = vocab.plainId(t);
            if (id >= 0) {
                out.add(id);
                return;
            }
            Long p = revMerge.get(t);
            if (p == null) {
                for (byte by : t.getBytes(StandardCharsets.UTF_8)) {
                    int bt = byteTokens[by & 0xFF];
                    if (bt < 0) {
                        throw new IllegalStateException("no byte-fallback token for byte 0x"
                                + Integer.toHexString(by & 0xFF) + " and no unknown token");
                    }
                    out.add(bt);
                }
                return;
            }
            resegment((int) (p >>> 32), out);
            resegment((int) (long) p, out);
        }

        private void tryAdd(int l, int r) {
            if (l < 0 || r < 0) {
                return;
            }
            String t = s.substring(start[l], start[l] + len[l] + len[r]);
            int id = vocab.plainId(t);
            if (id < 0) {
                return;
            }
            push(vocab.scores[id], l, r, len[l] + len[r]);
            revMerge.put(t, ((long) l << 32) | (r & 0xFFFFFFFFL));
        }

        private boolean better(int a, int b) {
            return hScore[a] > hScore[b] || (hScore[a] == hScore[b] && hLeft[a] < hLeft[b]);
        }

        private void push(float score, int l, int r, int size) {
            if (hn == hScore.length) {
                int c = hn * 2;
                hScore = java.util.Arrays.copyOf(hScore, c);
                hLeft = java.util.Arrays.copyOf(hLeft, c);
                hRight = java.util.Arrays.copyOf(hRight, c);
                hSize = java.util.Arrays.copyOf(hSize, c);
            }
            int i = hn++;
            hScore[i] = score;
            hLeft[i] = l;
            hRight[i] = r;
            hSize[i] = size;
            while (i > 0) {
                int p = (i - 1) / 2;
                if (!better(i, p)) {
                    break;
                }
                swap(i, p);
                i = p;
            }
        }

        private void pop() {
            hn--;
            if (hn == 0) {
                return;
            }
            hScore[0] = hScore[hn];
            hLeft[0] = hLeft[hn];
            hRight[0] = hRight[hn];
            hSize[0] = hSize[hn];
            int i = 0;
            while (true) {
                int a = 2 * i + 1;
                if (a >= hn) {
                    break;
                }
                int c = a + 1 < hn && better(a + 1, a) ? a + 1 : a;
                if (!better(c, i)) {
                    break;
                }
                swap(i, c);
                i = c;
            }
        }

        private void swap(int a, int b) {
            float f = hScore[a];
            hScore[a] = hScore[b];
            hScore[b] = f;
            int t = hLeft[a];
            hLeft[a] = hLeft[b];
            hLeft[b] = t;
            t = hRight[a];
            hRight[a] = hRight[b];
            hRight[b] = t;
            t = hSize[a];
            hSize[a] = hSize[b];
            hSize[b] = t;
        }
    }
}
