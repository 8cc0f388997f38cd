package dev.isthmus.memory.kv;

import java.lang.foreign.MemorySegment;

/**
 * Memory for a {@link KvBlockPool} that the pool does not allocate itself: typically device memory
 * owned by a compute backend (the CUDA backend's pool lives in {@code cudaMalloc} memory). The pool
 * keeps its free list, reference counts and block tables on the host as usual and asks the storage
 * only to copy a block (copy-on-write of a shared block) and to free the memory on close.
 *
 * <p>Storage that is not {@linkplain #hostAccessible() host-accessible} is never dereferenced by the
 * pool or by {@link KvSequence}: their host-side readers and writers ({@code readKey}, {@code writeKey},
 * {@code keySlot}, {@link KvBlockPool#segment()}, ...) throw {@link IllegalStateException} instead,
 * and only the backend that owns the memory reads it, through {@link KvBlockPool#deviceSegment()}
 * and the byte offsets the pool and sequences compute.
 */
public interface KvStorage {
    /**
     * The memory: at least {@link KvCacheConfig#poolBytes()} bytes, zeroed, its start aligned to
     * {@link KvCacheConfig#BLOCK_ALIGNMENT}. For device storage, a segment whose address is the device
     * pointer (never read on the host).
     */
    MemorySegment segment();

    /** Whether the host may read and write {@link #segment()} directly. */
    boolean hostAccessible();

    /** Copies {@code bytes} bytes from offset {@code from} to offset {@code to} of the storage (non-overlapping). */
    void copy(long from, long to, long bytes);

    /** Frees the memory. Called once, by {@link KvBlockPool#close()}. */
    void free();
}
