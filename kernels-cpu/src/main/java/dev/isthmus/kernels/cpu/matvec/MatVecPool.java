package dev.isthmus.kernels.cpu.matvec;

import dev.isthmus.gguf.GgmlType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads that computes {@link MatVec#matvec} with the rows split into chunks.
 *
 * <p>The calling thread works too, so a pool of {@code n} threads starts {@code n - 1} daemon
 * workers. Chunks are handed out through an atomic counter (a slow core simply takes fewer). A call
 * publishes its arguments in fields, wakes the workers with {@link LockSupport#unpark} and waits the
 * same way: nothing is allocated per call (no tasks, futures or lambdas), which a test checks.
 * Calls from several threads are serialized. Each row is computed by the same code as in
 * {@link MatVec#matvec} (or {@link MatVec#matvecQ8} for {@link #matvecQ8}, with {@code x} quantized
 * once by the caller) whatever the thread count, so results agree with it (bit for bit once both
 * run compiled code; the interpreter's lane reduction may differ in the last bits).
 */
public final class MatVecPool implements AutoCloseable {

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();

    // The job; written by the caller before the volatile write of generation, read after its read.
    private GgmlType type;
    private MemorySegment weights;
    private MemorySegment x;
    private MemorySegment y;
    private int rows;
    private int cols;
    private int chunkRows;
    private int chunks;
    private boolean exact;
    /** x quantized once per call by the caller, for the integer kernels; read by every thread. */
    private final Q8Activations activations = new Q8Activations();

    private volatile int generation;
    private volatile Thread waiter;
    private volatile boolean closed;
    private volatile Throwable failure;

    /** A pool with one thread per physical core (see {@link #physicalCores()}). */
    public MatVecPool() {
        this(physicalCores());
    }

    /**
     * A pool of {@code threads} threads, the caller included.
     *
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public MatVecPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a pool needs at least one thread, not " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::work, "isthmus-matvec-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
        }
        for (Thread t : workers) {
            t.start();
        }
    }

    /** Threads that work on a call, the caller included. */
    public int threads() {
        return threads;
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
            if (workers.length > 0 && !(weights.isAccessibleBy(workers[0]) && x.isAccessibleBy(workers[0])
                    && y.isAccessibleBy(workers[0]))) {
                throw new IllegalArgumentException("segments passed to a MatVecPool must be accessible from its "
                        + "worker threads (not confined to the caller: use a shared, global or automatic arena)");
            }
            boolean q8 = !exactJob && MatVec.quantizesActivations(type);
            if (q8) {
                activations.quantize(x, cols);
            }
            if (workers.length == 0 || rows < 2) {
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
            int target = threads * 4;
            this.chunkRows = Math.max(1, (rows + target - 1) / target);
            this.chunks = (rows + chunkRows - 1) / chunkRows;
            this.failure = null;
            nextChunk.set(0);
            running.set(workers.length);
            waiter = Thread.currentThread();
            generation = generation + 1; // publishes the job
            for (Thread t : workers) {
                LockSupport.unpark(t);
            }
            Throwable mine = null;
            try {
                runChunks();
            } catch (Throwable t) {
                mine = t;
            }
            // Spin briefly (workers usually finish together), then park.
            for (int spin = 0; running.get() != 0; spin++) {
                if (spin < 256) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            this.weights = null;
            this.x = null;
            this.y = null;
            Throwable theirs = failure;
            if (mine != null) {
                rethrow(mine);
            }
            if (theirs != null) {
                throw new IllegalStateException("matvec worker failed", theirs);
            }
        }
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }

    private void runChunks() {
        GgmlType t = type;
        MemorySegment w = weights;
        MemorySegment xs = x;
        MemorySegment ys = y;
        int n = rows;
        int c = cols;
        int per = chunkRows;
        int total = chunks;
        boolean floatX = exact;
        for (int k; (k = nextChunk.getAndIncrement()) < total; ) {
            int r0 = k * per;
            if (floatX) {
                MatVec.rows(t, w, c, xs, ys, r0, Math.min(n, r0 + per));
            } else {
                Q8Kernels.rows(t, w, c, activations, ys, r0, Math.min(n, r0 + per));
            }
        }
    }

    private void work() {
        int seen = 0;
        while (true) {
            int g = generation;
            if (closed) {
                return;
            }
            if (g == seen) {
                LockSupport.park(this);
                continue;
            }
            seen = g;
            try {
                runChunks();
            } catch (Throwable t) {
                failure = t;
            }
            if (running.decrementAndGet() == 0) {
                LockSupport.unpark(waiter);
            }
        }
    }

    /** Stops the workers (waits for them); later calls throw {@link IllegalStateException}. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
        boolean interrupted = false;
        for (Thread t : workers) {
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
