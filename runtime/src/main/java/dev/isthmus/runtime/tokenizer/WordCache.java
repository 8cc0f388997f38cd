package dev.isthmus.runtime.tokenizer;

/**
 * The tokens of recently seen words, looked up by a range of a string without copying it. One
 * per thread (not thread-safe); when full it starts over.
 */
final class WordCache {
    private static final int CAPACITY = 1 << 15; // entries; the table has twice as many slots
    private final String[] keys = new String[CAPACITY * 2];
    private final int[][] values = new int[CAPACITY * 2][];
    private final int[] hashes = new int[CAPACITY * 2];
    private final int mask = CAPACITY * 2 - 1;
    private int size;

    static int hash(String s, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            h = 31 * h + s.charAt(i);
        }
        return h ^ (h >>> 16);
    }

    /** The tokens of {@code s[start, end)}, or null. */
    int[] get(String s, int start, int end, int hash) {
        int len = end - start;
        for (int i = hash & mask; keys[i] != null; i = (i + 1) & mask) {
            if (hashes[i] == hash && keys[i].length() == len && s.regionMatches(start, keys[i], 0, len)) {
                return values[i];
            }
        }
        return null;
    }

    void put(String key, int hash, int[] tokens) {
        if (size >= CAPACITY) {
            java.util.Arrays.fill(keys, null);
            java.util.Arrays.fill(values, null);
            size = 0;
        }
        int i = hash & mask;
        while (keys[i] != null) {
            i = (i + 1) & mask;
        }
        keys[i] = key;
        hashes[i] = hash;
        values[i] = tokens;
        size++;
    }
}
