package dev.isthmus.runtime.tokenizer;

import java.util.Arrays;

/** A growable array of ints (token ids), so that encoding does not box. */
final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
        a = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (n == a.length) {
            a = Arrays.copyOf(a, a.length * 2);
        }
        a[n++] = v;
    }

    void addAll(int[] v) {
        if (n + v.length > a.length) {
            a = Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
        }
        System.arraycopy(v, 0, a, n, v.length);
        n += v.length;
    }

    int size() {
        return n;
    }

    int get(int i) {
        return a[i];
    }

    void truncate(int size) {
        n = size;
    }

    int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
