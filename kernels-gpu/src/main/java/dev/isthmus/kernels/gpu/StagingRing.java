package dev.isthmus.kernels.gpu;

import dev.isthmus.nativebindings.cuda.CudaRuntime;
import java.lang.foreign.MemorySegment;

/**
 * Small host-to-device uploads without a synchronisation: a pinned host ring and a device ring of
 * the same size and offsets. {@link #reserve} hands out the next {@link #ALIGN}-aligned range; the
 * caller fills {@link #host()} there and calls {@link #copy}, which enqueues a
 * {@code cudaMemcpyAsync} of that range on the stream (to the device ring, or to any device address)
 * and returns at once.
 *
 * <p>The ring is cut into {@link #SEGMENTS} segments. When an upload leaves a segment, an event is
 * recorded on the stream after that upload's copy; before an upload enters a segment again (after
 * the ring has wrapped), the host waits for that segment's event, so pinned bytes are never
 * overwritten before the copies that read them have run. The device ring needs no such wait: its
 * writes are copies on the same stream, ordered after every kernel enqueued before them. In steady
 * decoding the events have long completed when they are waited on (the GPU would have to fall a whole
 * ring behind), so no upload blocks. An upload larger than the ring grows it (after a stream
 * synchronisation; rare).
 *
 * <p>Not thread-safe: the backend serialises its calls. Package-private; tested by
 * {@code StagingRingTest}.
 */
final class StagingRing implements AutoCloseable {
    /** Alignment of every reserved range (bytes). */
    static final int ALIGN = 256;
    /** Segments of the ring, each with its event. */
    static final int SEGMENTS = 8;

    private final MemorySegment stream;
    private long capacity;
    private long segmentBytes;
    private MemorySegment host = MemorySegment.NULL;
    private long device;
    private MemorySegment[] deviceViews;
    private final MemorySegment[] events = new MemorySegment[SEGMENTS];
    private final boolean[] pending = new boolean[SEGMENTS];
    private final boolean[] toRecord = new boolean[SEGMENTS];
    private long head;
    private int current = -1;   // segment of the last reserved byte; -1 when nothing is reserved
    private long staged;        // bytes handed out since the ring was (re)made, wrap waste included
    private int generation;     // incremented by every grow
    private long waits;         // event waits that were needed (for tests and logs)

    /**
     * A ring of {@code capacity} bytes (rounded up to a multiple of {@code SEGMENTS × ALIGN}).
     *
     * @param stream the stream the copies are enqueued on
     */
    StagingRing(MemorySegment stream, long capacity) {
        this.stream = stream;
        try {
            for (int i = 0; i < SEGMENTS; i++) {
                events[i] = CudaRuntime.cudaEventCreate();
            }
            allocate(capacity);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private void allocate(long bytes) {
        long unit = (long) SEGMENTS * ALIGN;
        long cap = (Math.max(bytes, unit) + unit - 1) / unit * unit;
        host = CudaRuntime.cudaMallocHost(cap);
        try {
            device = CudaRuntime.cudaMalloc(cap).address();
        } catch (RuntimeException | Error e) {
            CudaRuntime.cudaFreeHost(host);
            host = MemorySegment.NULL;
            throw e;
        }
        capacity = cap;
        segmentBytes = cap / SEGMENTS;
        deviceViews = new MemorySegment[(int) Math.min(Integer.MAX_VALUE, cap / ALIGN)];
        head = 0;
        current = -1;
        staged = 0;
        java.util.Arrays.fill(pending, false);
        java.util.Arrays.fill(toRecord, false);
    }

    /** The pinned host ring (fill a reserved range, then {@link #copy} it). */
    MemorySegment host() {
        return host;
    }

    long capacity() {
        return capacity;
    }

    /** Bytes handed out since the ring was last (re)made; with {@link #generation()} it dates an upload. */
    long staged() {
        return staged;
    }

    /** Changes whenever the ring is reallocated (every device address handed out before is then stale). */
    int generation() {
        return generation;
    }

    /** Event waits so far that found a segment still in use (0 in a ring deep enough for the load). */
    long waits() {
        return waits;
    }

    /**
     * Reserves {@code bytes} (at least 1) and returns the offset of the range in the host and device
     * rings. The host range may be written at once; {@link #copy} must follow before the next
     * reservation.
     */
    long reserve(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a staging reservation of " + bytes + " bytes");
        }
        long need = (bytes + ALIGN - 1) / ALIGN * ALIGN;
        if (need > capacity) {
            grow(need);
        }
        long start = head;
        boolean wrapped = false;
        if (start + need > capacity) {
            staged += capacity - start;   // the waste at the end counts as staged
            start = 0;
            wrapped = true;
        }
        int first = (int) (start / segmentBytes);
        int last = (int) ((start + need - 1) / segmentBytes);
        boolean leaving = current >= 0 && (wrapped || last != current);
        for (int s = first; s <= last; s++) {
            if (!wrapped && s == current) {
                continue;    // still filling the current segment
            }
            if (s == current) {
                // wrapped back into the segment being left: its latest copies have no event yet
                CudaRuntime.cudaEventRecord(events[s], stream);
                pending[s] = true;
                toRecord[s] = false;
            }
            if (pending[s]) {
                if (!CudaRuntime.cudaEventQuery(events[s])) {
                    waits++;
                    CudaRuntime.cudaEventSynchronize(events[s]);
                }
                pending[s] = false;
            }
        }
        if (leaving && !(wrapped && current >= first && current <= last)) {
            toRecord[current] = true;    // its copies so far get an event after this upload's copy
        }
        for (int s = first; s < last; s++) {
            toRecord[s] = true;          // left within this upload
        }
        current = last;
        head = start + need;
        staged += need;
        return start;
    }

    /** The device address of ring offset {@code offset} (as returned by {@link #reserve}), as a segment. */
    MemorySegment device(long offset) {
        int slot = (int) (offset / ALIGN);
        MemorySegment v = deviceViews[slot];
        if (v == null) {
            v = MemorySegment.ofAddress(device + (long) slot * ALIGN);
            deviceViews[slot] = v;
        }
        return v;
    }

    /**
     * Enqueues the copy of {@code bytes} at host offset {@code offset} to {@code dst} (the device ring's
     * own range when {@code dst} is null) and records the events of the segments left.
     */
    void copy(long offset, long bytes, MemorySegment dst) {
        if (offset < 0 || bytes <= 0 || offset + bytes > capacity) {
            throw new IndexOutOfBoundsException("staging copy of " + bytes + " bytes at " + offset + " in a ring of "
                    + capacity);
        }
        long to = dst == null ? device + offset : dst.address();
        CudaRuntime.cudaMemcpyAsync(to, host.address() + offset, bytes, CudaRuntime.cudaMemcpyHostToDevice, stream);
        for (int s = 0; s < SEGMENTS; s++) {
            if (toRecord[s]) {
                CudaRuntime.cudaEventRecord(events[s], stream);
                pending[s] = true;
                toRecord[s] = false;
            }
        }
    }

    /** Replaces the ring by one of at least {@code need × 2} bytes, after the stream has drained. */
    private void grow(long need) {
        CudaRuntime.cudaStreamSynchronize(stream);
        freeBuffers();
        generation++;
        allocate(Math.max(need * 2, capacity * 2));
    }

    private void freeBuffers() {
        if (host.address() != 0) {
            CudaRuntime.cudaFreeHost(host);
            host = MemorySegment.NULL;
        }
        if (device != 0) {
            CudaRuntime.cudaFree(MemorySegment.ofAddress(device));
            device = 0;
        }
    }

    /** Frees the rings and events (the caller has synchronised the stream). */
    @Override
    public void close() {
        RuntimeException first = null;
        try {
            freeBuffers();
        } catch (RuntimeException e) {
            first = e;
        }
        for (int i = 0; i < SEGMENTS; i++) {
            if (events[i] != null) {
                try {
                    CudaRuntime.cudaEventDestroy(events[i]);
                } catch (RuntimeException e) {
                    first = first == null ? e : first;
                }
                events[i] = null;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
