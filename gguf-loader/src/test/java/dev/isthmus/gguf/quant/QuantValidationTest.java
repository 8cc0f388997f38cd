package dev.isthmus.gguf.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Argument validation: bad sizes are IllegalArgumentException, unknown types UnsupportedOperationException. */
class QuantValidationTest {

    @Test
    void unsupportedTypesNameTheType() {
        MemorySegment seg = MemorySegment.ofArray(new byte[1024]);
        for (GgmlType t : GgmlType.values()) {
            assertEquals(t.computable(), Dequantize.supports(t), "computable() flag of " + t);
            if (!Dequantize.supports(t)) {
                var e = assertThrows(UnsupportedOperationException.class,
                        () -> Dequantize.dequantize(t, seg, t.blockSize(), new float[t.blockSize()], 0));
                assertTrue(e.getMessage().contains(t.name()), e.getMessage());
                assertThrows(UnsupportedOperationException.class, () -> Dequantize.dequantize(t, seg, 0L));
            }
            if (!Quantize.supports(t)) {
                var e = assertThrows(UnsupportedOperationException.class,
                        () -> Quantize.quantize(t, new float[t.blockSize()], 0, t.blockSize()));
                assertTrue(e.getMessage().contains(t.name()), e.getMessage());
            }
        }
        assertFalse(Quantize.supports(GgmlType.Q5_K));
        assertTrue(Quantize.supports(GgmlType.MXFP4));
    }

    @Test
    void dequantizeRejectsBadSizes() {
        MemorySegment block = MemorySegment.ofArray(new byte[144]);
        float[] out = new float[256];
        // one byte short of a Q4_K block
        MemorySegment shortSeg = MemorySegment.ofArray(new byte[143]);
        var e = assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, shortSeg, 256, out, 0));
        assertTrue(e.getMessage().contains("144"), e.getMessage());
        // not a whole number of blocks
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 255, out, 0));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, -256, out, 0));
        // destination too small or bad offset
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256, out, 1));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256, out, -1));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256, new float[255], 0));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(4 * 255);
            assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256, small));
            MemorySegment ok = arena.allocate(4 * 256);
            assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256, ok.asReadOnly()));
            Dequantize.dequantize(GgmlType.Q4_K, block, 256, ok);
        }
        // single element beyond the data, negative index
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, 256L));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.Q4_K, block, -1L));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.F32, MemorySegment.ofArray(new byte[7]), 1L));
        assertEquals(0f, Dequantize.dequantize(GgmlType.F32, MemorySegment.ofArray(new byte[7]), 0L));
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantizeBlock(GgmlType.Q4_K, block, 1, out, 0));
        // F16 with an odd byte count
        assertThrows(IllegalArgumentException.class, () -> Dequantize.dequantize(GgmlType.F16, MemorySegment.ofArray(new byte[3]), 2, out, 0));
        // zero elements is fine
        Dequantize.dequantize(GgmlType.Q4_K, MemorySegment.NULL, 0, new float[0], 0);
    }

    @Test
    void quantizeRejectsBadArguments() {
        assertEquals(144 * 3, Quantize.bytesFor(GgmlType.Q4_K, 768));
        assertEquals(17, Quantize.bytesFor(GgmlType.MXFP4, 32));
        assertEquals(6, Quantize.bytesFor(GgmlType.BF16, 3));
        assertThrows(IllegalArgumentException.class, () -> Quantize.bytesFor(GgmlType.Q8_0, 33));
        assertThrows(IllegalArgumentException.class, () -> Quantize.bytesFor(GgmlType.Q8_0, -32));
        float[] x = new float[64];
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q8_0, x, 40, 32));
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q8_0, x, -1, 32));
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q8_0, x, 0, 64, new byte[67], 0));
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q8_0, x, 0, 64, new byte[68], 1));
        assertEquals(68, Quantize.quantize(GgmlType.Q8_0, x, 0, 64, new byte[68], 0));
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q4_0, x, 0, 32, MemorySegment.ofArray(new byte[17])));
        assertThrows(IllegalArgumentException.class,
                () -> Quantize.quantize(GgmlType.Q4_0, x, 0, 32, MemorySegment.ofArray(new byte[18]).asReadOnly()));
        float[] nan = new float[32];
        nan[3] = Float.NaN;
        float[] nanK = new float[256];
        nanK[200] = Float.NaN;
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q4_K, nanK, 0, 256, new byte[144], 0));
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.Q8_0, nan, 0, 32));
        nan[3] = Float.NEGATIVE_INFINITY;
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize(GgmlType.MXFP4, nan, 0, 32));
    }

    @Test
    void knownBytesForExactlyRepresentableData() {
        // Q8_0: values k/2 for k = -31..0 (absmax 15.5 -> d = 15.5/127) — use k*0.5 with absmax 63.5 instead.
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) {
            x[i] = (i - 31) * 0.5f * (i % 2 == 0 ? 1 : -1);
        }
        x[0] = -63.5f; // absmax 63.5 -> d = 0.5 exactly
        byte[] q = Quantize.quantize(GgmlType.Q8_0, x, 0, 32);
        assertEquals(0x00, q[0] & 0xFF); // f16 0.5 = 0x3800, little-endian
        assertEquals(0x38, q[1] & 0xFF);
        for (int i = 0; i < 32; i++) {
            assertEquals(Math.round(x[i] * 2), q[2 + i], "code " + i);
        }
        // Q4_0: values (q - 8) / 4 for q = 0..15 twice: d = 0.25 (f16 0x3400), nibbles = q.
        float[] y = new float[32];
        for (int i = 0; i < 32; i++) {
            y[i] = ((i * 3) % 16 - 8) * 0.25f;
        }
        byte[] p = Quantize.quantize(GgmlType.Q4_0, y, 0, 32);
        assertEquals(0x00, p[0] & 0xFF);
        assertEquals(0x34, p[1] & 0xFF);
        for (int j = 0; j < 16; j++) {
            assertEquals((j * 3) % 16 | (((j + 16) * 3) % 16) << 4, p[2 + j] & 0xFF, "byte " + j);
        }
        // MXFP4: values e2m1 * 2 with a 6 present -> e = 128, codes as chosen.
        float[] mags = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
        float[] z = new float[32];
        int[] codes = new int[32];
        for (int i = 0; i < 32; i++) {
            codes[i] = i == 0 ? 7 : (i * 7) % 16;
            if (codes[i] == 8) {
                codes[i] = 0; // -0 encodes as +0
            }
            z[i] = (codes[i] >= 8 ? -2 : 2) * mags[codes[i] & 7];
        }
        byte[] m = Quantize.quantize(GgmlType.MXFP4, z, 0, 32);
        assertEquals(128, m[0] & 0xFF);
        for (int j = 0; j < 16; j++) {
            assertEquals(codes[j] | codes[j + 16] << 4, m[1 + j] & 0xFF, "byte " + j);
        }
    }
}
