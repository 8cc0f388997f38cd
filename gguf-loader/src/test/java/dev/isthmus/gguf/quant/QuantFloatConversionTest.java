package dev.isthmus.gguf.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** F16 and BF16 conversion: exact expected bit patterns, including ties, subnormals, inf and NaN. */
class QuantFloatConversionTest {

    private static float bits(int b) {
        return Float.intBitsToFloat(b);
    }

    private static void f16(int expected, float v) {
        assertEquals(expected, Quantize.floatToF16(v) & 0xFFFF, () -> "f16 of " + v);
    }

    private static void bf16(int expected, float v) {
        assertEquals(expected, Quantize.floatToBf16(v) & 0xFFFF, () -> "bf16 of " + v + " (0x" + Integer.toHexString(Float.floatToRawIntBits(v)) + ")");
    }

    @Test
    void f16Rounding() {
        f16(0x3C00, 1f);
        f16(0xC000, -2f);
        f16(0x8000, -0f);
        f16(0x3C00, 1f + 0x1p-11f);       // tie between 0x3C00 and 0x3C01 -> even 0x3C00
        f16(0x3C02, 1f + 3 * 0x1p-11f);   // tie between 0x3C01 and 0x3C02 -> even 0x3C02
        f16(0x3C01, 1f + 0x1p-11f + 0x1p-20f); // just above the tie -> up
        f16(0x7BFF, 65504f);              // largest finite
        f16(0x7BFF, 65519.99f);           // below the halfway point to 65536
        f16(0x7C00, 65520f);              // halfway to 2^16 rounds to even = infinity
        f16(0x0001, 0x1p-24f);            // smallest subnormal
        f16(0x0000, 0x1p-25f);            // tie between 0 and 2^-24 -> even 0
        f16(0x0002, 3 * 0x1p-25f);        // tie between 1 and 2 (x 2^-24) -> even 2
        f16(0x03FF, 1023 * 0x1p-24f);     // largest subnormal
        f16(0x0400, 0x1p-14f);            // smallest normal
        f16(0x7C00, Float.POSITIVE_INFINITY);
        f16(0xFC00, Float.NEGATIVE_INFINITY);
        int nan = Quantize.floatToF16(Float.NaN) & 0xFFFF;
        assertEquals(0x7C00, nan & 0x7C00);
        assertTrue((nan & 0x03FF) != 0, "NaN must stay NaN");
    }

    @Test
    void bf16Rounding() {
        bf16(0x3F80, 1f);
        bf16(0xC000, -2f);
        bf16(0x8000, -0f);
        bf16(0x3F80, bits(0x3F808000));   // tie -> even 0x3F80
        bf16(0x3F82, bits(0x3F818000));   // tie -> even 0x3F82
        bf16(0x3F81, bits(0x3F808001));   // above the tie -> up
        bf16(0x3F80, bits(0x3F807FFF));   // below the tie -> down
        bf16(0x4049, 3.140625f);
        bf16(0x4049, (float) Math.PI);    // 0x40490FDB rounds down
        bf16(0x7F80, Float.MAX_VALUE);    // 0x7F7FFFFF rounds up to infinity
        bf16(0x7F7F, bits(0x7F7F7FFF));   // largest value that stays finite
        bf16(0x0000, bits(0x00008000));   // subnormal tie -> even 0
        bf16(0x0002, bits(0x00018000));   // subnormal tie -> even 2
        bf16(0x0001, bits(0x00010001));   // subnormal kept, not flushed
        bf16(0x0080, bits(0x007FFFFF));   // largest float subnormal rounds up to the smallest normal
        bf16(0x7F80, Float.POSITIVE_INFINITY);
        bf16(0xFF80, Float.NEGATIVE_INFINITY);
        bf16(0x7FC0, Float.NaN);          // canonical quiet NaN
        bf16(0x7FC0, bits(0x7F800001));   // signalling NaN whose payload would truncate to inf: quieted
        bf16(0xFFC0, bits(0xFF800001));   // sign kept
        bf16(0x7FD2, bits(0x7F923456));   // payload top bits kept, quiet bit set
    }

    @Test
    void quantizeAndDequantizeAgree() {
        float[] x = {1f, -2.5f, 65504f, 0x1p-24f, 1f + 0x1p-11f, Float.POSITIVE_INFINITY, 3.14159f, -0f};
        float[] h = Dequantize.toFloats(GgmlType.F16, MemorySegment.ofArray(Quantize.quantize(GgmlType.F16, x, 0, x.length)), x.length);
        float[] b = Dequantize.toFloats(GgmlType.BF16, MemorySegment.ofArray(Quantize.quantize(GgmlType.BF16, x, 0, x.length)), x.length);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.float16ToFloat(Quantize.floatToF16(x[i])), h[i]);
            assertEquals(Float.intBitsToFloat((Quantize.floatToBf16(x[i]) & 0xFFFF) << 16), b[i]);
        }
        // Byte order: little-endian.
        byte[] bytes = Quantize.quantize(GgmlType.BF16, new float[] {1f}, 0, 1);
        assertEquals((byte) 0x80, bytes[0]);
        assertEquals((byte) 0x3F, bytes[1]);
        // NaN goes through F16 and BF16 as NaN.
        float[] nan = {Float.NaN};
        assertTrue(Float.isNaN(Dequantize.toFloats(GgmlType.F16, MemorySegment.ofArray(Quantize.quantize(GgmlType.F16, nan, 0, 1)), 1)[0]));
        assertTrue(Float.isNaN(Dequantize.toFloats(GgmlType.BF16, MemorySegment.ofArray(Quantize.quantize(GgmlType.BF16, nan, 0, 1)), 1)[0]));
    }
}
