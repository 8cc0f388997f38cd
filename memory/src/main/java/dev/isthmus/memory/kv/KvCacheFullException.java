package dev.isthmus.memory.kv;

/**
 * Thrown when the {@link KvBlockPool} has fewer free blocks than a request needs. The request
 * took nothing: the pool and the requesting sequence are as they were before it.
 */
public final class KvCacheFullException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int needed;
    private final int free;
    private final int total;

    /** An exception for a request of {@code needed} blocks when {@code free} of {@code total} are free. */
    public KvCacheFullException(int needed, int free, int total) {
        super("KV cache full: " + needed + " blocks needed, " + free + " free, " + total + " total");
        this.needed = needed;
        this.free = free;
        this.total = total;
    }

    /** Blocks the failed request needed. */
    public int needed() {
        return needed;
    }

    /** Blocks free when the request failed. */
    public int free() {
        return free;
    }

    /** Blocks in the pool. */
    public int total() {
        return total;
    }
}
