package dev.isthmus.memory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A whole file mapped read-only into memory, owned by a shared {@link Arena}.
 *
 * <p>Opening maps the file once; slices of {@link #segment()} are zero-copy views of its bytes.
 * {@link #close()} unmaps it: every segment derived from it becomes inaccessible, and any later
 * access throws {@link IllegalStateException} instead of touching unmapped memory. Closing is
 * idempotent and may happen from any thread. Files of any size (beyond 2 GiB and 4 GiB) are
 * supported: every offset is a {@code long}.
 */
public final class MappedFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;

    private MappedFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Maps {@code path} read-only.
     *
     * @throws IOException when the file cannot be opened or mapped
     */
    public static MappedFile open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0
                    ? arena.allocate(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new MappedFile(path, arena, seg.asReadOnly());
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The mapped file's path, as given to {@link #open}. */
    public Path path() {
        return path;
    }

    /** The file's size in bytes. */
    public long size() {
        return segment.byteSize();
    }

    /** The whole mapping, read-only. Valid until {@link #close()}. */
    public MemorySegment segment() {
        return segment;
    }

    /** A zero-copy, read-only view of {@code length} bytes at {@code offset}. */
    public MemorySegment slice(long offset, long length) {
        return segment.asSlice(offset, length);
    }

    /** True until {@link #close()} has been called. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /** Unmaps the file. Later accesses through any derived segment throw {@link IllegalStateException}. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "MappedFile[" + path + ", " + size() + " bytes" + (isOpen() ? "" : ", closed") + "]";
    }
}
