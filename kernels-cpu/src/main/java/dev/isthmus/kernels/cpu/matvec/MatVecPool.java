package dev.isthmus.kernels.cpu.matvec;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.kernels.cpu.ops.OpPool;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.Objects;

/**
 * Computes {@link MatVec#matvec} with the rows split into chunks over the threads of an
 * {@link OpPool} (the backend's one pool, shared with the other ops, or a pool of its own).
 *
 * <p>The calling thread works too. Chunks are handed out through the pool's atomic counter (a slow
 * core simply takes fewer); nothing is allocated per call (the job is this object, its arguments
 * are fields), which a test checks. Calls from several threads are serialized. Each row is computed
 * by the same code as in {@link MatVec#matvec} (or {@link MatVec#matvecQ8} for {@link #matvecQ8},
 * with {@code x} quantized once by the caller) whatever the thread count, so results agree with it
 * (bit for bit once both run compiled code; the interpreter's lane reduction may differ in the last
 * bits).
 */
public final class MatVecPool implements AutoCloseable, OpPool.Job {

    private final OpPool pool;
    private final boolean ownsPool;
    private final Thread probe;

    // The job; written by the caller before OpPool.run publishes it.
    private GgmlType type;
    private MemorySegment weights;
    private MemorySegment x;
    private MemorySegment y;
    private int rows;
    private int cols;
    private int chunkRows;
    private boolean exact;
    /** x quantized once per call by the caller, for the integer kernels; read by every thread. */
    private final Q8Activations activations = new Q8Activations();
    private volatile boolean closed;

    /** A pool with one thread per physical core (see {@link #physicalCores()}). */
    public MatVecPool() {
        this(physicalCores());
    }

    /**
     * A pool of {@code threads} threads of its own, the caller included.
     *
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public MatVecPool(int threads) {
        this(newPool(threads), true);
    }

    /** Runs on {@code shared}'s threads; {@link #close()} leaves {@code shared} open. */
    public MatVecPool(OpPool shared) {
        this(Objects.requireNonNull(shared, "shared"), false);
    }

    private MatVecPool(OpPool pool, boolean owns) {
        this.pool = pool;
        this.ownsPool = owns;
        // a thread that is not the caller: segments must be accessible from the workers
        this.probe = pool.threads() > 1 ? new Thread(() -> { }) : null;
    }

    private static OpPool newPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a pool needs at least one thread, not " + threads);
        }
        return new OpPool(threads);
    }

    /** Threads that work on a call, the caller included. */
    public int threads() {
        return pool.threads();
    }

    /**
     * Physical cores as Linux reports them (distinct {@code core_cpus_list}/{@code thread_siblings_list}
     * among the CPUs), else {@link Runtime#availableProcessors()}; never more than the latter.
     */
    public static int physicalCores() {
        int logical = Runtime.getRuntime().availableProcessors();
        Set<String> cores = new HashSet<>();
        try (DirectoryStream<Path> cpus = Files.newDirectoryStream(Path.of("/sys/devices/system/cpu"), "cpu[0-9]*")) {
            for (Path cpu : cpus) {
                Path siblings = cpu.resolve("topology/thread_siblings_list");
                if (Files.isReadable(siblings)) {
                    cores.add(Files.readString(siblings).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return logical;
        }
        return cores.isEmpty() ? logical : Math.max(1, Math.min(logical, cores.size()));
    }

    /**
     * As {@link MatVec#matvec}, with the rows spread over the pool's threads.
     *
     * @throws IllegalStateException if the pool is closed
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException as {@link MatVec#matvec}, or if a segment is confined to the
     *     calling thread (the workers could not read it)
     */
    public void matvec(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x, MemorySegment y) {
        run(type, weights, rows, cols, x, y, true);
    }

    /**
     * As {@link MatVec#matvecQ8} (8-bit activations and integer kernels where
     * {@link MatVec#quantizesActivations}), with the rows spread over the pool's threads; the caller
     * quantizes {@code x} once into a buffer the pool keeps, and every thread reads it.
     *
     * @throws IllegalStateException if the pool is closed
     * @throws UnsupportedOperationException if {@code type} has no kernel
     * @throws IllegalArgumentException as {@link #matvec}
     */
    public void matvecQ8(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x,
            MemorySegment y) {
        run(type, weights, rows, cols, x, y, false);
    }

    private void run(GgmlType type, MemorySegment weights, int rows, int cols, MemorySegment x, MemorySegment y,
            boolean exactJob) {
        MatVec.check(type, weights, rows, cols, x, y);
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("MatVecPool is closed");
            }
            if (probe != null && !(weights.isAccessibleBy(probe) && x.isAccessibleBy(probe)
                    && y.isAccessibleBy(probe))) {
                throw new IllegalArgumentException("segments passed to a MatVecPool must be accessible from its "
                        + "worker threads (not confined to the caller: use a shared, global or automatic arena)");
            }
            boolean q8 = !exactJob && MatVec.quantizesActivations(type);
            if (q8) {
                activations.quantize(x, cols);
            }
            if (pool.threads() == 1 || rows < 2) {
                if (q8) {
                    Q8Kernels.rows(type, weights, cols, activations, y, 0, rows);
                } else {
                    MatVec.rows(type, weights, cols, x, y, 0, rows);
                }
                return;
            }
            this.exact = !q8;
            this.type = type;
            this.weights = weights;
            this.x = x;
            this.y = y;
            this.rows = rows;
            this.cols = cols;
            // About four chunks a thread, so that an interrupted or slower core is evened out.
            int target = pool.threads() * 4;
            this.chunkRows = Math.max(1, (rows + target - 1) / target);
            int chunks = (rows + chunkRows - 1) / chunkRows;
            try {
                pool.run(this, chunks);
            } finally {
                this.weights = null;
                this.x = null;
                this.y = null;
            }
        }
    }

    /** One chunk of the published call (the {@link OpPool.Job} contract; not for other callers). */
    @Override
    public void run(int chunk, int worker) {
        int r0 = chunk * chunkRows;
        int r1 = Math.min(rows, r0 + chunkRows);
        if (exact) {
            MatVec.rows(type, weights, cols, x, y, r0, r1);
        } else {
            Q8Kernels.rows(type, weights, cols, activations, y, r0, r1);
        }
    }

    /**
     * Later calls throw {@link IllegalStateException}; stops the threads if the pool is this
     * object's own (a shared {@link OpPool} stays open). Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (ownsPool) {
            pool.close();
        }
    }
}
