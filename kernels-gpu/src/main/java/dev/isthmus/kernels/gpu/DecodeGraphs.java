package dev.isthmus.kernels.gpu;

import dev.isthmus.memory.backend.StepMismatchException;
import dev.isthmus.nativebindings.cuda.CudaRuntime;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decode steps recorded once as CUDA graphs and replayed (see {@code Backend.beginStep}).
 *
 * <p>A step's per-step values (token ids, positions, block tables, the attention's position and
 * first live key) never travel as kernel arguments: every op of a step writes them into the step's
 * pinned <em>parameter block</em> at an offset that depends only on the order of the uploads, and
 * its kernel reads them from the same offset of the block's device copy. The first step of a key is
 * captured ({@code cudaStreamBeginCapture}: the ops' launches are recorded, not run); later steps of
 * the key only refill the parameter block (the ops check their arguments and compare a fingerprint
 * with the recorded one, and launch nothing). When the step ends ({@code argmax} or {@code read}),
 * the block is copied to the device with one {@code cudaMemcpyAsync} and the graph is launched: one
 * copy and one launch a token instead of a few hundred launches.
 *
 * <p>A replayed op that differs from the recording (another op, tensor, shape, RoPE table, or a block
 * table longer than the recorded room) throws {@link StepMismatchException} before anything of the
 * step has run; the backend forgets the recording, and the model runs the step again directly. A key
 * that mismatches {@link #MAX_MISMATCHES} times is not recorded again. At most {@link #MAX_GRAPHS}
 * recordings are kept (least recently used first out).
 *
 * <p>Not thread-safe: the backend serialises its calls.
 */
final class DecodeGraphs implements AutoCloseable {

    /** Recordings kept. */
    static final int MAX_GRAPHS = 8;
    /** Mismatches after which a key runs directly for good. */
    static final int MAX_MISMATCHES = 3;
    /** Initial bytes of a parameter block (doubled, for the next capture, when a step needs more). */
    static final long INITIAL_PARAM_BYTES = 64L << 10;
    /** Smallest room for a block table in a recorded step (entries). */
    static final int MIN_TABLE_ROOM = 64;
    private static final int ALIGN = 16;

    enum Mode { DIRECT, CAPTURE, REPLAY }

    /** One recorded step. */
    private static final class Entry {
        final Object key;
        final long paramBytes;
        MemorySegment host = MemorySegment.NULL;   // pinned
        MemorySegment device = MemorySegment.NULL;
        MemorySegment result = MemorySegment.NULL; // pinned, the step's host-bound result
        long resultBytes;
        MemorySegment exec = MemorySegment.NULL;
        long[] fingerprints = new long[0];
        int ops;
        int tableRoom;
        long lastUse;

        Entry(Object key, long paramBytes) {
            this.key = key;
            this.paramBytes = paramBytes;
        }
    }

    private final MemorySegment stream;
    private final boolean enabled;
    private final List<Entry> entries = new ArrayList<>();
    private final Map<Object, Integer> mismatches = new IdentityHashMap<>();
    private final Map<Object, Long> paramHints = new IdentityHashMap<>();
    private final Map<Object, Integer> tableHints = new IdentityHashMap<>();
    private Mode mode = Mode.DIRECT;
    private Entry current;
    private long cursor;
    private int op;
    private long[] recording = new long[1024];
    private long clock;
    private long captures;
    private long replays;

    DecodeGraphs(MemorySegment stream, boolean enabled) {
        this.stream = stream;
        this.enabled = enabled;
    }

    Mode mode() {
        return mode;
    }

    /** True inside a step that is being captured or replayed. */
    boolean active() {
        return mode != Mode.DIRECT;
    }

    /** Steps captured and replayed so far (for tests and logs). */
    long captures() {
        return captures;
    }

    long replays() {
        return replays;
    }

    /** Begins a step of {@code key}: a replay of its recording, a capture, or (disabled, or a key given up on) nothing. */
    void begin(Object key) {
        if (mode != Mode.DIRECT) {
            abort();
        }
        if (!enabled || key == null || mismatches.getOrDefault(key, 0) >= MAX_MISMATCHES) {
            return;
        }
        Entry e = find(key);
        clock++;
        if (e != null) {
            e.lastUse = clock;
            current = e;
            mode = Mode.REPLAY;
        } else {
            if (entries.size() >= MAX_GRAPHS) {
                Entry oldest = entries.get(0);
                for (Entry x : entries) {
                    if (x.lastUse < oldest.lastUse) {
                        oldest = x;
                    }
                }
                entries.remove(oldest);
                free(oldest);
            }
            e = new Entry(key, paramHints.getOrDefault(key, INITIAL_PARAM_BYTES));
            e.tableRoom = tableHints.getOrDefault(key, MIN_TABLE_ROOM);
            e.lastUse = clock;
            try {
                e.host = CudaRuntime.cudaMallocHost(e.paramBytes);
                e.device = CudaRuntime.cudaMalloc(e.paramBytes);
            } catch (RuntimeException | Error x) {
                free(e);
                throw x;
            }
            current = e;
            CudaRuntime.cudaStreamBeginCapture(stream, CudaRuntime.cudaStreamCaptureModeRelaxed);
            mode = Mode.CAPTURE;
        }
        cursor = 0;
        op = 0;
    }

    private Entry find(Object key) {
        for (Entry e : entries) {
            if (e.key == key) {
                return e;
            }
        }
        return null;
    }

    /**
     * An op's launch point. DIRECT and CAPTURE: false (launch; a capture records the fingerprint);
     * REPLAY: true (do not launch) once the fingerprint matches the recording.
     *
     * @throws StepMismatchException in a replay whose op differs from the recorded one
     */
    boolean skip(long fingerprint) {
        switch (mode) {
            case DIRECT:
                return false;
            case CAPTURE:
                if (op == recording.length) {
                    recording = java.util.Arrays.copyOf(recording, 2 * op);
                }
                recording[op++] = fingerprint;
                return false;
            default:
                if (op >= current.ops || current.fingerprints[op] != fingerprint) {
                    throw mismatch("op " + op + " of the step differs from the recorded step");
                }
                op++;
                return true;
        }
    }

    /** Room for a block table of {@code count} entries in this step (the recorded room, at least {@code count}). */
    int tableRoom(int count) {
        if (count > current.tableRoom) {
            int room = Math.max(count, 2 * current.tableRoom);
            tableHints.put(current.key, room);
            if (mode == Mode.REPLAY) {
                throw mismatch("a block table of " + count + " entries exceeds the recorded room of " + current.tableRoom);
            }
            current.tableRoom = room;
        }
        return current.tableRoom;
    }

    /** Reserves {@code bytes} of the parameter block; returns the offset (also the device copy's). */
    private long reserve(long bytes) {
        long off = cursor;
        long end = off + (bytes + ALIGN - 1) / ALIGN * ALIGN;
        if (end > current.paramBytes) {
            paramHints.put(current.key, Math.max(2 * current.paramBytes, 2 * end));
            throw mismatch("the step's parameters need more than " + current.paramBytes + " bytes");
        }
        cursor = end;
        return off;
    }

    private MemorySegment deviceAt(long off) {
        return MemorySegment.ofAddress(current.device.address() + off);
    }

    /** {@code values[0..count)}, then zeros up to {@code room} entries, in the parameter block; its device address. */
    MemorySegment ints(int[] values, int count, int room) {
        long off = reserve(4L * Math.max(1, room));
        MemorySegment h = current.host;
        MemorySegment.copy(values, 0, h, ValueLayout.JAVA_INT, off, count);
        if (room > count) {
            h.asSlice(off + 4L * count, 4L * (room - count)).fill((byte) 0);
        }
        return deviceAt(off);
    }

    /** Two ints in the parameter block; their device address. */
    MemorySegment pair(int a, int b) {
        long off = reserve(8);
        current.host.set(ValueLayout.JAVA_INT, off, a);
        current.host.set(ValueLayout.JAVA_INT, off + 4, b);
        return deviceAt(off);
    }

    /** {@code values[0..count)} in the parameter block; its device address. */
    MemorySegment floats(float[] values, int srcOffset, int count) {
        long off = reserve(4L * Math.max(1, count));
        MemorySegment.copy(values, srcOffset, current.host, ValueLayout.JAVA_FLOAT, off, count);
        return deviceAt(off);
    }

    /**
     * The pinned buffer the step's result is copied to (recorded in the graph): {@code bytes} long,
     * made at capture; a replay asking for another size mismatches.
     */
    MemorySegment result(long bytes) {
        if (mode == Mode.CAPTURE) {
            if (current.resultBytes != bytes) {
                if (current.result.address() != 0) {
                    CudaRuntime.cudaFreeHost(current.result);
                    current.result = MemorySegment.NULL;
                }
                current.result = CudaRuntime.cudaMallocHost(Math.max(4, bytes));
                current.resultBytes = bytes;
            }
        } else if (current.resultBytes != bytes) {
            throw mismatch("the step's result of " + bytes + " bytes differs from the recorded " + current.resultBytes);
        }
        return current.result;
    }

    /**
     * Ends the step (after its last op, whose result goes to {@link #result}): a capture is
     * instantiated; the parameter block is copied to the device and the graph launched; waits for it.
     * Returns the result buffer.
     */
    MemorySegment finish() {
        Entry e = current;
        try {
            if (mode == Mode.CAPTURE) {
                MemorySegment graph = CudaRuntime.cudaStreamEndCapture(stream);
                mode = Mode.DIRECT;
                try {
                    e.exec = CudaRuntime.cudaGraphInstantiate(graph);
                } finally {
                    CudaRuntime.cudaGraphDestroy(graph);
                }
                e.fingerprints = java.util.Arrays.copyOf(recording, op);
                e.ops = op;
                entries.add(e);
                captures++;
            } else {
                if (op != e.ops) {
                    throw mismatch("the step ended after " + op + " ops, the recorded one after " + e.ops);
                }
                replays++;
            }
            mode = Mode.DIRECT;
            if (cursor > 0) {
                CudaRuntime.cudaMemcpyAsync(e.device.address(), e.host.address(), cursor,
                        CudaRuntime.cudaMemcpyHostToDevice, stream);
            }
            CudaRuntime.cudaGraphLaunch(e.exec, stream);
            CudaRuntime.cudaStreamSynchronize(stream);
            return e.result;
        } catch (RuntimeException | Error x) {
            abort();
            throw x;
        } finally {
            current = null;
            mode = Mode.DIRECT;
        }
    }

    private StepMismatchException mismatch(String why) {
        if (mode == Mode.REPLAY) {
            mismatches.merge(current.key, 1, Integer::sum);   // a capture that ran out of room is not the key's fault
        }
        return new StepMismatchException(why);
    }

    /** Leaves the step without running it; the key's recording is forgotten. */
    void abort() {
        Entry e = current;
        Mode m = mode;
        mode = Mode.DIRECT;
        current = null;
        if (e == null) {
            return;
        }
        RuntimeException first = null;
        if (m == Mode.CAPTURE) {
            try {
                MemorySegment graph = CudaRuntime.cudaStreamEndCapture(stream);
                if (graph.address() != 0) {
                    CudaRuntime.cudaGraphDestroy(graph);
                }
            } catch (RuntimeException x) {
                first = x;   // an invalidated capture: ended anyway
            }
            CudaRuntime.cudaGetLastError();   // a failed capture leaves a sticky-free error behind
        }
        entries.remove(e);
        try {
            free(e);
        } catch (RuntimeException x) {
            first = first == null ? x : first;
        }
        if (first != null && !(first instanceof dev.isthmus.nativebindings.cuda.CudaException)) {
            throw first;
        }
    }

    private static void free(Entry e) {
        if (e.exec.address() != 0) {
            CudaRuntime.cudaGraphExecDestroy(e.exec);
            e.exec = MemorySegment.NULL;
        }
        if (e.host.address() != 0) {
            CudaRuntime.cudaFreeHost(e.host);
            e.host = MemorySegment.NULL;
        }
        if (e.result.address() != 0) {
            CudaRuntime.cudaFreeHost(e.result);
            e.result = MemorySegment.NULL;
        }
        if (e.device.address() != 0) {
            CudaRuntime.cudaFree(e.device);
            e.device = MemorySegment.NULL;
        }
    }

    /** Frees every recording (the caller has synchronised the stream). */
    @Override
    public void close() {
        if (mode != Mode.DIRECT) {
            abort();
        }
        RuntimeException first = null;
        for (Entry e : entries) {
            try {
                free(e);
            } catch (RuntimeException x) {
                first = first == null ? x : first;
            }
        }
        entries.clear();
        if (first != null) {
            throw first;
        }
    }
}
