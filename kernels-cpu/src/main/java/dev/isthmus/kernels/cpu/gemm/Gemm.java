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
 * <p>Two implementations:
 * <ul>
 * <li>{@link Path#ONEDNN}: a oneDNN matmul ({@link DnnlMatmul}, weights {@code TRANSPOSED}, strict
 *     f32 math) for F32/F16/BF16 weights, zero-copy on native segments. Primitives are created per
 *     {@code (m, k, n, type)} and kept in a bounded, thread-safe cache of idle instances (a
 *     {@code DnnlMatmul} is not thread-safe, so a call borrows one and gives it back; concurrent
 *     calls on one shape create more, up to the bound kept idle).</li>
 * <li>{@link Path#VECTOR}: the Vector API GEMV ({@link MatVec}, or a {@link MatVecPool} when one is
 *     given) once per row of {@code X}. Every type {@link MatVec#supports} has, quantized ones
 *     always take this path.</li>
 * </ul>
 *
 * <p>In {@link Policy#AUTO} the path per (type, m) comes from {@link #measuredChoice}, the winners of
 * {@code GemmBenchmark} (see docs/GEMM.md). oneDNN is also skipped, falling back to the Vector API,
 * when it is unavailable (logged once, never thrown), when a segment is not native, or when oneDNN
 * cannot create the primitive for a type on this CPU (logged once per type).
 *
 * <p>oneDNN runs on its own OpenMP threads ({@code OMP_NUM_THREADS}, default: all logical CPUs); the
 * Vector API path runs on the caller, or on the pool's threads.
 *
 * <p>Instances are thread-safe. {@link #close()} destroys the cached primitives (not the pool, which
 * belongs to the caller).
 */
public final class Gemm implements AutoCloseable {

    /** Which implementation a call uses. */
    public enum Path {
        /** oneDNN matmul. */
        ONEDNN,
        /** Vector API GEMV, row by row of X. */
        VECTOR
    }

    /** How a {@link Gemm} chooses its path. */
    public enum Policy {
        /** The measured winner per (type, m) ({@link #measuredChoice}), oneDNN only where available. */
        AUTO,
        /** oneDNN for F32/F16/BF16 whenever it can (benchmarks, tests). */
        PREFER_ONEDNN,
        /** Never oneDNN. */
        VECTOR_ONLY
    }

    /** Default number of idle oneDNN primitives kept. */
    public static final int DEFAULT_CACHE_CAPACITY = 32;

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
        this.policy = Objects.requireNonNull(policy, "policy");
        this.pool = pool;
        if (cacheCapacity < 1) {
            throw new IllegalArgumentException("cacheCapacity must be >= 1: " + cacheCapacity);
        }
        this.cacheCapacity = cacheCapacity;
    }

    /**
     * The measured winner for a dtype and batch size when oneDNN is available (docs/GEMM.md, figures
     * from {@code GemmBenchmark}, AVX2 EPYC, noisy shared 2-core box). Quantized types and anything
     * oneDNN cannot take: {@link Path#VECTOR}.
     *
     * <pre>
     *   type   m = 1 (decode GEMV)          m = 64 (prefill chunk)
     *   F32    oneDNN (1.3-2.4x, 1 thread)  oneDNN (8-15x)
     *   F16    Vector API (tie at 1 thread, oneDNN (4.5-20x)
     *          1.7-8x at 2 threads)
     *   BF16   Vector API (1.0-11x)         oneDNN (4-9x)
     * </pre>
     * m between 2 and 63 was not measured: it takes the m = 64 winner, since oneDNN reads W once for
     * all rows while the Vector API path streams W once per row.
     */
    public static Path measuredChoice(GgmlType type, int m) {
        return switch (type) {
            case F32 -> m <= DECODE_MAX_M_F32 ? Path.VECTOR : Path.ONEDNN;
            case F16 -> m <= DECODE_MAX_M_F16 ? Path.VECTOR : Path.ONEDNN;
            case BF16 -> m <= DECODE_MAX_M_BF16 ? Path.VECTOR : Path.ONEDNN;
            default -> Path.VECTOR;
        };
    }

    /** The largest m for which the Vector API path won, per dtype (0: oneDNN won at every m measured). */
    static final int DECODE_MAX_M_F32 = 0;
    static final int DECODE_MAX_M_F16 = 1;
    static final int DECODE_MAX_M_BF16 = 1;

    /** True when oneDNN can be used by this process at all. */
    public static boolean onednnAvailable() {
        return DnnlLibrary.availability().available();
    }

    /** The path a call with this type and m would take (with native segments). */
    public Path pathFor(GgmlType type, int m) {
        Objects.requireNonNull(type, "type");
        DnnlDataType dt = dnnlType(type);
        if (dt == null || policy == Policy.VECTOR_ONLY || unimplemented.contains(type)) {
            return Path.VECTOR;
        }
        if (policy == Policy.AUTO && measuredChoice(type, m) == Path.VECTOR) {
            return Path.VECTOR;
        }
        Availability a = DnnlLibrary.availability();
        if (!a.available()) {
            if (UNAVAILABLE_LOGGED.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.INFO, "oneDNN unavailable, CPU matmul uses the Vector API: " + a.reason());
            }
            return Path.VECTOR;
        }
        return Path.ONEDNN;
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
     * @return the path taken
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException for a bad shape or a short segment
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
        if (m == 0 || n == 0) {
            if (!MatVec.supports(type)) {
                throw new UnsupportedOperationException("no matvec kernel for ggml type " + type);
            }
            if (k % type.blockSize() != 0) {
                throw new IllegalArgumentException(k + " is not a whole number of " + type + " blocks");
            }
            return Path.VECTOR;
        }
        if (k > 0 && weights.isNative() && x.isNative() && y.isNative() && !y.isReadOnly()
                && weights.byteSize() >= type.rowSize(k) * n && pathFor(type, m) == Path.ONEDNN) {
            if (onednn(type, weights, m, k, n, x, y)) {
                return Path.ONEDNN;
            }
        }
        vector(type, weights, m, k, n, x, y);
        return Path.VECTOR;
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

    /** Destroys the idle primitives; borrowed ones are destroyed when their call returns. */
    @Override
    public void close() {
        List<DnnlMatmul> all = new ArrayList<>();
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
        }
        for (DnnlMatmul mm : all) {
            mm.close();
        }
    }
}
