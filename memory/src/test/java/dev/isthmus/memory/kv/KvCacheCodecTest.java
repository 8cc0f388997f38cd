package dev.isthmus.memory.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every KvType round-trips within its precision, both through KvCodec and through a sequence. */
class KvCacheCodecTest {

    private static float[] randomValues(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * scale);
        }
        return v;
    }

    private static float[] negate(float[] v) {
        float[] n = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            n[i] = -v[i];
        }
        return n;
    }

    private static float[] roundTrip(KvType type, float[] src) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(type.rowBytes(src.length) + 3);
            float[] out = new float[src.length];
            // An odd offset: the codec must not rely on alignment.
            KvCodec.encode(type, src, 0, src.length, seg, 3);
            KvCodec.decode(type, seg, 3, out, 0, src.length);
            return out;
        }
    }

    @Test
    void f32IsExact() {
        float[] v = randomValues(new Random(1), 256, 10f);
        v[0] = Float.MIN_VALUE;
        v[1] = -0f;
        v[2] = Float.MAX_VALUE;
        v[3] = Float.NEGATIVE_INFINITY;
        float[] out = roundTrip(KvType.F32, v);
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(out[i]), "element " + i);
        }
    }

    @Test
    void f16RoundsToNearestHalf() {
        float[] v = randomValues(new Random(2), 512, 3f);
        v[0] = 70000f; // overflows f16
        v[1] = 1e-6f;  // subnormal f16
        float[] out = roundTrip(KvType.F16, v);
        for (int i = 0; i < v.length; i++) {
            float expected = Float.float16ToFloat(Float.floatToFloat16(v[i]));
            assertEquals(expected, out[i], 0f, "element " + i);
            if (Math.abs(v[i]) < 65504f && Math.abs(v[i]) > 6.2e-5f) {
                // relative error of a normal f16: at most 2^-11
                assertTrue(Math.abs(out[i] - v[i]) <= Math.abs(v[i]) * 0x1p-11f, "element " + i);
            }
        }
        assertEquals(Float.POSITIVE_INFINITY, out[0]);
    }

    @Test
    void bf16RoundsToNearestEven() {
        float[] v = randomValues(new Random(3), 512, 100f);
        float[] out = roundTrip(KvType.BF16, v);
        for (int i = 0; i < v.length; i++) {
            int bits = Float.floatToRawIntBits(out[i]);
            assertEquals(0, bits & 0xFFFF, "element " + i + " is a bf16");
            float ulp = Math.ulp(out[i]) * 65536f; // bf16 ulp at the result
            assertTrue(Math.abs(out[i] - v[i]) <= Math.max(ulp, Math.ulp(v[i]) * 65536f) / 2, "element " + i);
        }
        // Ties: bf16 has 7 fraction bits, so the ulp at 1 is 2^-7.
        float[] ties = {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -(1f + 0x1p-8f), 1f + 0x1p-8f + 0x1p-20f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.MAX_VALUE};
        float[] t = roundTrip(KvType.BF16, ties);
        assertEquals(1f, t[0]);                 // halfway, rounds to even (down)
        assertEquals(1f + 0x1p-6f, t[1]);       // halfway, rounds to even (up)
        assertEquals(-1f, t[2]);
        assertEquals(1f + 0x1p-7f, t[3]);       // past halfway, rounds up
        assertTrue(Float.isNaN(t[4]));
        assertEquals(Float.POSITIVE_INFINITY, t[5]);
        assertEquals(Float.POSITIVE_INFINITY, t[6]); // rounds past the largest bf16
        assertEquals((short) 0x3F80, KvCodec.floatToBf16(1f));
    }

    @Test
    void q8ErrorIsAtMostAbsmaxOver254() {
        Random r = new Random(4);
        for (float scale : new float[] {0.01f, 0.5f, 1f, 37f, 1e4f}) {
            float[] v = randomValues(r, 32 * 16, scale);
            v[5] = 0f;
            float[] out = roundTrip(KvType.Q8_0, v);
            for (int b = 0; b < v.length; b += 32) {
                float amax = 0;
                for (int i = b; i < b + 32; i++) {
                    amax = Math.max(amax, Math.abs(v[i]));
                }
                float bound = amax / 254f * (1 + 1e-5f);
                for (int i = b; i < b + 32; i++) {
                    float err = Math.abs(out[i] - v[i]);
                    int at = i;
                    assertTrue(err <= bound, () -> "scale " + scale + " element " + at + ": " + v[at] + " -> " + out[at]
                            + ", error " + err + " > " + bound);
                }
            }
        }
    }

    @Test
    void q8LayoutIsGgmlBlock() {
        float[] v = new float[32];
        for (int i = 0; i < 32; i++) {
            v[i] = i - 16; // absmax 16, d = 16/127
        }
        v[0] = -127f; // absmax 127 -> d = 1 exactly
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(34);
            KvCodec.encode(KvType.Q8_0, v, 0, 32, seg, 0);
            assertEquals(Float.floatToFloat16(1f), seg.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
            assertEquals(-127, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2));
            assertEquals(15, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2 + 31));
        }
        float[] zeros = roundTrip(KvType.Q8_0, new float[64]);
        for (float z : zeros) {
            assertEquals(0f, z);
        }
    }

    @Test
    void everyTypeRoundTripsThroughASequence() {
        for (KvType type : KvType.values()) {
            KvCacheConfig c = KvCacheConfig.builder().type(type).tokensPerBlock(4)
                    .fullLayer(2, 64).fullLayer(1, 32).totalBlocks(16).build();
            try (KvBlockPool pool = new KvBlockPool(c); KvSequence seq = pool.newSequence()) {
                seq.reserve(6);
                Random r = new Random(type.ordinal());
                float[][][] keys = new float[2][6 * 2][];
                for (int l = 0; l < 2; l++) {
                    int heads = c.layer(l).kvHeads();
                    int dim = c.layer(l).headDim();
                    for (int t = 0; t < 6; t++) {
                        for (int h = 0; h < heads; h++) {
                            float[] k = randomValues(r, dim, 2f);
                            keys[l][t * 2 + h] = k;
                            seq.writeKey(l, t, h, k, 0);
                            seq.writeValue(l, t, h, negate(k), 0);
                        }
                    }
                }
                for (int l = 0; l < 2; l++) {
                    int heads = c.layer(l).kvHeads();
                    int dim = c.layer(l).headDim();
                    for (int t = 0; t < 6; t++) {
                        for (int h = 0; h < heads; h++) {
                            float[] k = keys[l][t * 2 + h];
                            float[] got = new float[dim + 1];
                            seq.readKey(l, t, h, got, 1);
                            float[] expected = roundTrip(type, k);
                            for (int i = 0; i < dim; i++) {
                                assertEquals(expected[i], got[i + 1], 0f, type + " key l" + l + " t" + t + " h" + h);
                            }
                            seq.readValue(l, t, h, got, 0);
                            float[] expectedV = roundTrip(type, negate(k));
                            for (int i = 0; i < dim; i++) {
                                assertEquals(expectedV[i], got[i], 0f, type + " value l" + l + " t" + t + " h" + h);
                            }
                        }
                    }
                }
            }
        }
    }
}
