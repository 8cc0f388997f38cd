package dev.isthmus.kernels.cpu.matvec;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The activation vector {@code x} quantized once per matvec to 8-bit codes in blocks of 32, as
 * llama.cpp's {@code Q8_0}/{@code Q8_K} activations: per block {@code d = max|x| / 127} and codes
 * {@code round(x / d)} in -127..127 (held as {@code short}s, ready for 16-bit products), plus the
 * block's sum of the quantized values {@code d · Σ codes} (for the K-quants' min terms: taking the
 * mins against the same quantized x as the codes makes the error {@code Σ w·(x̂ − x)}, as in
 * llama.cpp's {@code bsums}; the exact sum would leave {@code Σ (w + min)·(x̂ − x)}, about four times
 * larger for Q4_K). The integer kernels in {@link Q8Kernels}
 * read it; the arrays grow when a call needs more columns and are reused otherwise (nothing is
 * allocated per call in steady state). Not thread-safe: one writer, then any number of readers.
 */
final class Q8Activations {

    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    /** 1.5 · 2^23: adding it leaves round-to-nearest(v) in the low mantissa bits for |v| < 2^22. */
    private static final float ROUNDER = 0x1.8p23f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);

    /** Codes, one per column. */
    short[] q = new short[0];
    /** Per 32-column block: the scale {@code d}. */
    float[] d = new float[0];
    /** Per 32-column block: the sum of the quantized values, {@code d · Σ codes}. */
    float[] sum = new float[0];
    /** Per 16 columns: the scale {@code d} of their block (each block's twice; Q6_K's groups of 16). */
    float[] d2 = new float[0];
    /**
     * The codes of each 32-column block deinterleaved: its 16 even columns, then its 16 odd ones
     * (matches 32 weight bytes read as 16 little-endian shorts: low bytes, high bytes).
     */
    short[] qe = new short[0];
    /**
     * Q4_0's bias against {@link #q}: per block {@code b}, 16 shorts {@code 8 · (q[32b + i] + q[32b + 16 + i])}
     * (the codes that meet nibble lane {@code i}'s low and high halves).
     */
    short[] bias8 = new short[0];
    /**
     * Q6_K's bias against {@link #qe}: per block, 16 shorts {@code 32 · (q[32b + 2i] + q[32b + 2i + 1])}
     * (the codes that meet short lane {@code i}'s two bytes).
     */
    short[] bias32 = new short[0];

    /** Quantizes {@code x[0 .. cols)}; {@code cols} is a multiple of 32 and {@code x} holds that many floats. */
    void quantize(MemorySegment x, int cols) {
        int nb = cols / 32;
        if (q.length < cols) {
            q = new short[cols];
        }
        if (d.length < nb) {
            d = new float[nb];
            sum = new float[nb];
            d2 = new float[2 * nb];
        }
        if (qe.length < cols) {
            qe = new short[cols];
            bias8 = new short[cols / 2];
            bias32 = new short[cols / 2];
        }
        short[] qs = q;
        ByteOrder no = ByteOrder.nativeOrder();
        for (int b = 0; b < nb; b++) {
            long o = 128L * b;
            // one call site per operation (a second copy of a Vector API call can push this method
            // past C2's inlining budget, and a call that is not inlined boxes its vectors)
            FloatVector amax = FloatVector.zero(F8);
            for (int j = 0; j < 4; j++) {
                amax = amax.max(FloatVector.fromMemorySegment(F8, x, o + 32 * j, no).abs());
            }
            float m = amax.reduceLanes(VectorOperators.MAX);
            float dd = m / 127f;
            d[b] = dd;
            d2[2 * b] = dd;
            d2[2 * b + 1] = dd;
            // m == 0 or NaN: codes 0 (a non-finite x makes the result non-finite through d or sum)
            float inv = m > 0 ? 127f / m : 0f;
            IntVector isum = IntVector.zero(I8);
            for (int j = 0; j < 4; j++) {
                FloatVector v = FloatVector.fromMemorySegment(F8, x, o + 32 * j, no);
                // v·inv is in [-127, 127], rounded to nearest-even by the magic-number addition and
                // read from the mantissa bits
                IntVector i = v.mul(inv).max(-127f).min(127f).add(ROUNDER).reinterpretAsInts().sub(ROUNDER_BITS);
                ((ShortVector) i.convertShape(VectorOperators.I2S, S8, 0)).intoArray(qs, 32 * b + 8 * j);
                isum = isum.add(i);
            }
            sum[b] = dd * isum.reduceLanes(VectorOperators.ADD);
        }
        // the layouts of the byte-pair and nibble kernels (scalar: O(cols), once per matvec)
        short[] e = qe;
        short[] b8 = bias8;
        short[] b32 = bias32;
        for (int b = 0; b < nb; b++) {
            int o = 32 * b;
            for (int i = 0; i < 16; i++) {
                short ev = qs[o + 2 * i];
                short od = qs[o + 2 * i + 1];
                e[o + i] = ev;
                e[o + 16 + i] = od;
                b32[16 * b + i] = (short) (32 * (ev + od));
                b8[16 * b + i] = (short) (8 * (qs[o + i] + qs[o + 16 + i]));
            }
        }
    }
}
