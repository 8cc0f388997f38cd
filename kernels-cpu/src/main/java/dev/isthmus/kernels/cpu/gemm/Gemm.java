package dev.isthmus.kernels.cpu.gemm;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.kernels.cpu.matvec.MatVec;
import dev.isthmus.kernels.cpu.matvec.MatVecPool;
import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.dnnl.DnnlDataType;
import dev.isthmus.nativebindings.dnnl.DnnlLibrary;
import dev.isthmus.nativebindings.dnnl.DnnlMatmul;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CPU matmul entry point: {@code Y[m][n] = X[m][k] · Wᵀ} where {@code W} is row-major
 * {@code [n][k]} in its GGUF type (a linear layer's weight, rows = output features), {@code X} and
 * {@code Y} row-major native-order floats.
 *
 * <p>Four implementations:
 * <ul>
 * <li>{@link Path#ONEDNN}: a oneDNN matmul ({@link DnnlMatmul}, weights {@code TRANSPOSED}, strict
 *     f32 math) for F32/F16/BF16 weights, zero-copy on native segments. Primitives are created per
 *     {@code (m, k, n, type)} and kept in a bounded, thread-safe cache of idle instances (a
 *     {@code DnnlMatmul} is not thread-safe, so a call borrows one and gives it back; concurrent
 *     calls on one shape create more, up to the bound kept idle).</li>
 * <li>{@link Path#VECTOR}: the Vector API GEMV ({@link MatVec}, or a {@link MatVecPool} when one is
 *     given) once per row of {@code X}. Every type {@link MatVec#supports} has.</li>
 * <li>{@link Path#ONEDNN_PANELS}: every type; W is decoded to f32 a panel of rows at a time into a
 *     per-worker scratch buffer that stays in L2 ({@value #PANEL_BYTES_PROPERTY}), each panel
 *     multiplied with all of X by a oneDNN f32 matmul running on one OpenMP thread inside its worker;
 *     panels are spread over {@link #panelThreads()} worker threads.</li>
 * <li>{@link Path#VECTOR_GEMM}: the same panels through a blocked Vector API micro-kernel (4 rows of X
 *     × 3 rows of W in registers, k blocked for L1), for when oneDNN is unavailable.</li>
 * </ul>
 *
 * <p>In {@link Policy#AUTO} the path per (type, m) comes from {@link #measuredChoice} (or
 * {@link #measuredChoiceWithoutOnednn}), the winners of {@code GemmBenchmark} (see docs/GEMM.md).
 * oneDNN is skipped, falling back to the Vector API, when it is unavailable (logged once, never
 * thrown), when a segment is not native, or when oneDNN cannot create the primitive for a type on
 * this CPU (logged once per type).
 *
 * <p>The direct oneDNN path runs on oneDNN's OpenMP threads ({@code OMP_NUM_THREADS}, default: all
 * logical CPUs, set per calling thread); the panel paths run on their own worker threads (each sets
 * its OpenMP thread count to 1, so the two never add up to more threads than workers); the
 * {@link Path#VECTOR} path runs on the caller, or on the pool's threads.
 *
 * <p>Instances are thread-safe (panel GEMMs of one instance run one at a time). {@link #close()}
 * destroys the cached primitives and stops the panel workers (not the pool, which belongs to the
 * caller).
 */
public final class Gemm implements AutoCloseable {

    /** Which implementation a call uses. */
    public enum Path {
        /** oneDNN matmul. */
        ONEDNN,
        /** Vector API GEMV, row by row of X. */
        VECTOR,
        /**
         * Any type: W decoded to f32 a panel of rows at a time (a per-thread scratch that stays in L2),
         * each panel multiplied with all of X by a single-threaded oneDNN f32 matmul, panels spread over
         * the GEMM worker threads.
         */
        ONEDNN_PANELS,
        /** Any type: the same panels multiplied by a blocked Vector API micro-kernel (no native code). */
        VECTOR_GEMM
    }

    /** How a {@link Gemm} chooses its path. */
    public enum Policy {
        /** The measured winner per (type, m) ({@link #measuredChoice}), oneDNN only where available. */
        AUTO,
        /** The direct oneDNN matmul for F32/F16/BF16 whenever it can, other types as {@link #AUTO} (tests). */
        PREFER_ONEDNN,
        /** Never oneDNN, never panels: the row-by-row GEMV ({@link Path#VECTOR}) for every m. */
        VECTOR_ONLY,
        /** {@link Path#ONEDNN_PANELS} for every type and m where oneDNN is available (tests, benchmarks). */
        PANELS_ONEDNN,
        /** {@link Path#VECTOR_GEMM} for every type and m (tests, benchmarks). */
        PANELS_VECTOR
    }

    /** Default number of idle oneDNN primitives kept. */
    public static final int DEFAULT_CACHE_CAPACITY = 32;

    /** System property: worker threads of the panel paths (default: available processors). */
    public static final String THREADS_PROPERTY = "isthmus.gemm.threads";
    /** System property: bytes of f32 weight panel per worker (default {@value #DEFAULT_PANEL_BYTES}). */
    public static final String PANEL_BYTES_PROPERTY = "isthmus.gemm.panelBytes";
    /** Default f32 panel size per worker: half of a 512 KiB L2. */
    public static final int DEFAULT_PANEL_BYTES = 256 * 1024;

    private static final System.Logger LOG = System.getLogger(Gemm.class.getName());
    private static final AtomicBoolean UNAVAILABLE_LOGGED = new AtomicBoolean();
    private static final Set<GgmlType> UNIMPLEMENTED_LOGGED = ConcurrentHashMap.newKeySet();

    private final Policy policy;
    private final MatVecPool pool;
    private final int cacheCapacity;
    /** Idle primitives per shape, least recently used shape first. Guarded by {@code this}. */
    private final LinkedHashMap<Key, ArrayDeque<DnnlMatmul>> idle = new LinkedHashMap<>(16, 0.75f, true);
    private int idleCount;
    private volatile boolean closed;
    private final AtomicLong created = new AtomicLong();
    /** Types oneDNN refused to build a primitive for on this machine. */
    private final Set<GgmlType> unimplemented = ConcurrentHashMap.newKeySet();
    private final int panelThreads;
    private final int panelBytes;
    /** Created on the first panel call. Guarded by {@code this}. */
    private PanelGemm panels;

    private record Key(int m, int k, int n, GgmlType type) {
    }

    /** {@link Policy#AUTO}, Vector API path on the calling thread, default cache. */
    public Gemm() {
        this(Policy.AUTO, null, DEFAULT_CACHE_CAPACITY);
    }

    /**
     * @param policy how to choose the path
     * @param pool threads for the Vector API path, or {@code null} for the calling thread; not owned
     * @param cacheCapacity the most idle oneDNN primitives kept, {@code >= 1}
     */
    public Gemm(Policy policy, MatVecPool pool, int cacheCapacity) {
        this(policy, pool, cacheCapacity, defaultThreads());
    }

    /**
     * @param policy how to choose the path
     * @param pool threads for the row-by-row {@link Path#VECTOR} path, or {@code null} for the calling
     *     thread; not owned
     * @param cacheCapacity the most idle oneDNN primitives kept by the direct {@link Path#ONEDNN} path,
     *     {@code >= 1}
     * @param panelThreads worker threads of the panel paths ({@link Path#ONEDNN_PANELS},
     *     {@link Path#VECTOR_GEMM}), {@code >= 1}; started on the first panel call, stopped by
     *     {@link #close()}
     */
    public Gemm(Policy policy, MatVecPool pool, int cacheCapacity, int panelThreads) {
        this(policy, pool, cacheCapacity, panelThreads, Integer.getInteger(PANEL_BYTES_PROPERTY, DEFAULT_PANEL_BYTES));
    }

    /** As the public constructor, with the panel size given (tests force many small panels). */
    Gemm(Policy policy, MatVecPool pool, int cacheCapacity, int panelThreads, int panelBytes) {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.pool = pool;
        if (cacheCapacity < 1) {
            throw new IllegalArgumentException("cacheCapacity must be >= 1: " + cacheCapacity);
        }
        if (panelThreads < 1) {
            throw new IllegalArgumentException("panelThreads must be >= 1: " + panelThreads);
        }
        this.cacheCapacity = cacheCapacity;
        this.panelThreads = panelThreads;
        this.panelBytes = panelBytes;
        if (panelBytes < 1024) {
            throw new IllegalArgumentException("panel bytes (" + PANEL_BYTES_PROPERTY + ") must be >= 1024: "
                    + panelBytes);
        }
    }

    /** {@value #THREADS_PROPERTY} if set, else the available processors. */
    public static int defaultThreads() {
        int t = Integer.getInteger(THREADS_PROPERTY, Runtime.getRuntime().availableProcessors());
        if (t < 1) {
            throw new IllegalArgumentException(THREADS_PROPERTY + " must be >= 1: " + t);
        }
        return t;
    }

    /** Worker threads of the panel paths. */
    public int panelThreads() {
        return panelThreads;
    }

    /**
     * The measured winner for a dtype and batch size when oneDNN is available (docs/GEMM.md: figures
     * from {@code GemmBenchmark} and its CPU-time mode, AVX2 EPYC, a heavily shared 2-core box).
     *
     * <pre>
     *   type        m = 1            2 &lt;= m &lt; 32   32 &lt;= m &lt; 64   m &gt;= 64
     *   F32         oneDNN direct    Vector GEMM    oneDNN direct  oneDNN direct
     *   F16, BF16   Vector GEMV      Vector GEMM    oneDNN direct  oneDNN direct
     *   quantized   Vector GEMV      Vector GEMM    Vector GEMM    oneDNN panels
     * </pre>
     * Small m is bound by decoding W (or, for oneDNN, by its per-call cost), where the Java
     * micro-kernel, which has neither a copy nor a native call per panel, wins; at large m the
     * multiply dominates and oneDNN's JIT kernel is faster than ours.
     */
    public static Path measuredChoice(GgmlType type, int m) {
        Objects.requireNonNull(type, "type");
        if (m < VECTOR_GEMM_MIN_M) {
            return switch (type) {
                case F32 -> m <= DECODE_MAX_M_F32 ? Path.VECTOR : Path.ONEDNN;
                case F16 -> m <= DECODE_MAX_M_F16 ? Path.VECTOR : Path.ONEDNN;
                case BF16 -> m <= DECODE_MAX_M_BF16 ? Path.VECTOR : Path.ONEDNN;
                default -> Path.VECTOR;
            };
        }
        return switch (type) {
            case F32, F16, BF16 -> m >= ONEDNN_DENSE_MIN_M ? Path.ONEDNN : Path.VECTOR_GEMM;
            default -> m >= ONEDNN_PANELS_MIN_M ? Path.ONEDNN_PANELS : Path.VECTOR_GEMM;
        };
    }

    /**
     * The measured winner without oneDNN: the blocked Vector API GEMM from {@code VECTOR_GEMM_MIN_M}
     * rows of X, the row-by-row GEMV below.
     */
    public static Path measuredChoiceWithoutOnednn(GgmlType type, int m) {
        Objects.requireNonNull(type, "type");
        return m >= VECTOR_GEMM_MIN_M ? Path.VECTOR_GEMM : Path.VECTOR;
    }

    /** The largest m for which the Vector API GEMV won, per dtype (0: oneDNN won at every m measured). */
    static final int DECODE_MAX_M_F32 = 0;
    static final int DECODE_MAX_M_F16 = 1;
    static final int DECODE_MAX_M_BF16 = 1;
    /** The smallest m for which the blocked Vector API GEMM beats the row-by-row GEMV (every type). */
    static final int VECTOR_GEMM_MIN_M = 2;
    /** The smallest m for which direct oneDNN beats the Vector API GEMM on F32/F16/BF16. */
    static final int ONEDNN_DENSE_MIN_M = 32;
    /**
     * F16/BF16 prompts through oneDNN panels (decoded to f32 in L2-sized panels, single-threaded oneDNN
     * per panel worker) rather than oneDNN's own f16/bf16 matmul on its OpenMP team: in a whole prefill
     * (other ops' threads running between the matmuls) the panels were 1.4–1.7× faster at 64 tokens
     * (docs/GEMM.md). System property {@code isthmus.gemm.dense=direct} restores the direct path.
     */
    static final boolean DENSE_AS_PANELS = !"direct".equals(System.getProperty("isthmus.gemm.dense"));
    /** The smallest m for which oneDNN panels beat the Vector API GEMM on quantized weights. */
    static final int ONEDNN_PANELS_MIN_M = 64;

    /** True when oneDNN can be used by this process at all. */
    public static boolean onednnAvailable() {
        return DnnlLibrary.availability().available();
    }

    /** The path a call with this type and m would take (with native segments). */
    public Path pathFor(GgmlType type, int m) {
        Objects.requireNonNull(type, "type");
        boolean dense = dnnlType(type) != null;
        return switch (policy) {
            case VECTOR_ONLY -> Path.VECTOR;
            case PANELS_VECTOR -> Path.VECTOR_GEMM;
            case PANELS_ONEDNN -> onednnOrLog() ? Path.ONEDNN_PANELS : Path.VECTOR_GEMM;
            case PREFER_ONEDNN -> {
                if (dense && !unimplemented.contains(type) && onednnOrLog()) {
                    yield Path.ONEDNN;
                }
                yield auto(type, m);
            }
            case AUTO -> auto(type, m);
        };
    }

    private Path auto(GgmlType type, int m) {
        Path p = measuredChoice(type, m);
        if (p == Path.ONEDNN && type != GgmlType.F32 && DENSE_AS_PANELS) {
            p = Path.ONEDNN_PANELS;
        }
        if (p == Path.ONEDNN && unimplemented.contains(type)) {
            p = Path.ONEDNN_PANELS;
        }
        if ((p == Path.ONEDNN || p == Path.ONEDNN_PANELS) && !onednnOrLog()) {
            return measuredChoiceWithoutOnednn(type, m);
        }
        return p;
    }

    private static boolean onednnOrLog() {
        Availability a = DnnlLibrary.availability();
        if (!a.available()) {
            if (UNAVAILABLE_LOGGED.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.INFO, "oneDNN unavailable, CPU matmul uses the Vector API: " + a.reason());
            }
            return false;
        }
        return true;
    }

    /**
     * Computes {@code Y = X · Wᵀ}.
     *
     * @param type the GGUF type of {@code weights}
     * @param weights {@code n * type.rowSize(k)} bytes, row-major {@code [n][k]}, little-endian
     * @param m rows of X and Y
     * @param k the reduction dimension, a multiple of {@code type.blockSize()}
     * @param n rows of W, columns of Y
     * @param x at least {@code m*k} floats, row-major
     * @param y at least {@code m*n} floats, row-major, overwritten
     * @return the path taken: {@link #pathFor}, or a Vector API path when a segment does not suit
     *     oneDNN (heap {@code x}/{@code y}/{@code weights} for the direct path, heap {@code x} for panels)
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException for a bad shape, a short segment, a read-only {@code y}
     * @throws IllegalStateException after {@link #close()}
     */
    public Path gemm(GgmlType type, MemorySegment weights, int m, int k, int n, MemorySegment x, MemorySegment y) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(y, "y");
        if (closed) {
            throw new IllegalStateException("Gemm is closed");
        }
        if (m < 0 || k < 0 || n < 0) {
            throw new IllegalArgumentException("negative shape " + m + "x" + k + "x" + n);
        }
        if (x.byteSize() < 4L * m * k) {
            throw new IllegalArgumentException("x holds " + x.byteSize() + " bytes, needs " + 4L * m * k);
        }
        if (y.byteSize() < 4L * m * n) {
            throw new IllegalArgumentException("y holds " + y.byteSize() + " bytes, needs " + 4L * m * n);
        }
        if (!MatVec.supports(type)) {
            throw new UnsupportedOperationException("no matvec kernel for ggml type " + type);
        }
        if (k % type.blockSize() != 0) {
            throw new IllegalArgumentException(k + " is not a whole number of " + type + " blocks");
        }
        if (m == 0 || n == 0) {
            return Path.VECTOR;
        }
        if (weights.byteSize() < type.rowSize(k) * n) {
            throw new IllegalArgumentException("weights hold " + weights.byteSize() + " bytes, " + n + " rows of "
                    + k + " " + type + " need " + type.rowSize(k) * n);
        }
        if (y.isReadOnly()) {
            throw new IllegalArgumentException("y is read-only");
        }
        Path path = k == 0 ? Path.VECTOR : pathFor(type, m);
        switch (path) {
            case ONEDNN -> {
                if (weights.isNative() && x.isNative() && y.isNative() && onednn(type, weights, m, k, n, x, y)) {
                    return Path.ONEDNN;
                }
                if (m >= VECTOR_GEMM_MIN_M) {       // heap segments, or oneDNN refused the type
                    return panelGemm(x.isNative(), type, weights, m, k, n, x, y);
                }
            }
            case ONEDNN_PANELS -> {
                return panelGemm(x.isNative(), type, weights, m, k, n, x, y);
            }
            case VECTOR_GEMM -> {
                return panelGemm(false, type, weights, m, k, n, x, y);
            }
            case VECTOR -> {
            }
        }
        vector(type, weights, m, k, n, x, y);
        return Path.VECTOR;
    }

    private Path panelGemm(boolean onednn, GgmlType type, MemorySegment weights, int m, int k, int n,
            MemorySegment x, MemorySegment y) {
        long most = Integer.MAX_VALUE - 8;   // the panel scratch buffers are Java arrays
        if ((long) m * k > most || (long) m * n > most || 3L * k > most || type.rowSize(k) > most) {
            vector(type, weights, m, k, n, x, y);
            return Path.VECTOR;
        }
        panels().gemm(onednn, type, weights, m, k, n, x, y);
        return onednn ? Path.ONEDNN_PANELS : Path.VECTOR_GEMM;
    }

    private synchronized PanelGemm panels() {
        if (closed) {
            throw new IllegalStateException("Gemm is closed");
        }
        if (panels == null) {
            panels = new PanelGemm(panelThreads, panelBytes);
        }
        return panels;
    }

    private void vector(GgmlType type, MemorySegment weights, int m, int k, int n, MemorySegment x, MemorySegment y) {
        long xRow = 4L * k;
        long yRow = 4L * n;
        for (int i = 0; i < m; i++) {
            MemorySegment xi = x.asSlice(i * xRow, xRow);
            MemorySegment yi = y.asSlice(i * yRow, yRow);
            if (pool != null) {
                pool.matvec(type, weights, n, k, xi, yi);
            } else {
                MatVec.matvec(type, weights, n, k, xi, yi);
            }
        }
    }

    /** False when oneDNN cannot build the primitive for this type (then the caller falls back). */
    private boolean onednn(GgmlType type, MemorySegment weights, int m, int k, int n, MemorySegment x,
            MemorySegment y) {
        Key key = new Key(m, k, n, type);
        DnnlMatmul mm = borrow(key);
        if (mm == null) {
            try {
                mm = DnnlMatmul.create(m, k, n, dnnlType(type), DnnlMatmul.WeightsLayout.TRANSPOSED);
                created.incrementAndGet();
            } catch (RuntimeException e) {
                unimplemented.add(type);
                if (UNIMPLEMENTED_LOGGED.add(type)) {
                    LOG.log(System.Logger.Level.WARNING, "oneDNN cannot create a " + type
                            + " matmul here, using the Vector API: " + e);
                }
                return false;
            }
        }
        boolean ok = false;
        try {
            mm.execute(x, weights, y);
            ok = true;
        } finally {
            if (ok) {
                giveBack(key, mm);
            } else {
                mm.close();
            }
        }
        return true;
    }

    private synchronized DnnlMatmul borrow(Key key) {
        if (closed) {
            throw new IllegalStateException("Gemm is closed");
        }
        ArrayDeque<DnnlMatmul> q = idle.get(key);
        if (q == null || q.isEmpty()) {
            return null;
        }
        idleCount--;
        DnnlMatmul mm = q.pop();
        if (q.isEmpty()) {
            idle.remove(key);
        }
        return mm;
    }

    private void giveBack(Key key, DnnlMatmul mm) {
        List<DnnlMatmul> evicted = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                evicted.add(mm);
            } else {
                idle.computeIfAbsent(key, kk -> new ArrayDeque<>()).push(mm);
                idleCount++;
                Iterator<Map.Entry<Key, ArrayDeque<DnnlMatmul>>> it = idle.entrySet().iterator();
                while (idleCount > cacheCapacity && it.hasNext()) {
                    Map.Entry<Key, ArrayDeque<DnnlMatmul>> e = it.next(); // least recently used first
                    ArrayDeque<DnnlMatmul> q = e.getValue();
                    while (idleCount > cacheCapacity && !q.isEmpty()) {
                        evicted.add(q.pollLast());
                        idleCount--;
                    }
                    if (q.isEmpty()) {
                        it.remove();
                    }
                }
            }
        }
        for (DnnlMatmul e : evicted) {
            e.close();
        }
    }

    /** oneDNN primitives created so far by this instance (cache misses). */
    public long primitivesCreated() {
        return created.get();
    }

    /** oneDNN primitives now idle in the cache (at most the capacity). */
    public synchronized int cachedPrimitives() {
        return idleCount;
    }

    /** The bound on {@link #cachedPrimitives()}. */
    public int cacheCapacity() {
        return cacheCapacity;
    }

    /** The policy. */
    public Policy policy() {
        return policy;
    }

    private static DnnlDataType dnnlType(GgmlType type) {
        return switch (type) {
            case F32 -> DnnlDataType.F32;
            case F16 -> DnnlDataType.F16;
            case BF16 -> DnnlDataType.BF16;
            default -> null;
        };
    }

    /**
     * Destroys the idle primitives (borrowed ones are destroyed when their call returns) and stops the
     * panel workers, after the panel GEMM in progress, if any, has finished.
     */
    @Override
    public void close() {
        List<DnnlMatmul> all = new ArrayList<>();
        PanelGemm p;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (ArrayDeque<DnnlMatmul> q : idle.values()) {
                all.addAll(q);
            }
            idle.clear();
            idleCount = 0;
            p = panels;
        }
        for (DnnlMatmul mm : all) {
            mm.close();
        }
        if (p != null) {
            p.close();
        }
    }
}
