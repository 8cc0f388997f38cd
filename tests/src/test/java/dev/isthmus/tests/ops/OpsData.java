package dev.isthmus.tests.ops;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.kv.KvCodec;
import dev.isthmus.memory.kv.KvType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Random inputs for {@link BackendOpsTest} and the plain references they are compared with. */
final class OpsData {
    private OpsData() {
    }

    static GgmlType ggml(DType t) {
        return GgmlType.byId(t.ggmlId()).orElseThrow();
    }

    static float[] gauss(int n, double sigma, SplittableRandom rnd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * sigma);
        }
        return v;
    }

    /**
     * Row-major weights of {@code type}: quantized by {@link Quantize} where it has a quantizer
     * (Gaussian values, 1% of them ten times larger), otherwise random block bytes whose f16 scale
     * fields are written as small finite values (every other bit pattern of those layouts is a valid
     * code).
     */
    static byte[] weights(DType type, int rows, int cols, SplittableRandom rnd) {
        GgmlType g = ggml(type);
        if (Quantize.supports(g)) {
            float[] v = new float[rows * cols];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextGaussian() * (rnd.nextInt(100) == 0 ? 1.0 : 0.1));
            }
            if (g == GgmlType.F32) {
                byte[] out = new byte[v.length * 4];
                MemorySegment.ofArray(out).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
                return out;
            }
            return Quantize.quantize(g, v, 0, v.length);
        }
        int bytes = type.blockBytes();
        int blocks = rows * (cols / type.blockSize());
        byte[] out = new byte[blocks * bytes];
        rnd.nextBytes(out);
        for (int b = 0; b < blocks; b++) {
            int o = b * bytes;
            switch (type) {
                case Q4_1, Q5_1 -> {
                    f16(out, o, scale(rnd));
                    f16(out, o + 2, scale(rnd));
                }
                case Q5_0 -> f16(out, o, scale(rnd));
                case Q2_K -> {
                    f16(out, o + 80, scale(rnd) * 0.1f);
                    f16(out, o + 82, Math.abs(scale(rnd)) * 0.1f);
                }
                case Q3_K -> f16(out, o + 108, scale(rnd) * 0.1f);
                case Q5_K -> {
                    f16(out, o, scale(rnd) * 0.1f);
                    f16(out, o + 2, Math.abs(scale(rnd)) * 0.1f);
                }
                default -> throw new AssertionError("no hand-built blocks for " + type);
            }
        }
        return out;
    }

    private static float scale(SplittableRandom rnd) {
        float s = (float) rnd.nextDouble(0.001, 0.05);
        return rnd.nextBoolean() ? s : -s;
    }

    private static void f16(byte[] b, int o, float v) {
        short h = Quantize.floatToF16(v);
        b[o] = (byte) h;
        b[o + 1] = (byte) (h >> 8);
    }

    private static float f16At(byte[] b, int o) {
        return Float.float16ToFloat((short) ((b[o] & 0xFF) | (b[o + 1] << 8)));
    }

    /** A copy in native memory of a shared arena (backend threads read weights in place). */
    static MemorySegment nativeCopy(Arena arena, byte[] b) {
        MemorySegment s = arena.allocate(Math.max(1, b.length), 64).asSlice(0, b.length);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, b.length);
        return s;
    }

    /** Row {@code r} of the weights, dequantized by the reference dequantizer. */
    static float[] dequantizedRow(DType type, byte[] w, int r, int cols) {
        long rb = type.rowBytes(cols);
        float[] row = new float[cols];
        Dequantize.dequantize(ggml(type), MemorySegment.ofArray(w).asSlice(r * rb, rb), cols, row, 0);
        return row;
    }

    /**
     * |offset| that the block format adds to element {@code i} of the row at byte {@code rowOff}
     * (Q4_1/Q5_1's {@code m}, the K-quants' {@code dmin·m}); 0 for the formats without one. A kernel
     * may sum the scaled codes and the offsets apart, so its partial sums are bounded by
     * {@code |w| + 2|offset|}, not by {@code |w|}.
     */
    static double offset(DType type, byte[] w, int rowOff, int i) {
        int blk = rowOff + (i / type.blockSize()) * type.blockBytes();
        int e = i % type.blockSize();
        return switch (type) {
            case Q4_1, Q5_1 -> Math.abs(f16At(w, blk + 2));
            case Q2_K -> Math.abs(f16At(w, blk + 82) * ((w[blk + e / 16] & 0xFF) >>> 4));
            case Q4_K, Q5_K -> {
                int j = e / 32;
                int s = blk + 4;
                int m = j < 4 ? (w[s + j + 4] & 63) : ((w[s + j + 4] & 0xFF) >>> 4) | ((w[s + j] & 0xFF) >>> 6) << 4;
                yield Math.abs(f16At(w, blk + 2) * m);
            }
            default -> 0;
        };
    }

    /** {@code n} floats as the KV cache of {@code type} stores them (encoded and decoded again). */
    static void roundTrip(KvType type, float[] src, int off, int n) {
        MemorySegment tmp = MemorySegment.ofArray(new byte[(int) type.rowBytes(n)]);
        KvCodec.encode(type, src, off, n, tmp, 0);
        KvCodec.decode(type, tmp, 0, src, off, n);
    }
}
