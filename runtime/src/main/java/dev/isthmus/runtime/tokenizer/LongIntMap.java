package dev.isthmus.runtime.tokenizer;

import java.util.Arrays;

/** Open-addressing map from long keys to int values (a BPE merge table), without boxing. */
final class LongIntMap {
    private long[] keys;
    private int[] values;
    private boolean[] used;
    private int size;
    private int mask;

    LongIntMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new int[cap];
        used = new boolean[cap];
        mask = cap - 1;
    }

    private static int hash(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return (int) k;
    }

    /** Puts {@code k -> v} unless {@code k} is already present (first one wins). */
    void putIfAbsent(long k, int v) {
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int i = hash(k) & mask;
        while (used[i]) {
            if (keys[i] == k) {
                return;
            }
            i = (i + 1) & mask;
        }
        used[i] = true;
        keys[i] = k;
        values[i] = v;
        size++;
    }

    /** The value of {@code k}, or -1. */
    int get(long k) {
        int i = hash(k) & mask;
        while (used[i]) {
            if (keys[i] == k) {
                return values[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    private void grow() {
        long[] ok = keys;
        int[] ov = values;
        boolean[] ou = used;
        keys = new long[ok.length * 2];
        values = new int[ok.length * 2];
        used = new boolean[ok.length * 2];
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < ok.length; i++) {
            if (ou[i]) {
                putIfAbsent(ok[i], ov[i]);
            }
        }
    }

    int size() {
        return size;
    }

    @Override
    public String toString() {
        return "LongIntMap[" + size + "]" + Arrays.hashCode(values);
    }
}
