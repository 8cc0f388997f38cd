package dev.isthmus.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BPE over merge ranks, as llama.cpp's {@code llm_tokenizer_bpe} and Hugging Face's BPE model run
 * it: the text is split into words by a {@link PreTokenizer}; in each word the adjacent pair with
 * the lowest merge rank is merged (ties: the leftmost) until no pair has a merge.
 *
 * <p>Two alphabets: byte-level (GPT-2: every UTF-8 byte is a symbol of the byte alphabet, GGUF
 * {@code gpt2} and HF ByteLevel) and character-level with byte fallback (HF Metaspace/SentencePiece
 * BPE: characters that are not tokens become {@code <0xXX>} tokens). Merged words are cached.
 */
final class BpeTokenizer extends BaseTokenizer {
    /** Rewrites a run of plain text before it is split ({@code atStart}: the run starts the input). */
    interface Normalizer {
        String apply(String text, boolean atStart);
    }

    private final PreTokenizer pre;
    private final boolean byteLevel;
    private final boolean ignoreMerges;
    private final boolean byteFallback;
    private final Normalizer normalizer;
    private final boolean stripLeadingSpace;
    private final LongIntMap ranks;
    private final int[] mergeResult;
    private final int[] byteIds = new int[256];
    private final Map<String, Integer> rawIds;
    /** Words up to this many symbols merge by scanning, longer ones through a heap (a field for tests). */
    int shortWordLimit = 64;
    private final ThreadLocal<WordCache> cache = ThreadLocal.withInitial(WordCache::new);

    BpeTokenizer(Vocab vocab, List<String> merges, PreTokenizer pre, boolean byteLevel, boolean ignoreMerges,
            boolean byteFallback, Normalizer normalizer, boolean stripLeadingSpace) {
        super(vocab);
        this.pre = pre;
        this.byteLevel = byteLevel;
        this.ignoreMerges = ignoreMerges;
        this.byteFallback = byteFallback;
        this.normalizer = normalizer;
        this.stripLeadingSpace = stripLeadingSpace;
        this.ranks = new LongIntMap(merges.size());
        this.mergeResult = new int[merges.size()];
        for (int r = 0; r < merges.size(); r++) {
            String m = merges.get(r);
            int sp = m.indexOf(' ', 1);
            mergeResult[r] = -1;
            if (sp < 0) {
                continue;
            }
            int a = vocab.id(m.substring(0, sp));
            int b = vocab.id(m.substring(sp + 1));
            int ab = vocab.plainId(m.substring(0, sp) + m.substring(sp + 1)); // never merge into a control token
            if (a < 0 || b < 0 || ab < 0) {
                continue; // a merge whose parts or result are not tokens can never apply to token symbols
            }
            mergeResult[r] = ab;
            ranks.putIfAbsent(((long) a << 32) | (b & 0xFFFFFFFFL), r);
        }
        for (int b = 0; b < 256; b++) {
            byteIds[b] = byteLevel ? vocab.id(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]))
                    : vocab.id(String.format("<0x%02X>", b));
        }
        if (byteLevel && ignoreMerges) {
            rawIds = new HashMap<>(vocab.size() * 2);
            for (int i = 0; i < vocab.size(); i++) {
                if (vocab.types[i] == Vocab.NORMAL) {
                    byte[] bytes = ByteLevel.decode(vocab.tokens[i]);
                    String raw = new String(bytes, StandardCharsets.UTF_8);
                    if (java.util.Arrays.equals(raw.getBytes(StandardCharsets.UTF_8), bytes)) {
                        rawIds.putIfAbsent(raw, i);
                    }
                }
            }
        } else {
            rawIds = null;
        }
    }

    @Override
    boolean stripsLeadingSpace() {
        return stripLeadingSpace;
    }

    @Override
    byte[] normalBytes(int id) {
        return byteLevel ? ByteLevel.decode(vocab.tokens[id])
                : vocab.tokens[id].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    @Override
    void encodeText(String text, int start, int end, boolean afterSpecial, IntList out) {
        if (normalizer != null) {
            text = normalizer.apply(text.substring(start, end), start == 0);
            start = 0;
            end = text.length();
        }
        IntList words = new IntList(Math.min(1 << 16, (end - start) / 2 + 8));
        pre.split(text, start, end, words);
        WordCache c = cache.get();
        for (int i = 0; i < words.size(); i += 2) {
            int ws = words.get(i);
            int we = words.get(i + 1);
            int h = WordCache.hash(text, ws, we);
            int[] ids = c.get(text, ws, we, h);
            if (ids == null) {
                String w = text.substring(ws, we);
                ids = word(w);
                c.put(w, h, ids);
            }
            out.addAll(ids);
        }
    }

    /** The tokens of one word. */
    private int[] word(String w) {
        if (ignoreMerges) {
            int whole = byteLevel ? rawIds.getOrDefault(w, -1) : vocab.plainId(w);
            if (whole >= 0) {
                return new int[] {whole};
            }
        }
        int[] syms;
        int n;
        if (byteLevel) {
            byte[] bytes = w.getBytes(StandardCharsets.UTF_8);
            syms = new int[bytes.length];
            n = bytes.length;
            for (int i = 0; i < n; i++) {
                syms[i] = byteIds[bytes[i] & 0xFF];
            }
        } else {
            IntList l = new IntList(w.length());
            for (int i = 0; i < w.length(); ) {
                int cp = w.codePointAt(i);
                int len = Character.charCount(cp);
                int id = vocab.plainId(w.substring(i, i + len));
                if (id >= 0) {
                    l.add(id);
                } else if (byteFallback) {
                    for (byte b : w.substring(i, i + len).getBytes(StandardCharsets.UTF_8)) {
                        l.add(byteIds[b & 0xFF] >= 0 ? byteIds[b & 0xFF] : vocab.unk);
                    }
                } else {
                    l.add(vocab.unk);
                }
                i += len;
            }
            syms = l.toArray();
            n = syms.length;
        }
        if (n > 1 && n <= shortWordLimit) {
            mergeShort(syms, n);
        } else if (n > shortWordLimit) {
            mergeLong(syms, n);
        }
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (syms[i] >= 0) { // merged-away and unknown symbols are -1
                syms[k++] = syms[i];
            }
        }
        return k == syms.length ? syms : java.util.Arrays.copyOf(syms, k);
    }

    /** Short words: scan for the lowest-ranked pair each round (O(n^2), fastest for the usual word). */
    private void mergeShort(int[] syms, int len) {
        int n = len;
        int[] r = new int[n - 1];
        int[] pos = new int[n]; // compacted working copy
        System.arraycopy(syms, 0, pos, 0, n);
        for (int i = 0; i < n - 1; i++) {
            r[i] = rank(pos[i], pos[i + 1]);
        }
        while (true) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i < n - 1; i++) {
                if (r[i] >= 0 && r[i] < bestRank) {
                    bestRank = r[i];
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            pos[best] = mergeResult[bestRank];
            System.arraycopy(pos, best + 2, pos, best + 1, n - best - 2);
            System.arraycopy(r, best + 1, r, best, n - best - 2);
            n--;
            if (best > 0) {
                r[best - 1] = rank(pos[best - 1], pos[best]);
            }
            if (best < n - 1) {
                r[best] = rank(pos[best], pos[best + 1]);
            }
        }
        System.arraycopy(pos, 0, syms, 0, n);
        java.util.Arrays.fill(syms, n, len, -1);
    }

    /**
     * Long words: llama.cpp's way, a linked list of symbols and a heap of candidate pairs ordered
     * by rank then position (O(n log n), so a megabyte-long word is not quadratic).
     */
    private void mergeLong(int[] syms, int n) {
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // heap entries: (rank << 32 | left) as one long; the pair is (left, next[left]) when popped
        long[] heap = new long[2 * n]; // n - 1 pairs at first, then at most one more per merge
        int hn = 0;
        for (int i = 0; i + 1 < n; i++) {
            int rk = rank(syms[i], syms[i + 1]);
            if (rk >= 0) {
                heap[hn++] = ((long) rk << 32) | i;
            }
        }
        java.util.Arrays.sort(heap, 0, hn); // a sorted array is a valid min-heap
        while (hn > 0) {
            long top = heap[0];
            heap[0] = heap[--hn];
            siftDown(heap, hn, 0);
            int left = (int) top;
            int rk = (int) (top >>> 32);
            int right = next[left];
            if (syms[left] < 0 || right < 0 || rank(syms[left], syms[right]) != rk) {
                continue; // stale: the pair changed since it was pushed
            }
            syms[left] = mergeResult[rk];
            syms[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                int r2 = rank(syms[prev[left]], syms[left]);
                if (r2 >= 0) {
                    hn = push(heap, hn, ((long) r2 << 32) | prev[left]);
                }
            }
            if (next[left] >= 0) {
                int r2 = rank(syms[left], syms[next[left]]);
                if (r2 >= 0) {
                    hn = push(heap, hn, ((long) r2 << 32) | left);
                }
            }
        }
    }

    private static int push(long[] heap, int hn, long v) {
        int i = hn++;
        heap[i] = v;
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (heap[p] <= heap[i]) {
                break;
            }
            long t = heap[p];
            heap[p] = heap[i];
            heap[i] = t;
            i = p;
        }
        return hn;
    }

    private static void siftDown(long[] heap, int hn, int i) {
        while (true) {
            int a = 2 * i + 1;
            if (a >= hn) {
                return;
            }
            int c = a + 1 < hn && heap[a + 1] < heap[a] ? a + 1 : a;
            if (heap[i] <= heap[c]) {
                return;
            }
            long t = heap[c];
            heap[c] = heap[i];
            heap[i] = t;
            i = c;
        }
    }

    private int rank(int a, int b) {
        if (a < 0 || b < 0) {
            return -1;
        }
        return ranks.get(((long) a << 32) | (b & 0xFFFFFFFFL));
    }
}
