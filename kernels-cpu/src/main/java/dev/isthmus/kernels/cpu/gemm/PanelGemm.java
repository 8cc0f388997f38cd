package dev.isthmus.kernels.cpu.gemm;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.nativebindings.dnnl.DnnlDataType;
import dev.isthmus.nativebindings.dnnl.DnnlLibrary;
import dev.isthmus.nativebindings.dnnl.DnnlMatmul;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The panel GEMM behind {@link Gemm.Path#ONEDNN_PANELS} and {@link Gemm.Path#VECTOR_GEMM}: the
 * weight matrix is cut into panels of {@code P} rows, each panel is decoded to floats
 * ({@link PanelDequant}) into a per-thread scratch buffer sized to stay in L2, and multiplied with
 * all of X, either by oneDNN (f32, one single-threaded OpenMP team per worker) or by
 * {@link PanelKernel}. Panels are handed out dynamically to a fixed set of worker threads.
 *
 * <p>Workers are daemon threads started on the first call. The calling thread waits (it does not
 * compute, so that its own OpenMP setting, used by the direct oneDNN path, is left alone). Scratch
 * buffers belong to the workers and only grow; in steady state a call allocates nothing. Calls are
 * serialised (one GEMM at a time uses all workers).
 */
final class PanelGemm implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(PanelGemm.class.getName());
    /** Idle oneDNN primitives a worker keeps (shapes {@code (m, k, p)}). */
    private static final int PRIMITIVES_PER_WORKER = 16;
    /** The narrowest oneDNN panel, whatever the byte budget. */
    static final int ONEDNN_MIN_ROWS = 24;

    private final int threads;
    private final int panelBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private Worker[] workers;
    private volatile boolean closed;

    // the job, written by the caller under the lock before the generation is bumped
    private boolean useOnednn;
    private GgmlType type;
    private MemorySegment w;
    private int m;
    private int k;
    private int n;
    private int rowsPerPanel;
    private int panels;
    private MemorySegment x;
    private MemorySegment y;
    private float[] xArray = new float[0];
    private final AtomicInteger nextPanel = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private volatile int generation;
    private volatile Thread caller;
    private volatile Throwable failure;

    PanelGemm(int threads, int panelBytes) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1: " + threads);
        }
        if (panelBytes < 1024) {
            throw new IllegalArgumentException("panelBytes must be >= 1024: " + panelBytes);
        }
        this.threads = threads;
        this.panelBytes = panelBytes;
    }

    int threads() {
        return threads;
    }

    /**
     * Weight rows per panel for a reduction length k: as many f32 rows as fit {@code panelBytes}, at
     * most {@code n / (2 * threads)} (two panels per thread at least), a multiple of 24 from 24 rows
     * (3-row register tiles, 8-float oneDNN blocks), else of 3; never below 3 rows unless n is, nor
     * below {@link #ONEDNN_MIN_ROWS} for oneDNN (narrower oneDNN calls were twice as slow at k = 8192,
     * where a 256 KiB panel is 6 rows).
     */
    int rowsPerPanel(int k, int n, boolean onednn) {
        int r = (int) Math.max(1, panelBytes / (4L * Math.max(1, k)));
        if (onednn) {
            r = Math.max(r, ONEDNN_MIN_ROWS);
        }
        int perThread = (n + 2 * threads - 1) / (2 * threads);
        r = Math.min(r, Math.max(3, perThread));
        r = r >= 24 ? r / 24 * 24 : Math.max(3, r / 3 * 3);
        return Math.max(1, Math.min(r, n));
    }

    /** Y = X·Wᵀ; arguments validated by {@link Gemm}; x native when {@code onednn}. */
    void gemm(boolean onednn, GgmlType type, MemorySegment w, int m, int k, int n, MemorySegment x, MemorySegment y) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("Gemm is closed");
            }
            if (workers == null) {
                start();
            }
            this.useOnednn = onednn;
            this.type = type;
            this.w = w;
            this.m = m;
            this.k = k;
            this.n = n;
            this.x = x;
            this.y = y;
            this.rowsPerPanel = rowsPerPanel(k, n, onednn);
            this.panels = (n + rowsPerPanel - 1) / rowsPerPanel;
            if (!onednn) {
                long len = (long) m * k;
                if (xArray.length < len) {
                    xArray = new float[(int) len];
                }
                MemorySegment.copy(x, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, xArray, 0, (int) len);
            }
            failure = null;
            nextPanel.set(0);
            running.set(workers.length);
            caller = Thread.currentThread();
            generation++;
            for (Worker wk : workers) {
                LockSupport.unpark(wk.thread);
            }
            int spins = 0;
            while (running.get() != 0) {
                if (++spins < 2000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            this.w = null;
            this.x = null;
            this.y = null;
            Throwable f = failure;
            if (f != null) {
                failure = null;
                if (f instanceof RuntimeException re) {
                    throw re;
                }
                if (f instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException(f);
            }
        } finally {
            lock.unlock();
        }
    }

    private void start() {
        workers = new Worker[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Worker(i);
        }
        for (Worker wk : workers) {
            wk.thread.start();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (workers != null) {
                generation++;
                for (Worker wk : workers) {
                    LockSupport.unpark(wk.thread);
                }
                for (Worker wk : workers) {
                    try {
                        wk.thread.join(10_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@code omp_set_num_threads} of the OpenMP runtime oneDNN loaded, or null. */
    private static MethodHandle ompSetNumThreads() {
        try {
            if (!DnnlLibrary.availability().available()) {
                return null;
            }
            return DnnlLibrary.require().downcall("omp_set_num_threads", FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.INFO, "no omp_set_num_threads in oneDNN's libraries; panel workers use "
                    + "oneDNN's default thread count: " + e);
            return null;
        }
    }

    private final class Worker implements Runnable {
        final Thread thread;
        private int seen;
        private byte[] rowBuf = new byte[0];
        private float[] panel = new float[0];
        private float[] acc = new float[0];
        private Arena arena;
        private MemorySegment nPanel = MemorySegment.NULL;
        private MemorySegment nOut = MemorySegment.NULL;
        private final DnnlMatmul[] prims = new DnnlMatmul[PRIMITIVES_PER_WORKER];
        private int nextEvict;
        private boolean ompSet;

        Worker(int index) {
            thread = new Thread(this, "isthmus-gemm-" + index);
            thread.setDaemon(true);
            seen = generation;
        }

        @Override
        public void run() {
            try {
                while (true) {
                    int spins = 0;
                    while (generation == seen) {
                        if (++spins < 2000) {
                            Thread.onSpinWait();
                        } else {
                            LockSupport.park(PanelGemm.this);
                        }
                    }
                    seen = generation;
                    if (closed) {
                        return;
                    }
                    try {
                        int p;
                        while ((p = nextPanel.getAndIncrement()) < panels) {
                            panel(p);
                        }
                    } catch (Throwable t) {
                        failure = t;
                        nextPanel.set(Integer.MAX_VALUE / 2);
                    }
                    if (running.decrementAndGet() == 0) {
                        LockSupport.unpark(caller);
                    }
                }
            } finally {
                for (DnnlMatmul mm : prims) {
                    if (mm != null) {
                        mm.close();
                    }
                }
                if (arena != null) {
                    arena.close();
                }
            }
        }

        private void panel(int index) {
            int row0 = index * rowsPerPanel;
            int p = Math.min(rowsPerPanel, n - row0);
            int rb = (int) type.rowSize(k);
            if (rowBuf.length < rb) {
                rowBuf = new byte[rb];
            }
            int len = p * k;
            if (panel.length < len) {
                panel = new float[len];
            }
            if (useOnednn) {
                onednn(row0, p, len);
            } else {
                PanelDequant.rows(type, w, row0, p, k, rowBuf, panel, null);
                if (acc.length < m * p) {
                    acc = new float[m * p];
                }
                PanelKernel.panel(xArray, m, k, panel, p, acc);
                for (int i = 0; i < m; i++) {
                    MemorySegment.copy(acc, i * p, y, ValueLayout.JAVA_FLOAT_UNALIGNED, 4L * ((long) i * n + row0), p);
                }
            }
        }

        private void onednn(int row0, int p, int len) {
            if (!ompSet) {
                ompSet = true;
                MethodHandle set = ompSetNumThreads();
                if (set != null) {
                    try {
                        set.invokeExact(1);
                    } catch (Throwable t) {
                        LOG.log(System.Logger.Level.INFO, "omp_set_num_threads(1) failed: " + t);
                    }
                }
            }
            if (nPanel.byteSize() < 4L * len || nOut.byteSize() < 4L * m * p) {
                if (arena != null) {
                    arena.close();
                }
                arena = Arena.ofShared();
                nPanel = arena.allocate(Math.max(nPanel.byteSize(), 4L * len), 64);
                nOut = arena.allocate(Math.max(nOut.byteSize(), 4L * m * p), 64);
            }
            PanelDequant.rows(type, w, row0, p, k, rowBuf, panel, nPanel);
            if (!PanelDequant.writesSegment(type)) {
                MemorySegment.copy(panel, 0, nPanel, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, len);
            }
            primitive(m, k, p).execute(x, nPanel, nOut);
            for (int i = 0; i < m; i++) {
                MemorySegment.copy(nOut, 4L * i * p, y, 4L * ((long) i * n + row0), 4L * p);
            }
        }

        private DnnlMatmul primitive(int m, int k, int p) {
            for (DnnlMatmul mm : prims) {
                if (mm != null && mm.m() == m && mm.k() == k && mm.n() == p) {
                    return mm;
                }
            }
            DnnlMatmul mm = DnnlMatmul.create(m, k, p, DnnlDataType.F32, DnnlMatmul.WeightsLayout.TRANSPOSED);
            int slot = nextEvict;
            nextEvict = (nextEvict + 1) % prims.length;
            if (prims[slot] != null) {
                prims[slot].close();
            }
            prims[slot] = mm;
            return mm;
        }
    }
}
