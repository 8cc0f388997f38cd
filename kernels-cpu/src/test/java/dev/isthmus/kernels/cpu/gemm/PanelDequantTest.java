package dev.isthmus.kernels.cpu.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The panel decoder gives exactly the reference dequantizer's floats, bit for bit, for every type. */
class PanelDequantTest {

    static Iterable<GgmlType> types() {
        return GemmPanelTest.TYPES;
    }

    @ParameterizedTest
    @MethodSource("types")
    void bitIdenticalToTheReference(GgmlType type) {
        SplittableRandom rnd = new SplittableRandom(type.ordinal() + 100);
        int bs = type.blockSize();
        int k = bs == 1 ? 77 : 3 * bs;   // 77: a ragged tail after the 8-lane BF16 loop
        int n = 9;
        byte[] w = GemmPanelTest.weights(type, n, k, rnd);
        if (type != GgmlType.F32 && type != GgmlType.F16 && type != GgmlType.BF16) {
            // every code byte random, scales kept finite (the generator's), so all bit patterns of
            // the codes are exercised, not only what a quantizer would write
            byte[] raw = new byte[w.length];
            rnd.nextBytes(raw);
            byte[] ref = w;
            w = raw;
            int ts = type.typeSize();
            int[] fields = switch (type) {
                case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 1, 2, 3};
                case Q5_0, Q8_0, Q4_0 -> new int[] {0, 1};
                case Q2_K -> new int[] {80, 81, 82, 83};
                case Q3_K -> new int[] {108, 109};
                case Q6_K -> new int[] {208, 209};
                default -> new int[0];   // MXFP4: every exponent byte is a finite scale
            };
            for (int b = 0; b < w.length / ts; b++) {
                for (int f : fields) {
                    w[b * ts + f] = ref[b * ts + f];
                }
            }
        }
        float[] want = Dequantize.toFloats(type, MemorySegment.ofArray(w), (long) n * k);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(w.length);
            MemorySegment.copy(MemorySegment.ofArray(w), 0, seg, 0, w.length);
            byte[] buf = new byte[(int) type.rowSize(k)];
            float[] got = new float[4 * k];
            float[] got2 = new float[4 * k];
            PanelDequant.rows(type, seg, 5, 4, k, buf, got, null);   // rows 5..8 into the array
            MemorySegment out = arena.allocate(4L * 4 * k);
            PanelDequant.rows(type, seg, 5, 4, k, buf, got2, out);   // and into a segment where it can
            float[] direct = PanelDequant.writesSegment(type) ? out.toArray(ValueLayout.JAVA_FLOAT) : got2;
            for (int i = 0; i < 4 * k; i++) {
                assertEquals(Float.floatToRawIntBits(want[5 * k + i]), Float.floatToRawIntBits(got[i]),
                        type + " element " + i + ": " + got[i] + " vs reference " + want[5 * k + i]);
                assertEquals(Float.floatToRawIntBits(want[5 * k + i]), Float.floatToRawIntBits(direct[i]),
                        type + " element " + i + " (segment): " + direct[i] + " vs reference " + want[5 * k + i]);
            }
        }
    }
}
