package dev.isthmus.kernels.cpu.ops;

import static dev.isthmus.kernels.cpu.ops.VectorOps.F;
import static dev.isthmus.kernels.cpu.ops.VectorOps.F32;
import static dev.isthmus.kernels.cpu.ops.VectorOps.L;

import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCodec;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Attention over the paged KV cache, and the K/V store, for the CPU backend.
 *
 * <p>Attention reads the cache in place: the caller resolves the sequence's block table once
 * ({@link #prepare}); a unit of work is one (query token, KV head) pair and computes every query head
 * of that KV head's group, so each key and value row is read from memory once for the group. F32
 * rows are dotted straight from the pool's segment; F16, BF16 and Q8_0 rows are decoded one row at
 * a time into a per-thread scratch row with the Vector API (no decoding of the whole history). Scores
 * are scaled, soft-capped and exponentiated with vector loops; the softmax and the weighted sum of
 * values accumulate in float. The units run on an {@link OpPool}; every scratch array is per thread
 * and kept between calls, so a steady-state call allocates nothing.
 *
 * <p>Not thread-safe: one call at a time (the backend serialises ops).
 */
public final class PagedAttention implements OpPool.Job {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    /** Bytes of one float vector's lanes; null where that shape does not exist (fewer than 8 lanes). */
    private static final VectorSpecies<Byte> B = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final boolean NATIVE_LE = ByteOrder.nativeOrder() == LE;

    private final OpPool pool;
    private final float[][] scores;
    private final float[][] queries;
    private final float[][] accumulators;
    private final float[][] rows;
    private final float[][] sums;
    private float[] encodeScratch = new float[0];
    private long[] blockBase = new long[0];
    private long[] keyBase = new long[0];
    private long[] valueBase = new long[0];

    // The job, set by attention() before the pool runs it.
    private MemorySegment q;
    private MemorySegment out;
    private MemorySegment kv;
    private KvType type;
    private int kvHeads;
    private int headDim;
    private int group;
    private int firstPosition;
    private int tokensPerBlock;
    private long rowBytes;
    private float scale;
    private float softCap;
    private float[] sinks;
    private int window;
    private int chunk;

    /** Attention on the threads of {@code pool} (kept; not closed by this object). */
    public PagedAttention(OpPool pool) {
        this.pool = pool;
        int t = pool.threads();
        scores = new float[t][0];
        queries = new float[t][0];
        accumulators = new float[t][0];
        rows = new float[t][0];
        sums = new float[t][0];
    }

    /** The oldest position a query at {@code p} may see under the window and chunk masks (and causality). */
    public static int firstVisible(int p, int window, int chunk) {
        int from = 0;
        if (window > 0) {
            from = Math.max(from, p - window + 1);
        }
        if (chunk > 0) {
            from = Math.max(from, p / chunk * chunk);
        }
        return from;
    }

    /**
     * Attention of the {@code n} query rows of {@code qData} ({@code [n][heads·headDim]}, token
     * {@code t} at {@code firstPosition + t}) over {@code seq}'s layer {@code layer}, into
     * {@code outData} (which may be {@code qData}). The caller has checked the shapes, that the
     * positions are cached and that no key a query sees has been released.
     */
    public void attention(MemorySegment qData, int n, KvSequence seq, int layer, int firstPosition, AttentionSpec spec,
                          MemorySegment outData) {
        KvBlockPool kvPool = seq.pool();
        int last = firstPosition + n - 1;
        int lo = firstVisible(firstPosition, spec.slidingWindow(), spec.chunkSize());
        prepare(seq, layer, lo, last);
        this.q = qData;
        this.out = outData;
        this.kv = kvPool.segment();
        this.type = kvPool.config().type();
        this.kvHeads = spec.kvHeads();
        this.headDim = spec.headDim();
        this.group = spec.heads() / spec.kvHeads();
        this.firstPosition = firstPosition;
        this.scale = spec.scale();
        this.softCap = spec.softCap();
        this.sinks = spec.sinks();
        this.window = spec.slidingWindow();
        this.chunk = spec.chunkSize();
        int maxSpan = 0;
        for (int p = firstPosition; p <= last; p++) {
            maxSpan = Math.max(maxSpan, p - firstVisible(p, window, chunk) + 1);
        }
        int qLen = group * headDim;
        for (int w = 0; w < scores.length; w++) {
            if (scores[w].length < group * maxSpan) {
                scores[w] = new float[Math.max(group * maxSpan, scores[w].length * 2)];
            }
            if (queries[w].length < qLen) {
                queries[w] = new float[qLen];
                accumulators[w] = new float[qLen];
            }
            if (rows[w].length < headDim) {
                rows[w] = new float[headDim];
            }
            if (sums[w].length < group) {
                sums[w] = new float[group];
            }
        }
        try {
            pool.run(this, n * kvHeads);
        } finally {
            this.q = null;
            this.out = null;
            this.kv = null;
            this.sinks = null;
        }
    }

    /** Resolves the byte offsets of the blocks holding tokens {@code lo .. last} and of each head inside a block. */
    private void prepare(KvSequence seq, int layer, int lo, int last) {
        KvBlockPool kvPool = seq.pool();
        tokensPerBlock = kvPool.tokensPerBlock();
        rowBytes = kvPool.rowBytes(layer);
        int heads = kvPool.config().layer(layer).kvHeads();
        int blocks = last / tokensPerBlock + 1;
        if (blockBase.length < blocks) {
            blockBase = new long[Math.max(blocks, blockBase.length * 2)];
        }
        for (int b = lo / tokensPerBlock; b < blocks; b++) {
            int physical = seq.block(layer, b);
            if (physical < 0) {
                throw new IllegalArgumentException("layer " + layer + " released the block of token " + b * tokensPerBlock);
            }
            blockBase[b] = kvPool.blockOffset(physical);
        }
        if (keyBase.length < heads) {
            keyBase = new long[heads];
            valueBase = new long[heads];
        }
        for (int g = 0; g < heads; g++) {
            keyBase[g] = kvPool.keyOffsetInBlock(layer, g, 0);
            valueBase[g] = kvPool.valueOffsetInBlock(layer, g, 0);
        }
    }

    private long keyRow(int g, int j) {
        return blockBase[j / tokensPerBlock] + keyBase[g] + (j % tokensPerBlock) * rowBytes;
    }

    private long valueRow(int g, int j) {
        return blockBase[j / tokensPerBlock] + valueBase[g] + (j % tokensPerBlock) * rowBytes;
    }

    @Override
    public void run(int unit, int worker) {
        int t = unit / kvHeads;
        int g = unit % kvHeads;
        int hd = headDim;
        int p = firstPosition + t;
        int from = firstVisible(p, window, chunk);
        int span = p - from + 1;
        float[] sc = scores[worker];
        float[] qb = queries[worker];
        float[] acc = accumulators[worker];
        float[] row = rows[worker];
        long qRow = (long) t * group * kvHeads * hd + (long) g * group * hd;
        MemorySegment.copy(q, F32, qRow * 4, qb, 0, group * hd);
        boolean f32 = type == KvType.F32 && NATIVE_LE;
        for (int j = from; j <= p; j++) {
            long ko = keyRow(g, j);
            if (f32) {
                for (int h = 0; h < group; h++) {
                    sc[h * span + j - from] = dotSegment(kv, ko, qb, h * hd, hd);
                }
            } else {
                decodeRow(type, kv, ko, row, hd);
                for (int h = 0; h < group; h++) {
                    sc[h * span + j - from] = dot(row, qb, h * hd, hd);
                }
            }
        }
        float[] inv = sums[worker];
        for (int h = 0; h < group; h++) {
            float sink = sinks == null ? Float.NEGATIVE_INFINITY : sinks[g * group + h];
            float max = scaleAndMax(sc, h * span, span, sink);
            float sum = expAndSum(sc, h * span, span, max);
            if (sinks != null) {
                sum += (float) Math.exp(sink - max);
            }
            inv[h] = 1f / sum;
        }
        Arrays.fill(acc, 0, group * hd, 0f);
        for (int j = from; j <= p; j++) {
            long vo = valueRow(g, j);
            if (f32) {
                for (int h = 0; h < group; h++) {
                    axpySegment(acc, h * hd, sc[h * span + j - from], kv, vo, hd);
                }
            } else {
                decodeRow(type, kv, vo, row, hd);
                for (int h = 0; h < group; h++) {
                    axpy(acc, h * hd, sc[h * span + j - from], row, hd);
                }
            }
        }
        for (int h = 0; h < group; h++) {
            int o = h * hd;
            int i = 0;
            for (int bound = F.loopBound(hd); i < bound; i += L) {
                FloatVector.fromArray(F, acc, o + i).mul(inv[h]).intoMemorySegment(out, (qRow + o + i) * 4, VectorOps.NATIVE);
            }
            for (; i < hd; i++) {
                out.setAtIndex(F32, qRow + o + i, acc[o + i] * inv[h]);
            }
        }
    }

    /** Scores {@code s = s·scale} (then {@code cap·tanh(s/cap)}); returns the max of them and {@code floor}. */
    private float scaleAndMax(float[] sc, int off, int n, float floor) {
        FloatVector m = FloatVector.broadcast(F, floor);
        int i = 0;
        boolean cap = softCap > 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector s = FloatVector.fromArray(F, sc, off + i).mul(scale);
            if (cap) {
                s = s.div(softCap).lanewise(VectorOperators.TANH).mul(softCap);
            }
            s.intoArray(sc, off + i);
            m = m.max(s);
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float s = sc[off + i] * scale;
            if (cap) {
                s = (float) Math.tanh(s / softCap) * softCap;
            }
            sc[off + i] = s;
            max = Math.max(max, s);
        }
        return max;
    }

    /** {@code s = exp(s - max)}; returns their float sum. */
    private static float expAndSum(float[] sc, int off, int n, float max) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector e = FloatVector.fromArray(F, sc, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(sc, off + i);
            acc = acc.add(e);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(sc[off + i] - max);
            sc[off + i] = e;
            sum += e;
        }
        return sum;
    }

    private static float dotSegment(MemorySegment kv, long off, float[] qb, int qo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            acc = FloatVector.fromMemorySegment(F, kv, off + 4L * i, LE).fma(FloatVector.fromArray(F, qb, qo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s = Math.fma(kv.get(F32, off + 4L * i), qb[qo + i], s);
        }
        return s;
    }

    private static float dot(float[] row, float[] qb, int qo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            acc = FloatVector.fromArray(F, row, i).fma(FloatVector.fromArray(F, qb, qo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s = Math.fma(row[i], qb[qo + i], s);
        }
        return s;
    }

    private static void axpySegment(float[] acc, int ao, float w, MemorySegment kv, long off, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromMemorySegment(F, kv, off + 4L * i, LE).fma(wv, FloatVector.fromArray(F, acc, ao + i))
                    .intoArray(acc, ao + i);
        }
        for (; i < n; i++) {
            acc[ao + i] = Math.fma(kv.get(F32, off + 4L * i), w, acc[ao + i]);
        }
    }

    private static void axpy(float[] acc, int ao, float w, float[] row, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, row, i).fma(wv, FloatVector.fromArray(F, acc, ao + i)).intoArray(acc, ao + i);
        }
        for (; i < n; i++) {
            acc[ao + i] = Math.fma(row[i], w, acc[ao + i]);
        }
    }

    /** Decodes one cache row of {@code n} values of {@code type} at byte {@code off} into {@code dst[0..n)}. */
    static void decodeRow(KvType type, MemorySegment src, long off, float[] dst, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE), off, dst, 0, n);
            case F16 -> {
                int i = 0;
                for (int bound = S.loopBound(n); i < bound; i += L) {
                    halfToFloat(ShortVector.fromMemorySegment(S, src, off + 2L * i, LE)).intoArray(dst, i);
                }
                for (; i < n; i++) {
                    dst[i] = Float.float16ToFloat(src.get(I16_LE, off + 2L * i));
                }
            }
            case BF16 -> {
                int i = 0;
                for (int bound = S.loopBound(n); i < bound; i += L) {
                    IntVector v = (IntVector) ShortVector.fromMemorySegment(S, src, off + 2L * i, LE)
                            .convertShape(VectorOperators.S2I, I, 0);
                    v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
                }
                for (; i < n; i++) {
                    dst[i] = KvCodec.bf16ToFloat(src.get(I16_LE, off + 2L * i));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < n; b += KvType.Q8_0_BLOCK) {
                    long at = off + (long) (b / KvType.Q8_0_BLOCK) * KvType.Q8_0_BLOCK_BYTES;
                    float d = Float.float16ToFloat(src.get(I16_LE, at));
                    int i = 0;
                    if (B != null) {
                        for (; i < KvType.Q8_0_BLOCK; i += L) {
                            ((FloatVector) ByteVector.fromMemorySegment(B, src, at + 2 + i, LE)
                                    .convertShape(VectorOperators.B2F, F, 0)).mul(d).intoArray(dst, b + i);
                        }
                    }
                    for (; i < KvType.Q8_0_BLOCK; i++) {
                        dst[b + i] = d * src.get(ValueLayout.JAVA_BYTE, at + 2 + i);
                    }
                }
            }
        }
    }

    /** IEEE binary16 lanes (as shorts) to floats, exactly: normals, subnormals, zeros, infinities and NaNs. */
    private static FloatVector halfToFloat(ShortVector h) {
        IntVector v = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = v.and(0x7FFF);
        IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
        // exponent rebias 15 -> 127 by a multiply, exact for normals and subnormals alike
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7C00);
        IntVector bits = finite.blend(shifted.or(0x7F800000), special);
        return bits.or(v.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /**
     * Stores K and V rows ({@code [n][kvHeads·headDim]} F32, native order) at positions
     * {@code firstPosition ..} of {@code seq}'s layer, encoding them as the pool's type straight from the
     * tensors (F32 by a bulk copy; F16/BF16 element by element; Q8_0 through {@link KvCodec} from a
     * kept scratch row). The caller has checked shapes and positions.
     *
     * @throws IllegalStateException    when a token's block is shared with another sequence (read-only)
     * @throws IllegalArgumentException when a token's block was released
     */
    public void store(KvSequence seq, int layer, int firstPosition, MemorySegment k, MemorySegment v, int n, int heads,
                      int hd) {
        KvBlockPool kvPool = seq.pool();
        KvType kt = kvPool.config().type();
        MemorySegment dst = kvPool.segment();
        int tpb = kvPool.tokensPerBlock();
        if (encodeScratch.length < hd) {
            encodeScratch = new float[hd];
        }
        for (int t = 0; t < n; t++) {
            int pos = firstPosition + t;
            int block = seq.block(layer, pos / tpb);
            if (block < 0) {
                throw new IllegalArgumentException("token " + pos + " has left the sliding window of layer " + layer);
            }
            if (kvPool.refCount(block) != 1) {
                throw new IllegalStateException("token " + pos + " of layer " + layer
                        + " lies in a block shared with another sequence; shared prefixes are read-only");
            }
            for (int g = 0; g < heads; g++) {
                long src = ((long) t * heads * hd + (long) g * hd) * 4;
                encodeRow(kt, k, src, dst, seq.keyOffset(layer, pos, g), hd);
                encodeRow(kt, v, src, dst, seq.valueOffset(layer, pos, g), hd);
            }
        }
    }

    private void encodeRow(KvType kt, MemorySegment src, long srcOff, MemorySegment dst, long dstOff, int n) {
        switch (kt) {
            case F32 -> {
                if (NATIVE_LE) {
                    MemorySegment.copy(src, srcOff, dst, dstOff, 4L * n);
                } else {
                    for (int i = 0; i < n; i++) {
                        dst.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE), dstOff + 4L * i,
                                src.get(F32, srcOff + 4L * i));
                    }
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16_LE, dstOff + 2L * i, Float.floatToFloat16(src.get(F32, srcOff + 4L * i)));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16_LE, dstOff + 2L * i, KvCodec.floatToBf16(src.get(F32, srcOff + 4L * i)));
                }
            }
            case Q8_0 -> {
                MemorySegment.copy(src, F32, srcOff, encodeScratch, 0, n);
                KvCodec.encode(kt, encodeScratch, 0, n, dst, dstOff);
            }
        }
    }
}
