package dev.isthmus.memory.kv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The reference conversions between {@code float} and the cache's {@link KvType}s. Fast kernels
 * read and write the segments directly; these define what they must agree with.
 *
 * <ul>
 *   <li>F32: bit-exact.</li>
 *   <li>F16: {@link Float#floatToFloat16} (round to nearest even), {@link Float#float16ToFloat}.</li>
 *   <li>BF16: the upper 16 bits of the binary32, rounded to nearest even; NaN stays a (quiet) NaN.</li>
 *   <li>Q8_0: per 32 values, {@code d} = absmax/127 rounded <em>down</em> to an f16 (so that no
 *       element needs more than ±127), {@code q = round(x/d)} (half away from zero) clamped to
 *       [-127, 127]. Decoding gives {@code d*q}; the error per element is at most absmax/254 while
 *       {@code d} is a normal f16 (absmax in about [7.8e-3, 8.3e6]); below that the f16 scale
 *       loses precision, as in ggml. (Float arithmetic adds at most an ulp or so of
 *       the result on top of that bound.)</li>
 * </ul>
 * All fields are little-endian. Offsets are byte offsets into the segment; no alignment is required.
 */
public final class KvCodec {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KvCodec() {
    }

    /**
     * Encodes {@code n} floats from {@code src[off..]} as {@code type} into {@code dst} at byte {@code dstOffset}.
     *
     * @throws IllegalArgumentException when {@code n} is not a multiple of 32 for Q8_0
     */
    public static void encode(KvType type, float[] src, int off, int n, MemorySegment dst, long dstOffset) {
        Objects.checkFromIndexSize(off, n, src.length);
        switch (type) {
            case F32 -> MemorySegment.copy(src, off, dst, F32, dstOffset, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16, dstOffset + 2L * i, Float.floatToFloat16(src[off + i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16, dstOffset + 2L * i, floatToBf16(src[off + i]));
                }
            }
            case Q8_0 -> {
                type.rowBytes(n); // validates n
                for (int b = 0; b < n; b += KvType.Q8_0_BLOCK) {
                    long at = dstOffset + (long) (b / KvType.Q8_0_BLOCK) * KvType.Q8_0_BLOCK_BYTES;
                    encodeQ8Block(src, off + b, dst, at);
                }
            }
        }
    }

    /**
     * Decodes {@code n} values of {@code type} at byte {@code srcOffset} of {@code src} into {@code dst[off..]}.
     *
     * @throws IllegalArgumentException when {@code n} is not a multiple of 32 for Q8_0
     */
    public static void decode(KvType type, MemorySegment src, long srcOffset, float[] dst, int off, int n) {
        Objects.checkFromIndexSize(off, n, dst.length);
        switch (type) {
            case F32 -> MemorySegment.copy(src, F32, srcOffset, dst, off, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[off + i] = Float.float16ToFloat(src.get(I16, srcOffset + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[off + i] = bf16ToFloat(src.get(I16, srcOffset + 2L * i));
                }
            }
            case Q8_0 -> {
                type.rowBytes(n);
                for (int b = 0; b < n; b += KvType.Q8_0_BLOCK) {
                    long at = srcOffset + (long) (b / KvType.Q8_0_BLOCK) * KvType.Q8_0_BLOCK_BYTES;
                    float d = Float.float16ToFloat(src.get(I16, at));
                    for (int i = 0; i < KvType.Q8_0_BLOCK; i++) {
                        dst[off + b + i] = d * src.get(ValueLayout.JAVA_BYTE, at + 2 + i);
                    }
                }
            }
        }
    }

    /** {@code f} as bfloat16 bits, rounded to nearest even; NaN becomes a quiet NaN of the same sign. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** The float whose upper 16 bits are {@code h}. Exact. */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    private static void encodeQ8Block(float[] src, int off, MemorySegment dst, long at) {
        float amax = 0f;
        for (int i = 0; i < KvType.Q8_0_BLOCK; i++) {
            amax = Math.max(amax, Math.abs(src[off + i]));
        }
        float d = amax / 127f;
        short dh = Float.floatToFloat16(d);
        float d16 = Float.float16ToFloat(dh);
        if (d16 > d && dh > 0) {
            dh--; // round the scale down: the largest element then needs |q| >= 127, clamped below
            d16 = Float.float16ToFloat(dh);
        }
        dst.set(I16, at, dh);
        boolean zero = d16 == 0f || Float.isInfinite(d16);
        for (int i = 0; i < KvType.Q8_0_BLOCK; i++) {
            float v = zero ? 0f : src[off + i] / d16;
            int q = (int) (Math.signum(v) * Math.floor(Math.abs(v) + 0.5f));
            q = Math.max(-127, Math.min(127, q));
            dst.set(ValueLayout.JAVA_BYTE, at + 2 + i, (byte) q);
        }
    }
}
