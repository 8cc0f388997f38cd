package dev.isthmus.kernels.gpu;

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
import dev.isthmus.memory.kv.KvStorage;
import dev.isthmus.nativebindings.cuda.CudaRuntime;
import dev.isthmus.nativebindings.cuda.IsthmusCuda;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The CUDA {@link Backend}: our hand-written kernels ({@code libisthmus_cuda.so}, bound by
 * {@link IsthmusCuda}) on one device and one stream.
 *
 * <h2>Memory</h2>
 * Weights are uploaded once by {@link #weight} (through two pinned staging buffers and
 * asynchronous copies) and stay in their GGUF block format; activations come from {@link #allocate};
 * the KV pool from {@link #newKvPool} is device memory too (a {@link KvBlockPool} over
 * {@link KvStorage} that refuses every host-side access). A tensor of this backend holds a device
 * address wrapped as a segment of the tensor's size, never dereferenced on the host. Every op checks
 * that its tensors are device memory this backend allocated (a host tensor is an
 * {@link IllegalArgumentException}, never a kernel fault). {@link #close()} frees everything.
 *
 * <h2>Ordering</h2>
 * Everything runs in order on the backend's one stream, and nothing inside a decode step waits for the
 * device except {@link #read} and {@link #argmax}, which must return host values. The small per-op
 * uploads (positions, token ids, block tables) and small {@link #write}s go through a {@link StagingRing}
 * (pinned host memory, {@code cudaMemcpyAsync}, an event per ring segment so pinned bytes are never
 * reused before their copy has run); an upload equal to the previous one of its kind (the positions
 * every layer's RoPE gets, the block table that {@code storeKv} and {@code attention} of a layer share)
 * is not repeated. Per-model constants (RoPE inverse frequencies, attention sinks) are uploaded once
 * per array and re-uploaded only if the array's contents change. Large writes and every read use a
 * pinned buffer and synchronise the stream.
 *
 * <h2>Errors</h2>
 * Shapes and types are checked in Java before any launch ({@link IllegalArgumentException} naming the
 * mismatch); a CUDA error becomes a {@link dev.isthmus.nativebindings.cuda.CudaException} naming the
 * call (a kernel's own fault surfaces at the next synchronising call).
 *
 * <p>Not thread-safe: one op at a time (see {@link Backend}). Uses device 0 (the current device of
 * the calling threads); multi-GPU comes later.
 */
public final class CudaBackend implements Backend {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
    /** Weight types the kernels read. */
    static final Set<DType> SUPPORTED = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0,
            DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.MXFP4);
    /** The attention kernel's limit (128 threads × 4 dimensions each). */
    static final int MAX_HEAD_DIM = 512;
    private static final long STAGING_BYTES = 16L << 20;
    /** Bytes of the ring for small uploads (grows when one upload needs more). */
    static final long RING_BYTES = 1L << 20;
    /** Constant arrays cached on the device before the cache is emptied (a guard against unbounded growth). */
    private static final int MAX_CONSTANTS = 1024;

    private final MemorySegment stream;
    private final DeviceMemory owned = new DeviceMemory();
    private final List<KvBlockPool> pools = new ArrayList<>();
    private MemorySegment io = MemorySegment.NULL;      // pinned host buffer for reads and large writes (grown)
    private StagingRing ring;
    private final IntUpload positionsUpload = new IntUpload();
    private final IntUpload tokensUpload = new IntUpload();
    private final IntUpload tableUpload = new IntUpload();
    private final IdentityHashMap<float[], DeviceConstant> constants = new IdentityHashMap<>();
    private final MemorySegment argmaxResult;
    /** Per-split partial results of one-query attention (128 heads × 16 splits × (512 + 2) floats). */
    private final MemorySegment attentionScratch;
    private final MemorySegment[] staging = new MemorySegment[2];
    private final MemorySegment[] stagingDone = new MemorySegment[2];
    private final boolean[] stagingBusy = new boolean[2];
    private int[] table = new int[64];
    /** Decode steps recorded as CUDA graphs (system property {@code isthmus.cuda.graphs=false} turns them off). */
    private final DecodeGraphs graphs;
    // the block table staged in the current step, reused by the layer's attention after its storeKv
    private KvSequence stepTableSeq;
    private int stepTableLayer = -1;
    private int stepTableCount;
    private MemorySegment stepTable;
    private volatile boolean closed;

    /**
     * Opens the backend on device 0: a stream and small scratch buffers.
     *
     * @throws dev.isthmus.nativebindings.cuda.CudaException naming the call when CUDA fails
     * @throws IllegalStateException when the CUDA runtime or the kernel library is unavailable
     */
    public CudaBackend() {
        IsthmusCuda.class.getName(); // fail fast below if the kernels are missing
        CudaRuntime.cudaSetDevice(0);
        this.stream = CudaRuntime.cudaStreamCreate();
        this.graphs = new DecodeGraphs(stream, !"false".equalsIgnoreCase(System.getProperty("isthmus.cuda.graphs")));
        try {
            this.argmaxResult = CudaRuntime.cudaMalloc(4);
            this.attentionScratch = deviceAlloc(4L * 128 * 16 * (MAX_HEAD_DIM + 2));
            ensureIo(1 << 16);
            this.ring = new StagingRing(stream, RING_BYTES);
            IsthmusCuda.fillZero(stream, argmaxResult, 4); // loads the kernel library now: a missing one fails here
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public boolean supports(DType type) {
        return SUPPORTED.contains(type);
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("the cuda backend is closed");
        }
    }

    // ---------------------------------------------------------------- memory

    /**
     * Device memory of {@code bytes} (at least 4), recorded as this backend's, as a sized segment. The
     * allocation is rounded up to 16 bytes, so the kernels' aligned 4- and 16-byte loads that cover the
     * last bytes of a weight never leave it.
     */
    private MemorySegment deviceAlloc(long bytes) {
        long n = Math.max(4, bytes);
        MemorySegment p = CudaRuntime.cudaMalloc((n + 15) & ~15L);
        owned.add(p.address(), n);
        return MemorySegment.ofAddress(p.address()).reinterpret(n);
    }

    private void deviceFree(MemorySegment p) {
        if (owned.remove(p.address())) {
            CudaRuntime.cudaFree(p);
        }
    }

    @Override
    public Tensor weight(DType type, int rows, int cols, MemorySegment hostBytes) {
        open();
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(hostBytes, "hostBytes");
        if (!supports(type)) {
            throw new UnsupportedOperationException("the cuda backend has no kernels for " + type);
        }
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + "x" + cols);
        }
        long bytes = type.rowBytes(cols) * rows;
        if (hostBytes.byteSize() < bytes) {
            throw new IllegalArgumentException(type + " weight " + rows + "x" + cols + " needs " + bytes
                    + " bytes, the host segment holds " + hostBytes.byteSize());
        }
        MemorySegment dev = deviceAlloc(bytes);
        try {
            upload(hostBytes, dev, bytes);
        } catch (RuntimeException | Error e) {
            deviceFree(dev);
            throw e;
        }
        return new Tensor(type, rows, cols, dev);
    }

    /** Host bytes to device memory through the two pinned staging buffers, overlapping the copies. */
    private void upload(MemorySegment src, MemorySegment dst, long bytes) {
        if (bytes == 0) {
            return;
        }
        if (staging[0] == null) {
            for (int i = 0; i < 2; i++) {
                staging[i] = CudaRuntime.cudaMallocHost(STAGING_BYTES);
                stagingDone[i] = CudaRuntime.cudaEventCreate();
            }
        }
        int k = 0;
        for (long off = 0; off < bytes; off += STAGING_BYTES, k ^= 1) {
            long len = Math.min(STAGING_BYTES, bytes - off);
            if (stagingBusy[k]) {
                CudaRuntime.cudaEventSynchronize(stagingDone[k]);
            }
            MemorySegment.copy(src, off, staging[k], 0, len);
            CudaRuntime.cudaMemcpyAsync(MemorySegment.ofAddress(dst.address() + off), staging[k], len,
                    CudaRuntime.cudaMemcpyHostToDevice, stream);
            CudaRuntime.cudaEventRecord(stagingDone[k], stream);
            stagingBusy[k] = true;
        }
        CudaRuntime.cudaStreamSynchronize(stream);
        stagingBusy[0] = stagingBusy[1] = false;
    }

    @Override
    public Tensor allocate(int rows, int cols) {
        open();
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + "x" + cols);
        }
        long bytes = 4L * rows * cols;
        MemorySegment dev = deviceAlloc(bytes);
        IsthmusCuda.fillZero(stream, dev, Math.max(4, bytes));
        return new Tensor(DType.F32, rows, cols, dev);
    }

    @Override
    public void write(float[] src, int srcOffset, Tensor dst) {
        open();
        OpChecks.f32(dst, "dst");
        dev(dst, "dst");
        int n = (int) dst.elements();
        Objects.checkFromIndexSize(srcOffset, n, src.length);
        if (n == 0) {
            return;
        }
        long bytes = 4L * n;
        if (graphs.active()) {
            // staged in the step's parameter block; the recorded graph copies it on the device
            MemorySegment staged = graphs.floats(src, srcOffset, n);
            if (!graphs.skip(fp(15, dst.data().address(), staged.address(), n, 0))) {
                CudaRuntime.cudaMemcpyAsync(dst.data().address(), staged.address(), bytes,
                        CudaRuntime.cudaMemcpyDeviceToDevice, stream);
            }
            return;
        }
        if (bytes <= ring.capacity() / 4) {
            long off = ring.reserve(bytes);
            MemorySegment.copy(src, srcOffset, ring.host(), F32, off, n);
            ring.copy(off, bytes, dst.data());
            return;
        }
        ensureIo(bytes);
        MemorySegment.copy(src, srcOffset, io, F32, 0, n);
        CudaRuntime.cudaMemcpyAsync(dst.data().address(), io.address(), bytes, CudaRuntime.cudaMemcpyHostToDevice, stream);
        CudaRuntime.cudaStreamSynchronize(stream);   // io is reused by the next call
    }

    @Override
    public void read(Tensor src, float[] dst, int dstOffset) {
        open();
        OpChecks.f32(src, "src");
        dev(src, "src");
        int n = (int) src.elements();
        Objects.checkFromIndexSize(dstOffset, n, dst.length);
        if (n == 0) {
            return;
        }
        if (graphs.active()) {
            // the step's end: the copy to pinned memory is the graph's last node
            boolean replay = graphs.skip(fp(16, src.data().address(), n, 0, 0));
            MemorySegment result = graphs.result(4L * n);
            if (!replay) {
                CudaRuntime.cudaMemcpyAsync(result.address(), src.data().address(), 4L * n,
                        CudaRuntime.cudaMemcpyDeviceToHost, stream);
            }
            MemorySegment.copy(graphs.finish(), F32, 0, dst, dstOffset, n);
            return;
        }
        ensureIo(4L * n);
        CudaRuntime.cudaMemcpyAsync(io.address(), src.data().address(), 4L * n, CudaRuntime.cudaMemcpyDeviceToHost, stream);
        CudaRuntime.cudaStreamSynchronize(stream);
        MemorySegment.copy(io, F32, 0, dst, dstOffset, n);
    }

    @Override
    public KvBlockPool newKvPool(KvCacheConfig config) {
        open();
        long bytes = config.poolBytes();
        MemorySegment dev = deviceAlloc(bytes);
        KvBlockPool pool;
        try {
            IsthmusCuda.fillZero(stream, dev, bytes);
            CudaRuntime.cudaStreamSynchronize(stream);
            pool = new KvBlockPool(config, new DeviceKvStorage(dev));
        } catch (RuntimeException | Error e) {
            deviceFree(dev);
            throw e;
        }
        pools.add(pool);
        return pool;
    }

    /** A KV pool's device memory: copies are device-to-device, freeing returns it to CUDA. */
    private final class DeviceKvStorage implements KvStorage {
        private final MemorySegment memory;

        DeviceKvStorage(MemorySegment memory) {
            this.memory = memory;
        }

        @Override
        public MemorySegment segment() {
            return memory;
        }

        @Override
        public boolean hostAccessible() {
            return false;
        }

        @Override
        public void copy(long from, long to, long bytes) {
            if (graphs.active()) {
                throw new IllegalStateException("KV block copies are not allowed inside a decode step");
            }
            if (from < 0 || to < 0 || bytes < 0 || from + bytes > memory.byteSize() || to + bytes > memory.byteSize()) {
                throw new IndexOutOfBoundsException("KV block copy " + from + " -> " + to + " of " + bytes
                        + " bytes outside the pool's " + memory.byteSize());
            }
            CudaRuntime.cudaMemcpyAsync(memory.address() + to, memory.address() + from, bytes,
                    CudaRuntime.cudaMemcpyDeviceToDevice, stream);
        }

        @Override
        public void free() {
            if (!closed) {
                CudaRuntime.cudaStreamSynchronize(stream);
            }
            deviceFree(memory);
        }
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
        if (!supports(w.dtype())) {
            throw new UnsupportedOperationException("the cuda backend has no kernels for " + w.dtype());
        }
        dev(x, "x");
        dev(w, "w");
        dev(y, "y");
        if (overlap(x, y) || overlap(w, y)) {
            throw new IllegalArgumentException("matmul: y must not overlap x or w");
        }
        if (x.rows() == 0 || w.rows() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(1, w.data().address(), x.data().address(), y.data().address(),
                x.rows()))) {
            return;
        }
        if (w.cols() == 0) {
            IsthmusCuda.fillZero(stream, y.data(), y.byteSize());
            return;
        }
        IsthmusCuda.matmul(stream, w.dtype().ggmlId(), w.data(), w.rows(), w.cols(), x.data(), y.data(), x.rows());
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        open();
        OpChecks.f32(y, "y");
        OpChecks.f32(bias, "bias");
        if (bias.elements() != y.cols()) {
            throw new IllegalArgumentException("bias " + bias + " for rows of " + y.cols());
        }
        dev(y, "y");
        dev(bias, "bias");
        if (y.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(2, y.data().address(), bias.data().address(), y.rows(), y.cols()))) {
            return;
        }
        IsthmusCuda.addBias(stream, y.data(), bias.data(), y.rows(), y.cols());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        open();
        OpChecks.sameShape(a, b, "add");
        OpChecks.sameShape(a, out, "add");
        dev(a, "a");
        dev(b, "b");
        dev(out, "out");
        if (a.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(3, a.data().address(), b.data().address(), out.data().address(),
                a.elements()))) {
            return;
        }
        IsthmusCuda.add(stream, a.data(), b.data(), out.data(), a.elements());
    }

    @Override
    public void scale(Tensor x, float factor) {
        open();
        OpChecks.f32(x, "x");
        dev(x, "x");
        if (x.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(4, x.data().address(), Float.floatToRawIntBits(factor), x.elements(), 0))) {
            return;
        }
        IsthmusCuda.scale(stream, x.data(), factor, x.elements());
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
        dev(x, "x");
        dev(weight, "weight");
        dev(out, "out");
        if (x.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(5, x.data().address(), weight.data().address(), out.data().address(),
                x.elements() * 4 + (plusOne ? 1 : 0) + ((long) Float.floatToRawIntBits(eps) << 32)))) {
            return;
        }
        IsthmusCuda.rmsNorm(stream, x.data(), weight.data(), out.data(), x.elements() / dim, (int) dim, eps, plusOne);
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        open();
        OpChecks.sameShape(x, out, "layerNorm");
        OpChecks.f32(weight, "weight");
        int dim = x.cols();
        if (weight.elements() != dim || (bias != null && bias.elements() != dim)) {
            throw new IllegalArgumentException("layerNorm weight " + weight + " / bias " + bias + " for rows of " + dim);
        }
        dev(x, "x");
        dev(weight, "weight");
        dev(out, "out");
        if (bias != null) {
            OpChecks.f32(bias, "bias");
            dev(bias, "bias");
        }
        if (x.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(6, x.data().address(), weight.data().address(), out.data().address(),
                x.elements() + (bias == null ? 0 : bias.data().address() * 31)))) {
            return;
        }
        IsthmusCuda.layerNorm(stream, x.data(), weight.data(), bias == null ? MemorySegment.NULL : bias.data(),
                out.data(), x.rows(), dim, eps);
    }

    @Override
    public void rope(Tensor x, int heads, int headDim, int[] positions, RopeSpec spec) {
        open();
        OpChecks.rope(x, heads, headDim, positions, spec);
        dev(x, "x");
        if (x.rows() == 0) {
            return;
        }
        MemorySegment pos = graphs.active() ? graphs.ints(positions, positions.length, positions.length)
                : uploadInts(positions, positions.length, positionsUpload);
        MemorySegment inv = constant(spec.inverseFrequencies());
        if (graphs.active() && graphs.skip(fp(7, x.data().address(), inv.address(),
                ((long) heads << 40) ^ ((long) headDim << 20) ^ ((long) spec.rotaryDim() << 1) ^ spec.layout().ordinal(),
                ((long) Float.floatToRawIntBits(spec.attentionScaling()) << 32) ^ x.rows()))) {
            return;
        }
        IsthmusCuda.rope(stream, x.data(), x.rows(), heads, headDim, pos, inv, spec.attentionScaling(), spec.rotaryDim(),
                spec.layout() == RopeLayout.NEOX);
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        open();
        OpChecks.sameShape(x, out, "activation");
        dev(x, "x");
        dev(out, "out");
        if (x.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(8, x.data().address(), out.data().address(), act.ordinal(), x.elements()))) {
            return;
        }
        IsthmusCuda.activation(stream, act.ordinal(), x.data(), out.data(), x.elements());
    }

    @Override
    public void gatedActivation(Activation act, Tensor gate, Tensor up, Tensor out) {
        open();
        OpChecks.sameShape(gate, up, "gatedActivation");
        OpChecks.sameShape(gate, out, "gatedActivation");
        dev(gate, "gate");
        dev(up, "up");
        dev(out, "out");
        if (gate.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(9, gate.data().address(), up.data().address(), out.data().address(),
                gate.elements() * 8 + act.ordinal()))) {
            return;
        }
        IsthmusCuda.gatedActivation(stream, act.ordinal(), gate.data(), up.data(), out.data(), gate.elements());
    }

    @Override
    public void embedding(Tensor table, int[] tokens, float scale, Tensor out) {
        open();
        OpChecks.f32(out, "out");
        if (out.rows() != tokens.length || out.cols() != table.cols()) {
            throw new IllegalArgumentException("embedding of " + tokens.length + " tokens from " + table + " into " + out);
        }
        if (!supports(table.dtype())) {
            throw new UnsupportedOperationException("the cuda backend has no kernels for " + table.dtype());
        }
        for (int id : tokens) {
            if (id < 0 || id >= table.rows()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + table.rows() + ")");
            }
        }
        dev(table, "table");
        dev(out, "out");
        if (tokens.length == 0 || table.cols() == 0) {
            return;
        }
        MemorySegment ids = graphs.active() ? graphs.ints(tokens, tokens.length, tokens.length)
                : uploadInts(tokens, tokens.length, tokensUpload);
        if (graphs.active() && graphs.skip(fp(10, table.data().address(), out.data().address(),
                Float.floatToRawIntBits(scale), tokens.length))) {
            return;
        }
        IsthmusCuda.embedding(stream, table.dtype().ggmlId(), table.data(), table.cols(), ids, tokens.length, scale, out.data());
    }

    @Override
    public void softCap(Tensor x, float cap) {
        open();
        OpChecks.f32(x, "x");
        if (!(cap > 0)) {
            throw new IllegalArgumentException("soft-cap must be positive: " + cap);
        }
        dev(x, "x");
        if (x.elements() == 0) {
            return;
        }
        if (graphs.active() && graphs.skip(fp(11, x.data().address(), Float.floatToRawIntBits(cap), x.elements(), 0))) {
            return;
        }
        IsthmusCuda.softCap(stream, x.data(), cap, x.elements());
    }

    @Override
    public int argmax(Tensor x, int row) {
        open();
        OpChecks.argmax(x, row);
        dev(x, "x");
        MemorySegment rowData = row == 0 ? x.data() : x.data().asSlice(row * x.rowBytes(), x.rowBytes());
        if (graphs.active()) {
            // the step's end: the argmax and its copy to pinned memory are the graph's last nodes
            boolean replay = graphs.skip(fp(12, rowData.address(), x.cols(), 0, 0));
            MemorySegment result = graphs.result(4);
            if (!replay) {
                IsthmusCuda.argmax(stream, rowData, x.cols(), argmaxResult);
                CudaRuntime.cudaMemcpyAsync(result.address(), argmaxResult.address(), 4,
                        CudaRuntime.cudaMemcpyDeviceToHost, stream);
            }
            return graphs.finish().get(I32, 0);
        }
        IsthmusCuda.argmax(stream, rowData, x.cols(), argmaxResult);
        CudaRuntime.cudaMemcpyAsync(io.address(), argmaxResult.address(), 4, CudaRuntime.cudaMemcpyDeviceToHost, stream);
        CudaRuntime.cudaStreamSynchronize(stream);
        return io.get(I32, 0);
    }

    private static void checkLayer(KvBlockPool pool, int layer) {
        OpChecks.layer(pool.config(), layer);
    }

    @Override
    public void storeKv(KvSequence seq, int layer, int firstPosition, Tensor k, Tensor v) {
        open();
        OpChecks.sameShape(k, v, "storeKv");
        KvBlockPool pool = ownPool(seq);
        checkLayer(pool, layer);
        KvCacheConfig.LayerSpec ls = pool.config().layer(layer);
        int hd = ls.headDim();
        if (k.cols() != ls.kvHeads() * hd) {
            throw new IllegalArgumentException("storeKv rows of " + k.cols() + " for a layer of " + ls.kvHeads()
                    + " KV heads of " + hd);
        }
        int n = k.rows();
        if (firstPosition < 0 || (long) firstPosition + n > seq.length()) {
            throw new IllegalArgumentException("positions " + firstPosition + ".." + (firstPosition + n - 1)
                    + " are not reserved (sequence length " + seq.length() + ")");
        }
        dev(k, "k");
        dev(v, "v");
        if (n == 0) {
            return;
        }
        for (int t = firstPosition; t < firstPosition + n; t++) {
            seq.requireWritable(layer, t);
        }
        if (graphs.active() && n == 1) {
            MemorySegment blocks = stepTable(seq, layer, firstPosition);
            MemorySegment dyn = graphs.pair(firstPosition, 0);
            if (graphs.skip(fp(13, pool.deviceSegment().address(), k.data().address() ^ (v.data().address() << 1),
                    ((long) layer << 32) ^ pool.config().type().ordinal(), blocks.address()))) {
                return;
            }
            IsthmusCuda.storeKvDyn(stream, pool.config().type().ordinal(), pool.deviceSegment(), k.data(), v.data(),
                    ls.kvHeads(), hd, dyn, blocks, pool.tokensPerBlock(), pool.blockBytes(), pool.rowBytes(layer));
            return;
        }
        if (graphs.active()) {
            throw new dev.isthmus.memory.backend.StepMismatchException("a decode step stores one token, not " + n);
        }
        MemorySegment blocks = uploadTable(seq, layer, firstPosition + n - 1);
        IsthmusCuda.storeKv(stream, pool.config().type().ordinal(), pool.deviceSegment(), k.data(), v.data(), n,
                ls.kvHeads(), hd, firstPosition, blocks, pool.tokensPerBlock(), pool.blockBytes(), pool.rowBytes(layer));
    }

    @Override
    public void attention(Tensor q, KvSequence seq, int layer, int firstPosition, AttentionSpec spec, Tensor out) {
        open();
        OpChecks.sameShape(q, out, "attention");
        KvBlockPool pool = ownPool(seq);
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int hd = spec.headDim();
        checkLayer(pool, layer);
        KvCacheConfig.LayerSpec ls = pool.config().layer(layer);
        if ((long) heads * hd != q.cols() || ls.kvHeads() != kvHeads || ls.headDim() != hd) {
            throw new IllegalArgumentException("attention of " + q + " (" + heads + " heads of " + hd + ") over a layer of "
                    + ls.kvHeads() + " KV heads of " + ls.headDim());
        }
        if (hd > MAX_HEAD_DIM || heads > 65535) {
            throw new IllegalArgumentException("attention with " + heads + " heads of " + hd
                    + ": the cuda kernel takes head dims up to " + MAX_HEAD_DIM + " and up to 65535 heads");
        }
        int n = q.rows();
        int last = firstPosition + n - 1;
        if (firstPosition < 0 || last >= seq.length()) {
            throw new IllegalArgumentException("queries at " + firstPosition + ".." + last + " beyond the cached "
                    + seq.length() + " tokens");
        }
        int live = seq.firstLiveToken(layer);
        // the oldest key the first query sees under the spec's masks (as the CPU backend)
        int lo = 0;
        if (spec.slidingWindow() > 0) {
            lo = Math.max(lo, firstPosition - spec.slidingWindow() + 1);
        }
        if (spec.chunkSize() > 0) {
            lo = Math.max(lo, firstPosition / spec.chunkSize() * spec.chunkSize());
        }
        if (n > 0 && lo < live) {
            throw new IllegalArgumentException("the query at " + firstPosition + " reads keys from position " + lo
                    + ", but layer " + layer + " released every key before " + live
                    + " (the spec's window is wider than the layer's)");
        }
        dev(q, "q");
        dev(out, "out");
        if (n == 0) {
            return;
        }
        if (graphs.active() && n == 1) {
            MemorySegment blocks = stepTable(seq, layer, last);
            MemorySegment dyn = graphs.pair(firstPosition, live);
            MemorySegment sinks = spec.sinks() == null ? MemorySegment.NULL : constant(spec.sinks());
            if (graphs.skip(fp(14, q.data().address() ^ (out.data().address() << 1), blocks.address() ^ sinks.address(),
                    ((long) layer << 32) ^ ((long) heads << 16) ^ kvHeads ^ ((long) hd << 48),
                    ((long) Float.floatToRawIntBits(spec.scale()) << 32) ^ Float.floatToRawIntBits(spec.softCap())
                            ^ ((long) spec.slidingWindow() << 8) ^ spec.chunkSize()))) {
                return;
            }
            IsthmusCuda.attentionDyn(stream, q.data(), out.data(), heads, kvHeads, hd, spec.scale(), spec.slidingWindow(),
                    spec.chunkSize(), spec.softCap(), sinks, dyn, pool.deviceSegment(), pool.config().type().ordinal(),
                    blocks, pool.tokensPerBlock(), pool.blockBytes(), pool.rowBytes(layer), attentionScratch);
            return;
        }
        if (graphs.active()) {
            throw new dev.isthmus.memory.backend.StepMismatchException("a decode step attends one query, not " + n);
        }
        MemorySegment blocks = uploadTable(seq, layer, last);
        MemorySegment sinks = spec.sinks() == null ? MemorySegment.NULL : constant(spec.sinks());
        IsthmusCuda.attention(stream, q.data(), out.data(), n, heads, kvHeads, hd, spec.scale(), spec.slidingWindow(),
                spec.chunkSize(), spec.softCap(), sinks, firstPosition, live, pool.deviceSegment(),
                pool.config().type().ordinal(), blocks, pool.tokensPerBlock(), pool.blockBytes(), pool.rowBytes(layer),
                n == 1 ? attentionScratch : MemorySegment.NULL);
    }

    // ---------------------------------------------------------------- helpers

    private KvBlockPool ownPool(KvSequence seq) {
        KvBlockPool pool = seq.pool();
        for (int i = 0; i < pools.size(); i++) {
            if (pools.get(i) == pool) {
                if (!pool.isOpen()) {
                    throw new IllegalStateException("the KV pool is closed");
                }
                return pool;
            }
        }
        throw new IllegalArgumentException("the sequence's KV pool is not one of this cuda backend's (use newKvPool)");
    }

    /**
     * Inside a recorded step: the layer's block table for logical blocks 0 .. lastToken/T in the step's
     * parameter block, padded with zeros to the recorded room (so every step of the recording has the
     * same parameter layout); the layer's attention reuses its storeKv's table.
     */
    private MemorySegment stepTable(KvSequence seq, int layer, int lastToken) {
        int count = lastToken / seq.pool().tokensPerBlock() + 1;
        if (stepTable != null && stepTableSeq == seq && stepTableLayer == layer && stepTableCount == count) {
            MemorySegment t = stepTable;
            stepTable = null;     // one reuse: the next layer uploads its own
            return t;
        }
        int room = graphs.tableRoom(count);
        if (table.length < count) {
            table = new int[Math.max(count, table.length * 2)];
        }
        for (int b = 0; b < count; b++) {
            table[b] = seq.block(layer, b);
        }
        stepTable = graphs.ints(table, count, room);
        stepTableSeq = seq;
        stepTableLayer = layer;
        stepTableCount = count;
        return stepTable;
    }

    private static long fp(int op, long a, long b, long c, long d) {
        long h = 0x9E3779B97F4A7C15L * (op + 1);
        h = (h ^ a) * 0xBF58476D1CE4E5B9L;
        h = (h ^ b) * 0x94D049BB133111EBL;
        h = (h ^ c) * 0xBF58476D1CE4E5B9L;
        h = (h ^ d) * 0x94D049BB133111EBL;
        return h ^ (h >>> 31);
    }

    @Override
    public void beginStep(Object key) {
        open();
        stepTable = null;
        stepTableSeq = null;
        graphs.begin(key);
    }

    @Override
    public void abortStep() {
        stepTable = null;
        stepTableSeq = null;
        graphs.abort();
    }

    /** Decode steps captured as CUDA graphs so far (see {@link #beginStep}). */
    public long graphCaptures() {
        return graphs.captures();
    }

    /** Decode steps replayed from a captured graph so far. */
    public long graphReplays() {
        return graphs.replays();
    }

    /** The layer's block table for logical blocks 0 .. lastToken/T, staged (or the same upload as last time). */
    private MemorySegment uploadTable(KvSequence seq, int layer, int lastToken) {
        int count = lastToken / seq.pool().tokensPerBlock() + 1;
        if (table.length < count) {
            table = new int[Math.max(count, table.length * 2)];
        }
        for (int b = 0; b < count; b++) {
            table[b] = seq.block(layer, b);
        }
        return uploadInts(table, count, tableUpload);
    }

    /** The last upload of one kind: a copy of its values and where it lies in the ring. */
    private static final class IntUpload {
        int[] values = new int[64];
        int count = -1;
        long offset;
        long stamp;
        int generation;
    }

    /**
     * {@code values[0..count)} as a device array: the previous upload of this kind when it held the same
     * values and the ring has not come round to it since, else a new upload through the ring (no
     * synchronisation).
     */
    private MemorySegment uploadInts(int[] values, int count, IntUpload last) {
        long bytes = 4L * Math.max(1, count);
        if (last.count == count && last.generation == ring.generation()
                && ring.staged() - last.stamp <= ring.capacity() / 2
                && Arrays.equals(values, 0, count, last.values, 0, count)) {
            return ring.device(last.offset);
        }
        long off = ring.reserve(bytes);
        MemorySegment.copy(values, 0, ring.host(), I32, off, count);
        ring.copy(off, bytes, null);
        if (bytes <= ring.capacity() / 4) {
            // data staged at off stays intact until about capacity - bytes more have been staged
            if (last.values.length < count) {
                last.values = new int[Math.max(count, 2 * last.values.length)];
            }
            System.arraycopy(values, 0, last.values, 0, count);
            last.count = count;
            last.offset = off;
            last.stamp = ring.staged();
            last.generation = ring.generation();
        } else {
            last.count = -1;
        }
        return ring.device(off);
    }

    /** A per-model constant array on the device and the values it was uploaded with. */
    private record DeviceConstant(float[] values, MemorySegment device) {}

    /**
     * {@code values} on the device, uploaded once per array (keyed by identity: RoPE and attention specs
     * are built once per model) and uploaded again, to the same device memory, if its contents changed.
     */
    private MemorySegment constant(float[] values) {
        DeviceConstant c = constants.get(values);
        if (c != null && Arrays.equals(c.values, values)) {
            return c.device;
        }
        if (graphs.active()) {
            return graphs.floats(values, 0, values.length);   // a copy through the ring would be recorded
        }
        long bytes = 4L * Math.max(1, values.length);
        if (c == null) {
            if (constants.size() >= MAX_CONSTANTS) {
                freeConstants();
            }
            MemorySegment d = CudaRuntime.cudaMalloc(bytes);
            c = new DeviceConstant(values.clone(), MemorySegment.ofAddress(d.address()).reinterpret(bytes));
            constants.put(values, c);
        } else {
            System.arraycopy(values, 0, c.values, 0, values.length);
        }
        if (values.length > 0) {
            long off = ring.reserve(bytes);
            MemorySegment.copy(values, 0, ring.host(), F32, off, values.length);
            ring.copy(off, 4L * values.length, c.device);
        }
        return c.device;
    }

    /** Frees every cached constant (after the stream has drained: kernels may still read them). */
    private void freeConstants() {
        CudaRuntime.cudaStreamSynchronize(stream);
        for (DeviceConstant c : constants.values()) {
            CudaRuntime.cudaFree(c.device);
        }
        constants.clear();
    }

    /** Device constants cached now (for tests). */
    int cachedConstants() {
        return constants.size();
    }

    /** The staging ring (for tests). */
    StagingRing ring() {
        return ring;
    }

    private void ensureIo(long bytes) {
        if (io.byteSize() < bytes) {
            long size = Math.max(bytes, 2 * io.byteSize());
            if (io.byteSize() > 0) {
                CudaRuntime.cudaStreamSynchronize(stream);
                CudaRuntime.cudaFreeHost(io);
                io = MemorySegment.NULL;
            }
            io = CudaRuntime.cudaMallocHost(size);
        }
    }

    /** Throws unless {@code t}'s memory lies inside one device allocation of this backend. */
    private void dev(Tensor t, String name) {
        MemorySegment d = t.data();
        if (!owned.contains(d.address(), t.byteSize())) {
            throw new IllegalArgumentException(name + " " + t + " is not device memory of this cuda backend"
                    + " (a host tensor, another backend's, or freed)");
        }
    }

    private static boolean overlap(Tensor a, Tensor b) {
        long a0 = a.data().address();
        long b0 = b.data().address();
        return a0 < b0 + b.byteSize() && b0 < a0 + a.byteSize() && a.byteSize() > 0 && b.byteSize() > 0;
    }

    /**
     * A device-to-device copy of up to 1 GiB (a quarter of the free memory at most), timed over 10
     * copies after one warm-up: bytes read plus bytes written per second.
     */
    @Override
    public double measureMemoryBandwidth() {
        open();
        CudaRuntime.cudaStreamSynchronize(stream);
        long bytes = Math.min(1L << 30, CudaRuntime.cudaMemGetInfo()[0] / 4) & ~0xFFFL;
        if (bytes < (1 << 20)) {
            return 0;
        }
        MemorySegment a = deviceAlloc(bytes);
        try {
            MemorySegment b = deviceAlloc(bytes);
            try {
                CudaRuntime.cudaMemcpy(b, a, bytes, CudaRuntime.cudaMemcpyDeviceToDevice);
                CudaRuntime.cudaStreamSynchronize(stream);
                int copies = 10;
                long t0 = System.nanoTime();
                for (int i = 0; i < copies; i++) {
                    CudaRuntime.cudaMemcpy(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a, bytes,
                            CudaRuntime.cudaMemcpyDeviceToDevice);
                }
                CudaRuntime.cudaDeviceSynchronize();
                double seconds = (System.nanoTime() - t0) / 1e9;
                return 2.0 * bytes * copies / seconds;
            } finally {
                deviceFree(b);
            }
        } finally {
            deviceFree(a);
        }
    }

    /** Device allocations this backend holds now (weights, activations, KV pools), for tests and logs. */
    public int liveAllocations() {
        return owned.size();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        if (graphs != null && graphs.active()) {
            try {
                graphs.abort();   // ends a capture: the stream cannot synchronise while it records
            } catch (RuntimeException e) {
                first = e;
            }
        }
        if (stream != null) {
            try {
                CudaRuntime.cudaStreamSynchronize(stream);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (graphs != null) {
            try {
                graphs.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        for (KvBlockPool pool : pools) {
            try {
                pool.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        pools.clear();
        for (long address : owned.startsCopy()) {
            try {
                deviceFree(MemorySegment.ofAddress(address));
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        List<Runnable> frees = new ArrayList<>();
        for (DeviceConstant c : constants.values()) {
            frees.add(() -> CudaRuntime.cudaFree(c.device));
        }
        constants.clear();
        if (ring != null) {
            StagingRing r = ring;
            frees.add(r::close);
        }
        if (io.byteSize() > 0) {
            MemorySegment p = io;
            frees.add(() -> CudaRuntime.cudaFreeHost(p));
        }
        if (argmaxResult != null) {
            frees.add(() -> CudaRuntime.cudaFree(argmaxResult));
        }
        for (int i = 0; i < 2; i++) {
            MemorySegment s = staging[i];
            MemorySegment e = stagingDone[i];
            if (s != null) {
                frees.add(() -> CudaRuntime.cudaFreeHost(s));
            }
            if (e != null) {
                frees.add(() -> CudaRuntime.cudaEventDestroy(e));
            }
        }
        if (stream != null) {
            frees.add(() -> CudaRuntime.cudaStreamDestroy(stream));
        }
        for (Runnable r : frees) {
            try {
                r.run();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        io = MemorySegment.NULL;
        if (first != null) {
            throw first;
        }
    }
}
