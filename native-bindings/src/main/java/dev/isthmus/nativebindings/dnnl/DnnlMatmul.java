package dev.isthmus.nativebindings.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A ready-to-run oneDNN matmul {@code dst[M×N] = src[M×K] · weights[K×N]} with f32 activations and
 * f32, f16 or bf16 weights, executed directly on caller-owned native {@link MemorySegment}s (the
 * memory objects are pointed at them with {@code dnnl_memory_set_data_handle}: no copies).
 *
 * <p>Weights are either {@link WeightsLayout#ROW_MAJOR} ({@code K×N}, row-major) or
 * {@link WeightsLayout#TRANSPOSED} ({@code N×K} row-major, as a linear layer's weight matrix is stored
 * in GGUF and safetensors files). By default ({@link Dnnl#dnnl_fpmath_mode_strict}) f16/bf16 weights
 * are widened and the product is computed in f32; passing {@link Dnnl#dnnl_fpmath_mode_bf16} or
 * {@link Dnnl#dnnl_fpmath_mode_f16} lets oneDNN also down-convert the f32 source to the weights' type,
 * which can be faster on CPUs with bf16/f16 dot-product instructions and costs source precision.
 *
 * <p>An instance owns its own stream and memory objects and is not thread-safe; use one per thread.
 * Uses the process-wide {@link Dnnl#cpuEngine()}.
 */
public final class DnnlMatmul implements AutoCloseable {
    /** How the weights matrix is laid out in memory. */
    public enum WeightsLayout {
        /** {@code K×N} row-major: element (k, n) at {@code k*N + n}. */
        ROW_MAJOR,
        /** {@code N×K} row-major, i.e. the transpose: element (k, n) at {@code n*K + k}. */
        TRANSPOSED
    }

    private final long m;
    private final long k;
    private final long n;
    private final DnnlDataType weightsType;
    private final WeightsLayout layout;
    private final int fpmathMode;
    private final Arena arena = Arena.ofShared();
    private MemorySegment srcMd = MemorySegment.NULL;
    private MemorySegment weightsMd = MemorySegment.NULL;
    private MemorySegment dstMd = MemorySegment.NULL;
    private MemorySegment attr = MemorySegment.NULL;
    private MemorySegment pd = MemorySegment.NULL;
    private MemorySegment primitive = MemorySegment.NULL;
    private MemorySegment srcMem = MemorySegment.NULL;
    private MemorySegment weightsMem = MemorySegment.NULL;
    private MemorySegment dstMem = MemorySegment.NULL;
    private MemorySegment stream = MemorySegment.NULL;
    private final MemorySegment args;
    private boolean closed;

    private DnnlMatmul(long m, long k, long n, DnnlDataType weightsType, WeightsLayout layout, int fpmathMode) {
        this.m = m;
        this.k = k;
        this.n = n;
        this.weightsType = weightsType;
        this.layout = layout;
        this.fpmathMode = fpmathMode;
        this.args = arena.allocate(Dnnl.DNNL_EXEC_ARG_T, 3);
    }

    /**
     * Creates the primitive.
     *
     * @param m           rows of the source and destination
     * @param k           the reduction dimension
     * @param n           columns of the destination
     * @param weightsType {@link DnnlDataType#F32}, {@link DnnlDataType#F16} or {@link DnnlDataType#BF16}
     * @param layout      how the weights are laid out
     * @throws DnnlException when oneDNN cannot create it (e.g. {@code dnnl_unimplemented} on a CPU
     *                       without the needed ISA)
     * @throws IllegalStateException when oneDNN is unavailable
     */
    public static DnnlMatmul create(long m, long k, long n, DnnlDataType weightsType, WeightsLayout layout) {
        return create(m, k, n, weightsType, layout, Dnnl.dnnl_fpmath_mode_strict);
    }

    /**
     * Creates the primitive with a floating-point math mode.
     *
     * @param fpmathMode a {@code Dnnl.dnnl_fpmath_mode_*} value; see the class description
     * @see #create(long, long, long, DnnlDataType, WeightsLayout)
     */
    public static DnnlMatmul create(long m, long k, long n, DnnlDataType weightsType, WeightsLayout layout,
                                    int fpmathMode) {
        Objects.requireNonNull(weightsType, "weightsType");
        Objects.requireNonNull(layout, "layout");
        if (m <= 0 || k <= 0 || n <= 0) {
            throw new IllegalArgumentException("dimensions must be positive: " + m + "x" + k + "x" + n);
        }
        if (weightsType != DnnlDataType.F32 && weightsType != DnnlDataType.F16 && weightsType != DnnlDataType.BF16) {
            throw new IllegalArgumentException("weights must be F32, F16 or BF16: " + weightsType);
        }
        DnnlMatmul mm = new DnnlMatmul(m, k, n, weightsType, layout, fpmathMode);
        try {
            mm.init();
            return mm;
        } catch (RuntimeException | Error e) {
            mm.close();
            throw e;
        }
    }

    private void init() {
        MemorySegment engine = Dnnl.cpuEngine();
        srcMd = Dnnl.memoryDescCreateWithTag(new long[] {m, k}, Dnnl.dnnl_f32, Dnnl.dnnl_ab);
        weightsMd = Dnnl.memoryDescCreateWithTag(new long[] {k, n}, weightsType.code(),
                layout == WeightsLayout.ROW_MAJOR ? Dnnl.dnnl_ab : Dnnl.dnnl_ba);
        dstMd = Dnnl.memoryDescCreateWithTag(new long[] {m, n}, Dnnl.dnnl_f32, Dnnl.dnnl_ab);
        attr = Dnnl.primitiveAttrCreate();
        Dnnl.primitiveAttrSetFpmathMode(attr, fpmathMode);
        pd = Dnnl.matmulPrimitiveDescCreate(engine, srcMd, weightsMd, MemorySegment.NULL, dstMd, attr);
        primitive = Dnnl.primitiveCreate(pd);
        srcMem = Dnnl.memoryCreate(srcMd, engine, MemorySegment.NULL);
        weightsMem = Dnnl.memoryCreate(weightsMd, engine, MemorySegment.NULL);
        dstMem = Dnnl.memoryCreate(dstMd, engine, MemorySegment.NULL);
        stream = Dnnl.streamCreate(engine, Dnnl.dnnl_stream_default_flags);
        Dnnl.setExecArg(args, 0, Dnnl.DNNL_ARG_SRC, srcMem);
        Dnnl.setExecArg(args, 1, Dnnl.DNNL_ARG_WEIGHTS, weightsMem);
        Dnnl.setExecArg(args, 2, Dnnl.DNNL_ARG_DST, dstMem);
    }

    /** Rows of source and destination. */
    public long m() {
        return m;
    }

    /** The reduction dimension. */
    public long k() {
        return k;
    }

    /** Columns of the destination. */
    public long n() {
        return n;
    }

    /** The weights' element type. */
    public DnnlDataType weightsType() {
        return weightsType;
    }

    /** The {@code dnnl_fpmath_mode_t} the primitive was created with. */
    public int fpmathMode() {
        return fpmathMode;
    }

    /** The weights' layout. */
    public WeightsLayout weightsLayout() {
        return layout;
    }

    /**
     * Computes {@code dst = src · weights} and waits for it.
     *
     * @param src     native segment of at least {@code M*K} f32
     * @param weights native segment of at least {@code K*N} elements of the weights type
     * @param dst     native segment of at least {@code M*N} f32, overwritten
     */
    public void execute(MemorySegment src, MemorySegment weights, MemorySegment dst) {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        requireNative("src", src, m * k * 4);
        requireNative("weights", weights, k * n * weightsType.byteSize());
        requireNative("dst", dst, m * n * 4);
        Dnnl.memorySetDataHandle(srcMem, src);
        Dnnl.memorySetDataHandle(weightsMem, weights);
        Dnnl.memorySetDataHandle(dstMem, dst);
        Dnnl.primitiveExecute(primitive, stream, 3, args);
        Dnnl.streamWait(stream);
    }

    private static void requireNative(String what, MemorySegment s, long bytes) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(what + " must be a native segment");
        }
        if (s.byteSize() < bytes) {
            throw new IllegalArgumentException(what + " holds " + s.byteSize() + " bytes, needs " + bytes);
        }
    }

    /** Destroys the primitive, its memory objects and stream; the caller's buffers are untouched. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!stream.equals(MemorySegment.NULL)) Dnnl.streamDestroy(stream);
        if (!srcMem.equals(MemorySegment.NULL)) Dnnl.memoryDestroy(srcMem);
        if (!weightsMem.equals(MemorySegment.NULL)) Dnnl.memoryDestroy(weightsMem);
        if (!dstMem.equals(MemorySegment.NULL)) Dnnl.memoryDestroy(dstMem);
        if (!primitive.equals(MemorySegment.NULL)) Dnnl.primitiveDestroy(primitive);
        if (!pd.equals(MemorySegment.NULL)) Dnnl.primitiveDescDestroy(pd);
        if (!attr.equals(MemorySegment.NULL)) Dnnl.primitiveAttrDestroy(attr);
        if (!srcMd.equals(MemorySegment.NULL)) Dnnl.memoryDescDestroy(srcMd);
        if (!weightsMd.equals(MemorySegment.NULL)) Dnnl.memoryDescDestroy(weightsMd);
        if (!dstMd.equals(MemorySegment.NULL)) Dnnl.memoryDescDestroy(dstMd);
        arena.close();
    }

    @Override
    public String toString() {
        return "DnnlMatmul[" + m + "x" + k + " · " + k + "x" + n + ", weights " + weightsType + " " + layout + "]";
    }
}
