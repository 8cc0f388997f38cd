package dev.isthmus.memory.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Deterministic test values: each (salt, layer, token, head, element) gets its own F32-exact value. */
final class KvCacheTestSupport {
    private KvCacheTestSupport() {
    }

    static float[] key(int salt, int layer, int token, int head, int dim) {
        float[] v = new float[dim];
        for (int i = 0; i < dim; i++) {
            v[i] = salt * 1000f + layer * 100f + token + head * 0.5f + i * 0.001f;
        }
        return v;
    }

    static float[] value(int salt, int layer, int token, int head, int dim) {
        float[] v = key(salt, layer, token, head, dim);
        for (int i = 0; i < dim; i++) {
            v[i] = -v[i];
        }
        return v;
    }

    /** Writes key and value of every layer and head for tokens [from, to). */
    static void fill(KvSequence seq, int salt, int from, int to) {
        KvCacheConfig c = seq.pool().config();
        for (int l = 0; l < c.layerCount(); l++) {
            for (int t = from; t < to; t++) {
                for (int h = 0; h < c.layer(l).kvHeads(); h++) {
                    int dim = c.layer(l).headDim();
                    seq.writeKey(l, t, h, key(salt, l, t, h, dim), 0);
                    seq.writeValue(l, t, h, value(salt, l, t, h, dim), 0);
                }
            }
        }
    }

    /** Checks key and value of every layer and head for tokens [from, to) (F32 caches: exact). */
    static void check(KvSequence seq, int salt, int from, int to) {
        KvCacheConfig c = seq.pool().config();
        for (int l = 0; l < c.layerCount(); l++) {
            for (int t = from; t < to; t++) {
                if (t < seq.firstLiveToken(l)) {
                    continue;
                }
                for (int h = 0; h < c.layer(l).kvHeads(); h++) {
                    int dim = c.layer(l).headDim();
                    float[] got = new float[dim];
                    seq.readKey(l, t, h, got, 0);
                    assertEquals(java.util.Arrays.toString(key(salt, l, t, h, dim)), java.util.Arrays.toString(got),
                            "key l" + l + " t" + t + " h" + h);
                    seq.readValue(l, t, h, got, 0);
                    assertEquals(java.util.Arrays.toString(value(salt, l, t, h, dim)), java.util.Arrays.toString(got),
                            "value l" + l + " t" + t + " h" + h);
                }
            }
        }
    }
}
