package dev.isthmus.gguf.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Hand-built blocks per type: the bytes are assembled here from the published block layouts
 * (scales, nibbles, high bits packed by this test), and the expected floats come from each
 * format's formula applied to the codes this test chose, never from the implementation.
 * All scales are powers of two or small integers so every expected value is exact.
 */
class QuantBlockLayoutTest {

    private final Random rnd = new Random(20240611);

    private static void f16(byte[] b, int off, float v) {
        short h = Float.floatToFloat16(v);
        assertEquals(v, Float.float16ToFloat(h), "test scale must be exact in f16");
        b[off] = (byte) h;
        b[off + 1] = (byte) (h >> 8);
    }

    private static float[] decode(GgmlType type, byte[] block) {
        MemorySegment seg = MemorySegment.ofArray(block);
        int n = type.blockSize() * (block.length / type.typeSize());
        float[] out = new float[n + 3];
        Dequantize.dequantize(type, seg, n, out, 3);
        float[] y = new float[n];
        System.arraycopy(out, 3, y, 0, n);
        // The single-element helper and the segment path must agree with the array path.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(4L * n);
            Dequantize.dequantize(type, seg, n, dst);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(y[i]), Float.floatToIntBits(dst.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
                assertEquals(Float.floatToIntBits(y[i]), Float.floatToIntBits(Dequantize.dequantize(type, seg, (long) i)));
            }
        }
        return y;
    }

    private static void assertValues(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 0f, "element " + i);
        }
    }

    @Test
    void plainTypes() {
        byte[] f32 = new byte[8];
        int a = Float.floatToIntBits(-3.25f);
        int c = 0x00000001; // smallest subnormal
        for (int k = 0; k < 4; k++) {
            f32[k] = (byte) (a >>> (8 * k));
            f32[4 + k] = (byte) (c >>> (8 * k));
        }
        assertValues(new float[] {-3.25f, Float.MIN_VALUE}, decode(GgmlType.F32, f32));

        // f16: 1.0 = 0x3C00, -2 = 0xC000, 65504 = 0x7BFF, 2^-24 = 0x0001, +inf = 0x7C00 (little-endian)
        byte[] f16 = {0x00, 0x3C, 0x00, (byte) 0xC0, (byte) 0xFF, 0x7B, 0x01, 0x00, 0x00, 0x7C};
        assertValues(new float[] {1f, -2f, 65504f, 0x1p-24f, Float.POSITIVE_INFINITY}, decode(GgmlType.F16, f16));

        // bf16: 1.0 = 0x3F80, 3.140625 = 0x4049, -0.5 = 0xBF00, smallest bf16 subnormal 0x0001 = 2^-133
        byte[] bf16 = {(byte) 0x80, 0x3F, 0x49, 0x40, 0x00, (byte) 0xBF, 0x01, 0x00};
        assertValues(new float[] {1f, 3.140625f, -0.5f, 0x1p-133f}, decode(GgmlType.BF16, bf16));
        assertEquals(Float.NaN, Dequantize.dequantize(GgmlType.F16, MemorySegment.ofArray(new byte[] {0x01, 0x7E}), 0L));
    }

    @Test
    void q4_0() {
        byte[] b = new byte[18];
        f16(b, 0, 0.5f);
        int[] q = new int[32];
        float[] expected = new float[32];
        for (int i = 0; i < 32; i++) {
            q[i] = (i * 7 + 3) % 16;
            expected[i] = (q[i] - 8) * 0.5f;
        }
        for (int j = 0; j < 16; j++) {
            b[2 + j] = (byte) (q[j] | q[j + 16] << 4);
        }
        assertValues(expected, decode(GgmlType.Q4_0, b));
        // spot check one value fully by hand: element 0 has q=3 -> (3-8)*0.5
        assertEquals(-2.5f, decode(GgmlType.Q4_0, b)[0]);
    }

    @Test
    void q4_1() {
        byte[] b = new byte[20];
        f16(b, 0, 0.25f);
        f16(b, 2, -1.5f);
        float[] expected = new float[32];
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) {
            q[i] = rnd.nextInt(16);
            expected[i] = q[i] * 0.25f - 1.5f;
        }
        for (int j = 0; j < 16; j++) {
            b[4 + j] = (byte) (q[j] | q[j + 16] << 4);
        }
        assertValues(expected, decode(GgmlType.Q4_1, b));
    }

    /** Q5_0 and Q5_1: element i keeps its fifth bit in bit i of the little-endian u32 qh. */
    private static void packQ5(byte[] b, int qhOff, int qsOff, int[] q) {
        int qh = 0;
        for (int i = 0; i < 32; i++) {
            qh |= (q[i] >> 4) << i;
        }
        for (int k = 0; k < 4; k++) {
            b[qhOff + k] = (byte) (qh >>> (8 * k));
        }
        for (int j = 0; j < 16; j++) {
            b[qsOff + j] = (byte) ((q[j] & 15) | (q[j + 16] & 15) << 4);
        }
    }

    @Test
    void q5_0() {
        byte[] b = new byte[22];
        f16(b, 0, 0.125f);
        int[] q = new int[32];
        float[] expected = new float[32];
        for (int i = 0; i < 32; i++) {
            q[i] = rnd.nextInt(32);
            expected[i] = (q[i] - 16) * 0.125f;
        }
        q[0] = 31;
        expected[0] = 15 * 0.125f;
        q[31] = 16;
        expected[31] = 0;
        packQ5(b, 2, 6, q);
        assertValues(expected, decode(GgmlType.Q5_0, b));
    }

    @Test
    void q5_1() {
        byte[] b = new byte[24];
        f16(b, 0, 2f);
        f16(b, 2, -20f);
        int[] q = new int[32];
        float[] expected = new float[32];
        for (int i = 0; i < 32; i++) {
            q[i] = (i * 13 + 5) % 32;
            expected[i] = q[i] * 2f - 20f;
        }
        packQ5(b, 4, 8, q);
        assertValues(expected, decode(GgmlType.Q5_1, b));
    }

    @Test
    void q8_0() {
        byte[] b = new byte[34 * 2];
        f16(b, 0, 0.0625f);
        f16(b, 34, -3f);
        float[] expected = new float[64];
        for (int i = 0; i < 64; i++) {
            int q = i == 0 ? -128 : i == 1 ? 127 : rnd.nextInt(256) - 128;
            b[(i < 32 ? 2 : 36) + i % 32] = (byte) q;
            expected[i] = q * (i < 32 ? 0.0625f : -3f);
        }
        assertValues(expected, decode(GgmlType.Q8_0, b));
    }

    @Test
    void mxfp4() {
        float[] e2m1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
        int[] exponents = {127, 128, 120, 0, 1, 254};
        for (int e : exponents) {
            byte[] b = new byte[17];
            b[0] = (byte) e;
            int[] code = new int[32];
            float[] expected = new float[32];
            double scale = Math.pow(2, e - 127);
            for (int i = 0; i < 32; i++) {
                code[i] = (i * 5 + e) % 16;
                double mag = e2m1[code[i] & 7] * scale;
                expected[i] = (float) ((code[i] & 8) != 0 ? -mag : mag);
            }
            for (int j = 0; j < 16; j++) {
                b[1 + j] = (byte) (code[j] | code[j + 16] << 4);
            }
            assertValues(expected, decode(GgmlType.MXFP4, b));
        }
        // By hand: e = 128 (scale 2), code 0x7 (6.0) low and 0xB (-1.5) high -> 12 and -3.
        byte[] b = new byte[17];
        b[0] = (byte) 128;
        b[1] = (byte) 0xB7;
        float[] y = decode(GgmlType.MXFP4, b);
        assertEquals(12f, y[0]);
        assertEquals(-3f, y[16]);
    }

    /** Position of element i of a 256-block in the 2-bit code layout of Q2_K/Q3_K: {byte, shift}. */
    private static int[] twoBitPos(int i) {
        int h = i / 128;
        int r = i % 128;
        return new int[] {32 * h + r % 32, 2 * (r / 32)};
    }

    @Test
    void q2_K() {
        byte[] b = new byte[84];
        float d = 0.125f;
        float dmin = 0.0625f;
        f16(b, 80, d);
        f16(b, 82, dmin);
        int[] sc = new int[16];
        int[] mn = new int[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = (g * 5 + 3) % 16;
            mn[g] = (g * 11 + 1) % 16;
            b[g] = (byte) (sc[g] | mn[g] << 4);
        }
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) {
            int q = rnd.nextInt(4);
            int[] pos = twoBitPos(i);
            b[16 + pos[0]] |= (byte) (q << pos[1]);
            expected[i] = d * sc[i / 16] * q - dmin * mn[i / 16];
        }
        float[] y = decode(GgmlType.Q2_K, b);
        assertValues(expected, y);
    }

    @Test
    void q3_K() {
        byte[] b = new byte[110];
        float d = 0.25f;
        f16(b, 108, d);
        int[] s = new int[16];
        for (int j = 0; j < 16; j++) {
            s[j] = (j * 23 + 7) % 64 - 32; // distinct values over the whole -32..31 range
            int u = s[j] + 32;
            int low = u & 15;
            int high = u >> 4;
            if (j < 8) {
                b[96 + j] |= (byte) low;
            } else {
                b[96 + j - 8] |= (byte) (low << 4);
            }
            b[96 + 8 + j % 4] |= (byte) (high << (2 * (j / 4)));
        }
        s[0] = -32; // ensure the extremes appear
        b[96] = (byte) (b[96] & 0xF0);
        b[104] = (byte) (b[104] & ~3);
        s[15] = 31;
        b[96 + 7] = (byte) (b[96 + 7] | 0xF0);
        b[96 + 8 + 3] = (byte) (b[96 + 8 + 3] | 0xC0);
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) {
            int q = rnd.nextInt(8) - 4; // -4..3
            int hbit = q >= 0 ? 1 : 0;
            int low2 = q >= 0 ? q : q + 4;
            int[] pos = twoBitPos(i);
            b[32 + pos[0]] |= (byte) (low2 << pos[1]);
            int h = i / 128;
            int g = (i % 128) / 32;
            b[i % 32] |= (byte) (hbit << (4 * h + g));
            expected[i] = d * s[i / 16] * q;
        }
        assertValues(expected, decode(GgmlType.Q3_K, b));
    }

    /** Packs eight 6-bit scales and mins into the 12-byte Q4_K/Q5_K field at {@code off}. */
    private static void packKScales(byte[] b, int off, int[] sc, int[] mn) {
        for (int j = 0; j < 4; j++) {
            b[off + j] = (byte) ((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
            b[off + 4 + j] = (byte) ((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
            b[off + 8 + j] = (byte) ((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
        }
    }

    private static final int[] K_SCALES = {63, 1, 17, 40, 33, 62, 47, 16};
    private static final int[] K_MINS = {5, 63, 34, 0, 58, 19, 32, 49};

    @Test
    void q4_K() {
        byte[] b = new byte[144];
        float d = 0.0625f;
        float dmin = 0.125f;
        f16(b, 0, d);
        f16(b, 2, dmin);
        packKScales(b, 4, K_SCALES, K_MINS);
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) {
            int q = rnd.nextInt(16);
            int c = i / 64;
            int r = i % 64;
            int g = i / 32;
            b[16 + 32 * c + r % 32] |= (byte) (r < 32 ? q : q << 4);
            expected[i] = d * K_SCALES[g] * q - dmin * K_MINS[g];
        }
        assertValues(expected, decode(GgmlType.Q4_K, b));
    }

    @Test
    void q5_K() {
        byte[] b = new byte[176];
        float d = 0.5f;
        float dmin = 0.25f;
        f16(b, 0, d);
        f16(b, 2, dmin);
        int[] sc = {12, 63, 31, 48, 16, 1, 55, 32};
        int[] mn = {63, 2, 44, 17, 33, 60, 0, 15};
        packKScales(b, 4, sc, mn);
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) {
            int q = rnd.nextInt(32);
            int c = i / 64;
            int r = i % 64;
            int l = r % 32;
            boolean high = r >= 32;
            b[48 + 32 * c + l] |= (byte) (high ? (q & 15) << 4 : q & 15);
            b[16 + l] |= (byte) ((q >> 4) << (2 * c + (high ? 1 : 0)));
            expected[i] = d * sc[i / 32] * q - dmin * mn[i / 32];
        }
        assertValues(expected, decode(GgmlType.Q5_K, b));
    }

    @Test
    void q6_K() {
        byte[] b = new byte[210];
        float d = 0.015625f;
        f16(b, 208, d);
        int[] sc = {-128, 127, 1, -1, 64, -77, 35, 100, -3, 12, -50, 90, 7, -128, 127, 0};
        for (int g = 0; g < 16; g++) {
            b[192 + g] = (byte) sc[g];
        }
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) {
            int q = i == 5 ? -32 : i == 6 ? 31 : rnd.nextInt(64) - 32;
            int u = q + 32;
            int h = i / 128;
            int r = i % 128;
            int k = r / 32;
            int l = r % 32;
            int qlByte = 64 * h + l + (k % 2 == 1 ? 32 : 0);
            b[qlByte] |= (byte) (k >= 2 ? (u & 15) << 4 : u & 15);
            b[128 + 32 * h + l] |= (byte) ((u >> 4) << (2 * k));
            expected[i] = d * sc[i / 16] * q;
        }
        assertValues(expected, decode(GgmlType.Q6_K, b));
    }
}
