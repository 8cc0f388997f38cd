package dev.isthmus.kernels.cpu.ops;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads, created once, that runs the units {@code 0 .. units-1} of a {@link Job}.
 * The caller works too (worker index 0), so a pool of {@code n} threads starts {@code n - 1}
 * daemon workers (indices {@code 1 .. n-1}); units are handed out through an atomic counter.
 * A call publishes the job in fields; nothing is allocated per call, provided the job object itself
 * is kept and reused by the caller.
 *
 * <p>A finished worker may spin (with {@link Thread#onSpinWait}) for {@link #SPIN_NANOS} before it
 * parks, so that calls following each other closely find it awake (waking a parked thread costs tens
 * of microseconds). The default is not to spin: measured on a 2-core machine (docs/PERFORMANCE.md),
 * 300 µs of spinning gained ~5 % generation speed on a 1B model on a quiet machine but lost 10–20 % on
 * a small model (the spinning worker takes the core the JIT, sampling and output need) and up to half
 * when other processes loaded the cores. A call unparks only workers that have announced they are
 * about to park (a volatile flag, re-checked against the job counter before parking, so no wake-up
 * is lost).
 */
public final class OpPool implements AutoCloseable {

    /** Work split into independent units; {@code worker} indexes per-thread scratch. */
    public interface Job {
        /** Runs unit {@code unit} on the thread with index {@code worker} ({@code 0 <= worker < threads}). */
        void run(int unit, int worker);
    }

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();

    // Written by the caller before the volatile write of generation, read by workers after reading it.
    private Job job;
    private int units;

    /**
     * How long a worker spins for the next job before it parks: system property
     * {@code isthmus.pool.spinMicros} in µs, default 0 (parks at once).
     */
    static final long SPIN_NANOS = 1000L * Math.max(0, Long.getLong("isthmus.pool.spinMicros", 0));

    private volatile int generation;
    /** Bumped by {@link #quiesce()}: spinning workers that see it change park at once. */
    private volatile int hush;
    /** Per worker: true while it is parked or about to park (then a call must unpark it). */
    private final AtomicIntegerArray sleeping;
    private volatile Thread waiter;
    private volatile boolean closed;
    private volatile Throwable failure;

    /**
     * @param threads threads working on a call, the caller included
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public OpPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("an op pool needs at least one thread, not " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.sleeping = new AtomicIntegerArray(Math.max(1, threads - 1));
        for (int i = 0; i < workers.length; i++) {
            int index = i + 1;
            Thread t = new Thread(() -> work(index), "isthmus-ops-" + index);
            t.setDaemon(true);
            workers[i] = t;
        }
        for (Thread t : workers) {
            t.start();
        }
    }

    /** Threads working on a call, the caller included. */
    public int threads() {
        return threads;
    }

    /**
     * Runs every unit of {@code job} and returns when all are done. An exception thrown by a unit is
     * rethrown here (a worker's wrapped in an {@link IllegalStateException}).
     *
     * @throws IllegalStateException if the pool is closed
     */
    public synchronized void run(Job job, int units) {
        if (closed) {
            throw new IllegalStateException("the op pool is closed");
        }
        if (workers.length == 0 || units < 2) {
            for (int u = 0; u < units; u++) {
                job.run(u, 0);
            }
            return;
        }
        this.job = job;
        this.units = units;
        this.failure = null;
        next.set(0);
        running.set(workers.length);
        waiter = Thread.currentThread();
        generation = generation + 1; // publishes the job
        for (int i = 0; i < workers.length; i++) {
            if (sleeping.get(i) != 0) {
                LockSupport.unpark(workers[i]);
            }
        }
        Throwable mine = null;
        try {
            runUnits(0);
        } catch (Throwable t) {
            mine = t;
        }
        for (int spin = 0; running.get() != 0; spin++) {
            if (spin < 512) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
            }
        }
        this.job = null;
        Throwable theirs = failure;
        if (mine instanceof RuntimeException e) {
            throw e;
        }
        if (mine instanceof Error e) {
            throw e;
        }
        if (theirs != null) {
            throw new IllegalStateException("op worker failed: " + theirs, theirs);
        }
    }

    private void runUnits(int worker) {
        Job j = job;
        int n = units;
        for (int u; (u = next.getAndIncrement()) < n; ) {
            j.run(u, worker);
        }
    }

    /**
     * Asks idle workers to stop spinning and park now (the next {@link #run} wakes them): for a caller
     * about to run other threads' heavy work (a prefill GEMM on its own workers), which spinning
     * workers would slow down on a machine with no spare cores.
     */
    public void quiesce() {
        hush = hush + 1;
    }

    private void work(int index) {
        int seen = 0;
        long idleSince = System.nanoTime();
        int hushed = hush;
        while (true) {
            int g = generation;
            if (closed) {
                return;
            }
            if (g == seen) {
                if (System.nanoTime() - idleSince < SPIN_NANOS && hush == hushed) {
                    Thread.onSpinWait();
                    continue;
                }
                // announce, re-check (a call that published after our read sees the flag), park
                sleeping.set(index - 1, 1);
                if (generation == seen && !closed) {
                    LockSupport.park(this);
                }
                sleeping.set(index - 1, 0);
                continue;
            }
            seen = g;
            try {
                runUnits(index);
            } catch (Throwable t) {
                failure = t;
            }
            if (running.decrementAndGet() == 0) {
                LockSupport.unpark(waiter);
            }
            idleSince = System.nanoTime();
            hushed = hush;
        }
    }

    /** Stops the workers and waits for them. Idempotent. */
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
