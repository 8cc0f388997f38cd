package dev.isthmus.kernels.cpu;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.kernels.cpu.gemm.Gemm;
import dev.isthmus.kernels.cpu.matvec.MatVec;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import dev.isthmus.kernels.cpu.ref.Activations;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvCodec;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The CPU {@link Backend}: weights are read in place from the mapped file; matrix products go to
 * the Vector API GEMV kernels ({@link MatVecPool}, one token) or to {@link Gemm} (several tokens:
 * oneDNN where it measured faster); the other ops are plain loops over off-heap F32 tensors.
 * Activations live in one shared arena freed by {@link #close()}. Scratch arrays are kept and grown,
 * so steady-state steps allocate nothing on the heap.
 *
 * <p>Not thread-safe: one op at a time (see {@link Backend}); each op uses the backend's threads.
 */
public final class CpuBackend implements Backend {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Arena arena = Arena.ofShared();
    private final MatVecPool pool;
    private final Gemm gemm;
    private volatile boolean closed;

    private float[] a = new float[0];
    private float[] b = new float[0];
    private float[] keys = new float[0];
    private float[] values = new float[0];
    private float[] scores = new float[0];
    private float[] cos = new float[0];
    private float[] sin = new float[0];

    /**
     * @param threads worker threads including the caller; 0 for the physical cores
     */
    public CpuBackend(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0: " + threads);
        }
        this.pool = new MatVecPool(threads == 0 ? MatVecPool.physicalCores() : threads);
        this.gemm = new Gemm(Gemm.Policy.AUTO, pool, Gemm.DEFAULT_CACHE_CAPACITY);
    }

    @Override
    public String name() {
        return "cpu";
    }

    /** Threads an op uses, the caller included. */
    public int threads() {
        return pool.threads();
    }

    static GgmlType ggml(DType t) {
        return GgmlType.byId(t.ggmlId()).orElseThrow();
    }

    @Override
    public boolean supports(DType type) {
        return MatVec.supports(ggml(type));
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("the cpu backend is closed");
        }
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor weight(DType type, int rows, int cols, MemorySegment hostBytes) {
        open();
        if (!supports(type)) {
            throw new UnsupportedOperationException("the cpu backend has no kernels for " + type);
        }
        return new Tensor(type, rows, cols, hostBytes);
    }

    @Override
    public Tensor allocate(int rows, int cols) {
        open();
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + "x" + cols);
        }
        return new Tensor(DType.F32, rows, cols, arena.allocate(Math.max(4L, 4L * rows * cols), 64));
    }

    @Override
    public void write(float[] src, int srcOffset, Tensor dst) {
        f32(dst, "dst");
        Objects.checkFromIndexSize(srcOffset, (int) dst.elements(), src.length);
        MemorySegment.copy(src, srcOffset, dst.data(), F32, 0, (int) dst.elements());
    }

    @Override
    public void read(Tensor src, float[] dst, int dstOffset) {
        f32(src, "src");
        Objects.checkFromIndexSize(dstOffset, (int) src.elements(), dst.length);
        MemorySegment.copy(src.data(), F32, 0, dst, dstOffset, (int) src.elements());
    }

    @Override
    public KvBlockPool newKvPool(KvCacheConfig config) {
        open();
        return new KvBlockPool(config);
    }

    // ---------------------------------------------------------------- ops

    @Override
    public void matmul(Tensor x, Tensor w, Tensor y) {
        open();
        f32(x, "x");
        f32(y, "y");
        if (x.cols() != w.cols() || y.rows() != x.rows() || y.cols() != w.rows()) {
            throw new IllegalArgumentException("matmul shapes: x " + x + " · w " + w + "ᵀ -> y " + y);
        }
        if (x.rows() == 1) {
            pool.matvec(ggml(w.dtype()), w.data(), w.rows(), w.cols(), x.data(), y.data());
        } else {
            gemm.gemm(ggml(w.dtype()), w.data(), x.rows(), w.cols(), w.rows(), x.data(), y.data());
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        f32(y, "y");
        f32(bias, "bias");
        if (bias.elements() != y.cols()) {
            throw new IllegalArgumentException("bias " + bias + " for rows of " + y.cols());
        }
        MemorySegment yd = y.data();
        MemorySegment bd = bias.data();
        int n = y.cols();
        for (int t = 0; t < y.rows(); t++) {
            long base = (long) t * n;
            for (int i = 0; i < n; i++) {
                yd.setAtIndex(F32, base + i, yd.getAtIndex(F32, base + i) + bd.getAtIndex(F32, i));
            }
        }
    }

    @Override
    public void add(Tensor x, Tensor y, Tensor out) {
        sameShape(x, y, "add");
        sameShape(x, out, "add");
        MemorySegment xd = x.data();
        MemorySegment yd = y.data();
        MemorySegment od = out.data();
        for (long i = 0, n = x.elements(); i < n; i++) {
            od.setAtIndex(F32, i, xd.getAtIndex(F32, i) + yd.getAtIndex(F32, i));
        }
    }

    @Override
    public void scale(Tensor x, float factor) {
        f32(x, "x");
        MemorySegment d = x.data();
        for (long i = 0, n = x.elements(); i < n; i++) {
            d.setAtIndex(F32, i, d.getAtIndex(F32, i) * factor);
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, boolean plusOne, Tensor out) {
        sameShape(x, out, "rmsNorm");
        f32(weight, "weight");
        int dim = (int) weight.elements();
        if (dim == 0 || x.elements() % dim != 0) {
            throw new IllegalArgumentException("rmsNorm weight of " + dim + " values for " + x);
        }
        MemorySegment xd = x.data();
        MemorySegment wd = weight.data();
        MemorySegment od = out.data();
        for (long base = 0, n = x.elements(); base < n; base += dim) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                float v = xd.getAtIndex(F32, base + i);
                ss += v * v;
            }
            float r = (float) (1.0 / Math.sqrt(ss / dim + eps));
            for (int i = 0; i < dim; i++) {
                float w = wd.getAtIndex(F32, i);
                float v = xd.getAtIndex(F32, base + i) * r;
                od.setAtIndex(F32, base + i, plusOne ? v * (1f + w) : v * w);
            }
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        sameShape(x, out, "layerNorm");
        f32(weight, "weight");
        int dim = x.cols();
        if (weight.elements() != dim || (bias != null && bias.elements() != dim)) {
            throw new IllegalArgumentException("layerNorm weight " + weight + " / bias " + bias + " for rows of " + dim);
        }
        MemorySegment xd = x.data();
        MemorySegment od = out.data();
        for (int t = 0; t < x.rows(); t++) {
            long base = (long) t * dim;
            double sum = 0;
            for (int i = 0; i < dim; i++) {
                sum += xd.getAtIndex(F32, base + i);
            }
            double mean = sum / dim;
            double var = 0;
            for (int i = 0; i < dim; i++) {
                double d = xd.getAtIndex(F32, base + i) - mean;
                var += d * d;
            }
            float r = (float) (1.0 / Math.sqrt(var / dim + eps));
            for (int i = 0; i < dim; i++) {
                float v = (float) (xd.getAtIndex(F32, base + i) - mean) * r * weight.data().getAtIndex(F32, i);
                if (bias != null) {
                    v += bias.data().getAtIndex(F32, i);
                }
                od.setAtIndex(F32, base + i, v);
            }
        }
    }

    @Override
    public void rope(Tensor x, int heads, int headDim, int[] positions, RopeSpec spec) {
        f32(x, "x");
        if (x.cols() != heads * headDim || positions.length != x.rows() || spec.rotaryDim() > headDim) {
            throw new IllegalArgumentException("rope on " + x + " with " + heads + " heads of " + headDim + ", "
                    + positions.length + " positions, rotary dim " + spec.rotaryDim());
        }
        int half = spec.rotaryDim() / 2;
        if (cos.length < half) {
            cos = new float[half];
            sin = new float[half];
        }
        float[] inv = spec.inverseFrequencies();
        float scaling = spec.attentionScaling();
        boolean neox = spec.layout() == RopeLayout.NEOX;
        MemorySegment d = x.data();
        for (int t = 0; t < positions.length; t++) {
            float p = positions[t];
            for (int i = 0; i < half; i++) {
                float f = inv[i] * p;
                cos[i] = (float) Math.cos(f) * scaling;
                sin[i] = (float) Math.sin(f) * scaling;
            }
            for (int h = 0; h < heads; h++) {
                long base = (long) t * x.cols() + (long) h * headDim;
                for (int i = 0; i < half; i++) {
                    long ia = neox ? base + i : base + 2L * i;
                    long ib = neox ? base + i + half : base + 2L * i + 1;
                    float x1 = d.getAtIndex(F32, ia);
                    float x2 = d.getAtIndex(F32, ib);
                    d.setAtIndex(F32, ia, x1 * cos[i] + -x2 * sin[i]);
                    d.setAtIndex(F32, ib, x2 * cos[i] + x1 * sin[i]);
                }
            }
        }
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        sameShape(x, out, "activation");
        MemorySegment xd = x.data();
        MemorySegment od = out.data();
        for (long i = 0, n = x.elements(); i < n; i++) {
            od.setAtIndex(F32, i, apply(act, xd.getAtIndex(F32, i)));
        }
    }

    private static float apply(Activation act, float v) {
        return switch (act) {
            case SILU -> Activations.silu(v);
            case GELU_TANH -> Activations.geluTanh(v);
            case GELU_ERF -> Activations.geluErf(v);
        };
    }

    @Override
    public void gatedActivation(Activation act, Tensor gate, Tensor up, Tensor out) {
        sameShape(gate, up, "gatedActivation");
        sameShape(gate, out, "gatedActivation");
        MemorySegment gd = gate.data();
        MemorySegment ud = up.data();
        MemorySegment od = out.data();
        for (long i = 0, n = gate.elements(); i < n; i++) {
            od.setAtIndex(F32, i, apply(act, gd.getAtIndex(F32, i)) * ud.getAtIndex(F32, i));
        }
    }

    @Override
    public void embedding(Tensor table, int[] tokens, float scale, Tensor out) {
        f32(out, "out");
        if (out.rows() != tokens.length || out.cols() != table.cols()) {
            throw new IllegalArgumentException("embedding of " + tokens.length + " tokens from " + table + " into " + out);
        }
        GgmlType type = ggml(table.dtype());
        int dim = table.cols();
        grow(dim, 0);
        for (int t = 0; t < tokens.length; t++) {
            int id = tokens[t];
            if (id < 0 || id >= table.rows()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + table.rows() + ")");
            }
            MemorySegment row = table.data().asSlice(id * table.rowBytes(), table.rowBytes());
            Dequantize.dequantize(type, row, dim, a, 0);
            for (int i = 0; i < dim; i++) {
                out.data().setAtIndex(F32, (long) t * dim + i, a[i] * scale);
            }
        }
    }

    @Override
    public void softCap(Tensor x, float cap) {
        f32(x, "x");
        if (!(cap > 0)) {
            throw new IllegalArgumentException("soft-cap must be positive: " + cap);
        }
        MemorySegment d = x.data();
        for (long i = 0, n = x.elements(); i < n; i++) {
            d.setAtIndex(F32, i, (float) (cap * Math.tanh(d.getAtIndex(F32, i) / cap)));
        }
    }

    @Override
    public int argmax(Tensor x, int row) {
        f32(x, "x");
        Objects.checkIndex(row, x.rows());
        MemorySegment d = x.data();
        long base = (long) row * x.cols();
        int best = 0;
        float max = d.getAtIndex(F32, base);
        for (int i = 1; i < x.cols(); i++) {
            float v = d.getAtIndex(F32, base + i);
            if (v > max) {
                max = v;
                best = i;
            }
        }
        return best;
    }

    @Override
    public void storeKv(KvSequence seq, int layer, int firstPosition, Tensor k, Tensor v) {
        sameShape(k, v, "storeKv");
        KvCacheConfig.LayerSpec ls = seq.pool().config().layer(layer);
        int hd = ls.headDim();
        if (k.cols() != ls.kvHeads() * hd) {
            throw new IllegalArgumentException("storeKv rows of " + k.cols() + " for a layer of " + ls.kvHeads()
                    + " KV heads of " + hd);
        }
        if (firstPosition < 0 || firstPosition + k.rows() > seq.length()) {
            throw new IllegalArgumentException("positions " + firstPosition + ".." + (firstPosition + k.rows() - 1)
                    + " are not reserved (sequence length " + seq.length() + ")");
        }
        grow(k.cols(), k.cols());
        for (int t = 0; t < k.rows(); t++) {
            MemorySegment.copy(k.data(), F32, (long) t * k.rowBytes(), a, 0, k.cols());
            MemorySegment.copy(v.data(), F32, (long) t * v.rowBytes(), b, 0, v.cols());
            for (int g = 0; g < ls.kvHeads(); g++) {
                seq.writeKey(layer, firstPosition + t, g, a, g * hd);
                seq.writeValue(layer, firstPosition + t, g, b, g * hd);
            }
        }
    }

    @Override
    public void attention(Tensor q, KvSequence seq, int layer, int firstPosition, AttentionSpec spec, Tensor out) {
        sameShape(q, out, "attention");
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int hd = spec.headDim();
        KvCacheConfig.LayerSpec ls = seq.pool().config().layer(layer);
        if (q.cols() != heads * hd || ls.kvHeads() != kvHeads || ls.headDim() != hd) {
            throw new IllegalArgumentException("attention of " + q + " (" + heads + " heads of " + hd + ") over a layer of "
                    + ls.kvHeads() + " KV heads of " + ls.headDim());
        }
        int n = q.rows();
        int last = firstPosition + n - 1;
        if (firstPosition < 0 || last >= seq.length()) {
            throw new IllegalArgumentException("queries at " + firstPosition + ".." + last + " beyond the cached "
                    + seq.length() + " tokens");
        }
        int lo = firstVisible(firstPosition, spec);
        lo = Math.max(lo, seq.firstLiveToken(layer));
        int span = last - lo + 1;
        KvType type = seq.pool().config().type();
        MemorySegment kv = seq.pool().segment();
        if (keys.length < span * hd) {
            keys = new float[span * hd];
            values = new float[span * hd];
        }
        if (scores.length < span) {
            scores = new float[span];
        }
        int group = heads / kvHeads;
        MemorySegment qd = q.data();
        MemorySegment od = out.data();
        for (int g = 0; g < kvHeads; g++) {
            for (int j = lo; j <= last; j++) {
                KvCodec.decode(type, kv, seq.keyOffset(layer, j, g), keys, (j - lo) * hd, hd);
                KvCodec.decode(type, kv, seq.valueOffset(layer, j, g), values, (j - lo) * hd, hd);
            }
            for (int h = g * group; h < (g + 1) * group; h++) {
                for (int t = 0; t < n; t++) {
                    int p = firstPosition + t;
                    int from = Math.max(firstVisible(p, spec), lo);
                    long qBase = (long) t * q.cols() + (long) h * hd;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = from; j <= p; j++) {
                        int kb = (j - lo) * hd;
                        float s = 0;
                        for (int i = 0; i < hd; i++) {
                            s += qd.getAtIndex(F32, qBase + i) * keys[kb + i];
                        }
                        s *= spec.scale();
                        if (spec.softCap() > 0) {
                            s = (float) (spec.softCap() * Math.tanh(s / spec.softCap()));
                        }
                        scores[j - lo] = s;
                        max = Math.max(max, s);
                    }
                    float sink = spec.sinks() == null ? Float.NEGATIVE_INFINITY : spec.sinks()[h];
                    max = Math.max(max, sink);
                    double sum = spec.sinks() == null ? 0 : Math.exp(sink - max);
                    for (int j = from; j <= p; j++) {
                        float e = (float) Math.exp(scores[j - lo] - max);
                        scores[j - lo] = e;
                        sum += e;
                    }
                    float inv = (float) (1.0 / sum);
                    for (int i = 0; i < hd; i++) {
                        float acc = 0;
                        for (int j = from; j <= p; j++) {
                            acc += scores[j - lo] * values[(j - lo) * hd + i];
                        }
                        od.setAtIndex(F32, qBase + i, acc * inv);
                    }
                }
            }
        }
    }

    /** The oldest position a query at {@code p} may see under the spec's window and chunk masks. */
    private static int firstVisible(int p, AttentionSpec spec) {
        int from = 0;
        if (spec.slidingWindow() > 0) {
            from = Math.max(from, p - spec.slidingWindow() + 1);
        }
        if (spec.chunkSize() > 0) {
            from = Math.max(from, p / spec.chunkSize() * spec.chunkSize());
        }
        return from;
    }

    private void grow(int na, int nb) {
        if (a.length < na) {
            a = new float[na];
        }
        if (b.length < nb) {
            b = new float[nb];
        }
    }

    private static void f32(Tensor t, String name) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + " must be F32, not " + t);
        }
    }

    private static void sameShape(Tensor x, Tensor y, String op) {
        f32(x, op + " input");
        f32(y, op + " input");
        if (x.rows() != y.rows() || x.cols() != y.cols()) {
            throw new IllegalArgumentException(op + ": shapes differ, " + x + " and " + y);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        gemm.close();
        pool.close();
        arena.close();
    }
}
