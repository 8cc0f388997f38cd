package dev.isthmus.kernels.cpu;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.kernels.cpu.gemm.Gemm;
import dev.isthmus.kernels.cpu.matvec.MatVec;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import dev.isthmus.kernels.cpu.ops.OpPool;
import dev.isthmus.kernels.cpu.ops.PagedAttention;
import dev.isthmus.kernels.cpu.ops.VectorOps;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.OpChecks;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The CPU {@link Backend}: weights are read in place from the mapped file; matrix products go to
 * the Vector API GEMV kernels ({@link MatVecPool}, one token) or to {@link Gemm} (several tokens:
 * oneDNN where it measured faster). The other ops are Java Vector API loops over the off-heap F32
 * tensors ({@link VectorOps}); attention reads the paged KV cache in place and is split over the KV
 * heads and query tokens on a fixed pool of {@link #threads()} threads ({@link PagedAttention},
 * {@link OpPool}); K/V are encoded straight from the tensors into the cache. Activations live in one
 * shared arena freed by {@link #close()}. Scratch arrays are kept per thread and grown, so
 * steady-state steps allocate nothing on the heap ({@code CpuBackendAllocationTest}).
 *
 * <p>Not thread-safe: one op at a time (see {@link Backend}); each op uses the backend's threads.
 * Every op checks its arguments before touching memory ({@link IllegalArgumentException}) and
 * throws {@link IllegalStateException} once the backend is closed.
 */
public final class CpuBackend implements Backend {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Elementwise ops run over at most this many values a call of the kernel (int-indexed loops). */
    private static final int CHUNK = 1 << 28;

    private final Arena arena = Arena.ofShared();
    private final MatVecPool pool;
    private final Gemm gemm;
    private volatile boolean closed;

    private final OpPool ops;
    private final PagedAttention attention;
    private final List<KvBlockPool> pools = new ArrayList<>();

    private float[] a = new float[0];
    private float[] b = new float[0];
    private float[] cos = new float[0];
    private float[] sin = new float[0];

    /**
     * @param threads worker threads including the caller; 0 for the physical cores
     */
    public CpuBackend(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0: " + threads);
        }
        // one set of threads for every op: the matvecs run on the op pool's workers
        this.ops = new OpPool(threads == 0 ? MatVecPool.physicalCores() : threads);
        this.pool = new MatVecPool(ops);
        this.gemm = new Gemm(Gemm.Policy.AUTO, pool, Gemm.DEFAULT_CACHE_CAPACITY);
        this.attention = new PagedAttention(ops);
    }

    @Override
    public String name() {
        return "cpu";
    }

    /** A streaming read of 512 MiB with {@link #threads()} threads ({@link MemoryBandwidth}), best of 5. */
    @Override
    public double measureMemoryBandwidth() {
        open();
        return MemoryBandwidth.measure(threads(), 512L << 20, 5).bytesPerSecond();
    }

    /** Threads an op uses, the caller included. */
    public int threads() {
        return pool.threads();
    }

    private static final GgmlType[] GGML = new GgmlType[DType.values().length];

    static {
        for (DType t : DType.values()) {
            GGML[t.ordinal()] = GgmlType.byId(t.ggmlId()).orElseThrow();
        }
    }

    static GgmlType ggml(DType t) {
        return GGML[t.ordinal()];
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
        open();
        OpChecks.f32(dst, "dst");
        Objects.checkFromIndexSize(srcOffset, (int) dst.elements(), src.length);
        MemorySegment.copy(src, srcOffset, dst.data(), F32, 0, (int) dst.elements());
    }

    @Override
    public void read(Tensor src, float[] dst, int dstOffset) {
        open();
        OpChecks.f32(src, "src");
        Objects.checkFromIndexSize(dstOffset, (int) src.elements(), dst.length);
        MemorySegment.copy(src.data(), F32, 0, dst, dstOffset, (int) src.elements());
    }

    /** A pool in host memory; {@link #close()} closes the pools this backend made that are still open. */
    @Override
    public KvBlockPool newKvPool(KvCacheConfig config) {
        open();
        pools.removeIf(p -> !p.isOpen());
        KvBlockPool pool = new KvBlockPool(config);
        pools.add(pool);
        return pool;
    }

    // ---------------------------------------------------------------- ops

    @Override
    public void matmul(Tensor x, Tensor w, Tensor y) {
        open();
        OpChecks.f32(x, "x");
        OpChecks.f32(y, "y");
        if (x.cols() != w.cols() || y.rows() != x.rows() || y.cols() != w.rows()) {
            throw new IllegalArgumentException("matmul shapes: x " + x + " · w " + w + "ᵀ -> y " + y);
        }
        if (x.rows() == 1) {
            // decode: Q8_0/Q4_0/Q4_K/Q6_K weights take x quantized to 8 bits per 32-block and integer
            // kernels (as llama.cpp does; error bound in docs/MATVEC.md); other types the float kernels
            pool.matvecQ8(ggml(w.dtype()), w.data(), w.rows(), w.cols(), x.data(), y.data());
        } else {
            ops.quiesce();   // the GEMM runs on its own panel workers: the op pool's should not spin meanwhile
            gemm.gemm(ggml(w.dtype()), w.data(), x.rows(), w.cols(), w.rows(), x.data(), y.data());
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        open();
        OpChecks.f32(y, "y");
        OpChecks.f32(bias, "bias");
        if (bias.elements() != y.cols()) {
            throw new IllegalArgumentException("bias " + bias + " for rows of " + y.cols());
        }
        MemorySegment yd = y.data();
        int n = y.cols();
        for (int t = 0; t < y.rows(); t++) {
            VectorOps.add(yd, (long) t * n, bias.data(), 0, yd, (long) t * n, n);
        }
    }

    @Override
    public void add(Tensor x, Tensor y, Tensor out) {
        open();
        OpChecks.sameShape(x, y, "add");
        OpChecks.sameShape(x, out, "add");
        long n = x.elements();
        for (long i = 0; i < n; i += CHUNK) {
            VectorOps.add(x.data(), i, y.data(), i, out.data(), i, (int) Math.min(CHUNK, n - i));
        }
    }

    @Override
    public void scale(Tensor x, float factor) {
        open();
        OpChecks.f32(x, "x");
        VectorOps.scale(x.data(), x.elements(), factor);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, boolean plusOne, Tensor out) {
        open();
        OpChecks.sameShape(x, out, "rmsNorm");
        OpChecks.f32(weight, "weight");
        long dim = weight.elements();
        if (dim == 0 || dim > Integer.MAX_VALUE || x.elements() % dim != 0) {
            throw new IllegalArgumentException("rmsNorm weight of " + dim + " values for " + x);
        }
        for (long base = 0, n = x.elements(); base < n; base += dim) {
            VectorOps.rmsNorm(x.data(), base, weight.data(), (int) dim, eps, plusOne, out.data());
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        open();
        OpChecks.sameShape(x, out, "layerNorm");
        OpChecks.f32(weight, "weight");
        if (bias != null) {
            OpChecks.f32(bias, "bias");
        }
        int dim = x.cols();
        if (dim == 0 || weight.elements() != dim || (bias != null && bias.elements() != dim)) {
            throw new IllegalArgumentException("layerNorm weight " + weight + " / bias " + bias + " for rows of " + dim);
        }
        for (int t = 0; t < x.rows(); t++) {
            VectorOps.layerNorm(x.data(), (long) t * dim, weight.data(), bias == null ? null : bias.data(), dim, eps,
                    out.data());
        }
    }

    @Override
    public void rope(Tensor x, int heads, int headDim, int[] positions, RopeSpec spec) {
        open();
        OpChecks.rope(x, heads, headDim, positions, spec);
        int rotary = spec.rotaryDim();
        int half = rotary / 2;
        if (cos.length < rotary) {
            cos = new float[rotary];
            sin = new float[rotary];
        }
        float[] inv = spec.inverseFrequencies();
        float scaling = spec.attentionScaling();
        boolean neox = spec.layout() == RopeLayout.NEOX;
        MemorySegment d = x.data();
        for (int t = 0; t < positions.length; t++) {
            float p = positions[t];
            for (int i = 0; i < half; i++) {
                float f = inv[i] * p;
                float c = (float) Math.cos(f) * scaling;
                float s = (float) Math.sin(f) * scaling;
                if (neox) {
                    cos[i] = c;
                    sin[i] = s;
                } else {
                    cos[2 * i] = c;
                    cos[2 * i + 1] = c;
                    sin[2 * i] = -s;
                    sin[2 * i + 1] = s;
                }
            }
            for (int h = 0; h < heads; h++) {
                long base = (long) t * x.cols() + (long) h * headDim;
                if (neox) {
                    VectorOps.ropeNeox(d, base, half, cos, sin);
                } else {
                    VectorOps.ropeInterleaved(d, base, rotary, cos, sin);
                }
            }
        }
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        open();
        OpChecks.sameShape(x, out, "activation");
        VectorOps.activation(code(act), x.data(), null, out.data(), x.elements());
    }

    private static int code(Activation act) {
        return switch (act) {
            case SILU -> VectorOps.SILU;
            case GELU_TANH -> VectorOps.GELU_TANH;
            case GELU_ERF -> VectorOps.GELU_ERF;
        };
    }

    @Override
    public void gatedActivation(Activation act, Tensor gate, Tensor up, Tensor out) {
        open();
        OpChecks.sameShape(gate, up, "gatedActivation");
        OpChecks.sameShape(gate, out, "gatedActivation");
        VectorOps.activation(code(act), gate.data(), up.data(), out.data(), gate.elements());
    }

    @Override
    public void embedding(Tensor table, int[] tokens, float scale, Tensor out) {
        open();
        OpChecks.f32(out, "out");
        if (out.rows() != tokens.length || out.cols() != table.cols()) {
            throw new IllegalArgumentException("embedding of " + tokens.length + " tokens from " + table + " into " + out);
        }
        if (!supports(table.dtype())) {
            throw new IllegalArgumentException("the cpu backend has no kernels for " + table);
        }
        for (int id : tokens) {
            if (id < 0 || id >= table.rows()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + table.rows() + ")");
            }
        }
        GgmlType type = ggml(table.dtype());
        int dim = table.cols();
        grow(dim, 0);
        MemorySegment src = table.data();
        MemorySegment od = out.data();
        for (int t = 0; t < tokens.length; t++) {
            long row = tokens[t] * table.rowBytes();
            long dst = (long) t * dim;
            switch (type) {
                case F32 -> {
                    for (int i = 0; i < dim; i++) {
                        od.setAtIndex(F32, dst + i, src.get(F32_LE, row + 4L * i));
                    }
                }
                case F16 -> {
                    for (int i = 0; i < dim; i++) {
                        od.setAtIndex(F32, dst + i, Float.float16ToFloat(src.get(I16_LE, row + 2L * i)));
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < dim; i++) {
                        od.setAtIndex(F32, dst + i, Float.intBitsToFloat((src.get(I16_LE, row + 2L * i) & 0xFFFF) << 16));
                    }
                }
                default -> {
                    // the reference dequantizer: one small block buffer allocated per call
                    Dequantize.dequantize(type, src.asSlice(row, table.rowBytes()), dim, a, 0);
                    MemorySegment.copy(a, 0, od, F32, dst * 4, dim);
                }
            }
            if (scale != 1f) {
                for (int i = 0; i < dim; i++) {
                    od.setAtIndex(F32, dst + i, od.getAtIndex(F32, dst + i) * scale);
                }
            }
        }
    }

    @Override
    public void softCap(Tensor x, float cap) {
        open();
        OpChecks.f32(x, "x");
        if (!(cap > 0) || Float.isInfinite(cap)) {
            throw new IllegalArgumentException("soft-cap must be positive and finite: " + cap);
        }
        VectorOps.softCap(x.data(), x.elements(), cap);
    }

    @Override
    public int argmax(Tensor x, int row) {
        open();
        OpChecks.argmax(x, row);
        return VectorOps.argmax(x.data(), (long) row * x.cols(), x.cols());
    }

    @Override
    public void storeKv(KvSequence seq, int layer, int firstPosition, Tensor k, Tensor v) {
        open();
        OpChecks.sameShape(k, v, "storeKv");
        KvCacheConfig.LayerSpec ls = layer(seq, layer);
        int hd = ls.headDim();
        if (k.cols() != ls.kvHeads() * hd) {
            throw new IllegalArgumentException("storeKv rows of " + k.cols() + " for a layer of " + ls.kvHeads()
                    + " KV heads of " + hd);
        }
        if (firstPosition < 0 || (long) firstPosition + k.rows() > seq.length()) {
            throw new IllegalArgumentException("positions " + firstPosition + ".." + (firstPosition + k.rows() - 1)
                    + " are not reserved (sequence length " + seq.length() + ")");
        }
        attention.store(seq, layer, firstPosition, k.data(), v.data(), k.rows(), ls.kvHeads(), hd);
    }

    private static KvCacheConfig.LayerSpec layer(KvSequence seq, int layer) {
        KvCacheConfig config = seq.pool().config();
        OpChecks.layer(config, layer);
        return config.layer(layer);
    }

    @Override
    public void attention(Tensor q, KvSequence seq, int layer, int firstPosition, AttentionSpec spec, Tensor out) {
        open();
        OpChecks.sameShape(q, out, "attention");
        int heads = spec.heads();
        int hd = spec.headDim();
        KvCacheConfig.LayerSpec ls = layer(seq, layer);
        if ((long) heads * hd != q.cols() || ls.kvHeads() != spec.kvHeads() || ls.headDim() != hd) {
            throw new IllegalArgumentException("attention of " + q + " (" + heads + " heads of " + hd + ", " + spec.kvHeads()
                    + " KV heads) over a layer of " + ls.kvHeads() + " KV heads of " + ls.headDim());
        }
        int n = q.rows();
        long last = (long) firstPosition + n - 1;
        if (firstPosition < 0 || last >= seq.length()) {
            throw new IllegalArgumentException("queries at " + firstPosition + ".." + last + " beyond the cached "
                    + seq.length() + " tokens");
        }
        if (n == 0) {
            return;
        }
        int lo = PagedAttention.firstVisible(firstPosition, spec.slidingWindow(), spec.chunkSize());
        if (lo < seq.firstLiveToken(layer)) {
            throw new IllegalArgumentException("a query at " + firstPosition + " reads keys from position " + lo
                    + ", but layer " + layer + " released every key before " + seq.firstLiveToken(layer)
                    + " (the spec's window is wider than the layer's)");
        }
        attention.attention(q.data(), n, seq, layer, firstPosition, spec, out.data());
    }

    private void grow(int na, int nb) {
        if (a.length < na) {
            a = new float[na];
        }
        if (b.length < nb) {
            b = new float[nb];
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
        ops.close();
        for (KvBlockPool p : pools) {
            p.close();
        }
        pools.clear();
        arena.close();
    }
}
