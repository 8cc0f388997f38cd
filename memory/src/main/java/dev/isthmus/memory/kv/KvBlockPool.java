package dev.isthmus.memory.kv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The off-heap block pool of the paged KV cache: one shared {@link Arena} holding
 * {@link KvCacheConfig#totalBlocks()} equal blocks, a free list and a reference count a block.
 *
 * <h2>Layout</h2>
 * A block belongs to one layer of one (or, when shared, several) sequence(s) and holds that
 * layer's keys and values for {@code T = tokensPerBlock} consecutive tokens. Inside a block, keys
 * come first, then values; each is {@code kvHeads} runs of {@code T} rows, a row being one token's
 * {@code headDim} elements encoded as the {@link KvType} ({@link KvCacheConfig#rowBytes(int)} bytes):
 * <pre>
 * pool segment:  | block 0 | block 1 | block 2 | ... | block N-1 |     (blockBytes each, 64-aligned)
 *
 * one block (for layer l, kvHeads = H, rowBytes = R):
 *   offset 0          K head 0: row t0 | row t1 | ... | row t(T-1)    (T*R bytes, contiguous)
 *   offset T*R        K head 1: row t0 | ... | row t(T-1)
 *   ...
 *   offset H*T*R      V head 0: row t0 | ... | row t(T-1)
 *   ...
 *   offset 2*H*T*R    unused tail, when layer l is smaller than the largest layer
 * </pre>
 * so {@code key(l, head h, token t in block b) = blockOffset(b) + (h*T + t)*R} and
 * {@code value(...) = blockOffset(b) + ((H + h)*T + t)*R}. Attention for one (layer, KV head)
 * reads {@code T*R} contiguous bytes a block, once for keys and once for values, and a sequence's
 * block table for that layer lists the blocks in token order. Blocks are per layer (rather than one
 * block holding every layer) so that a sliding-window layer releases its old blocks independently
 * of the full-attention layers, and so that layers of different shapes can share one pool.
 *
 * <h2>Ownership and threads</h2>
 * The pool is thread-safe: {@link #allocate}, {@link #retain}, {@link #release} and the counters
 * may be called from any thread at once (one lock guards the free list and reference counts).
 * Allocation is all-or-nothing: when too few blocks are free it throws
 * {@link KvCacheFullException} and changes nothing. A block returns to the free list when its
 * reference count drops to zero. The segment's bytes are not guarded: whoever holds a block
 * reads and writes it (see {@link KvSequence} for copy-on-write of shared blocks).
 * The memory is the pool's own off-heap arena, or external {@link KvStorage} (device memory: then
 * every host-side access refuses with {@link IllegalStateException}, see {@link #segment()}).
 * {@link #close()} frees the arena; any later access through a segment of this pool throws
 * {@link IllegalStateException}, and later allocation throws it too. Releasing after close is a
 * no-op, so sequences may be closed after their pool.
 */
public final class KvBlockPool implements AutoCloseable {
    private final KvCacheConfig config;
    private final Arena arena;          // null for external storage
    private final KvStorage storage;    // null for the pool's own host memory
    private final MemorySegment segment;
    private final long blockBytes;
    private final int total;
    private final int tokensPerBlock;
    private final long[] rowBytes;
    private final int[] kvHeads;

    // Guarded by "this".
    private final int[] freeStack;
    private int freeCount;
    private final int[] refCounts;
    private boolean closed;

    /** Allocates the pool's memory (zeroed, off-heap on the host) for {@code config}. */
    public KvBlockPool(KvCacheConfig config) {
        this(config, null);
    }

    /**
     * A pool over memory it does not allocate, e.g. device memory of a compute backend (see
     * {@link KvStorage}). The pool frees it through {@link KvStorage#free()} on {@link #close()}.
     *
     * @param storage at least {@link KvCacheConfig#poolBytes()} zeroed bytes
     * @throws IllegalArgumentException when the storage is too small or misaligned
     */
    public KvBlockPool(KvCacheConfig config, KvStorage storage) {
        this.config = Objects.requireNonNull(config, "config");
        this.blockBytes = config.blockBytes();
        this.total = config.totalBlocks();
        this.tokensPerBlock = config.tokensPerBlock();
        int layers = config.layerCount();
        this.rowBytes = new long[layers];
        this.kvHeads = new int[layers];
        for (int l = 0; l < layers; l++) {
            rowBytes[l] = config.rowBytes(l);
            kvHeads[l] = config.layer(l).kvHeads();
        }
        this.storage = storage;
        if (storage == null) {
            this.arena = Arena.ofShared();
            try {
                this.segment = arena.allocate(blockBytes * total, KvCacheConfig.BLOCK_ALIGNMENT);
            } catch (RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        } else {
            this.arena = null;
            this.segment = Objects.requireNonNull(storage.segment(), "storage.segment()");
            if (segment.byteSize() < blockBytes * total) {
                throw new IllegalArgumentException("KV storage of " + segment.byteSize() + " bytes for a pool of "
                        + blockBytes * total + " bytes");
            }
            if (segment.address() % KvCacheConfig.BLOCK_ALIGNMENT != 0) {
                throw new IllegalArgumentException("KV storage at 0x" + Long.toHexString(segment.address())
                        + " is not aligned to " + KvCacheConfig.BLOCK_ALIGNMENT + " bytes");
            }
        }
        this.freeStack = new int[total];
        // Lowest ids on top, so a fresh pool hands out 0, 1, 2, ...
        for (int i = 0; i < total; i++) {
            freeStack[i] = total - 1 - i;
        }
        this.freeCount = total;
        this.refCounts = new int[total];
    }

    /** The configuration. */
    public KvCacheConfig config() {
        return config;
    }

    /** Blocks in the pool. */
    public int totalBlocks() {
        return total;
    }

    /** Blocks on the free list now. */
    public synchronized int freeBlocks() {
        return freeCount;
    }

    /** Bytes of one block. */
    public long blockBytes() {
        return blockBytes;
    }

    /** Tokens a block holds. */
    public int tokensPerBlock() {
        return tokensPerBlock;
    }

    /** The reference count of {@code block}: 0 when free. */
    public synchronized int refCount(int block) {
        Objects.checkIndex(block, total);
        return refCounts[block];
    }

    /**
     * Takes {@code n} free blocks, each with reference count 1.
     *
     * @return the block ids
     * @throws KvCacheFullException  when fewer than {@code n} are free; nothing is taken
     * @throws IllegalStateException when the pool is closed
     */
    public synchronized int[] allocate(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be non-negative, got " + n);
        }
        ensureOpen();
        if (n > freeCount) {
            throw new KvCacheFullException(n, freeCount, total);
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            int b = freeStack[--freeCount];
            refCounts[b] = 1;
            ids[i] = b;
        }
        return ids;
    }

    /** Adds one reference to {@code block}, which must be allocated. */
    public synchronized void retain(int block) {
        ensureOpen();
        checkLive(block);
        refCounts[block]++;
    }

    /** Adds one reference to every id in {@code blocks} that is not negative (negative ids are skipped). */
    public synchronized void retainAll(int[] blocks, int from, int to) {
        ensureOpen();
        Objects.checkFromToIndex(from, to, blocks.length);
        for (int i = from; i < to; i++) {
            if (blocks[i] >= 0) {
                checkLive(blocks[i]);
            }
        }
        for (int i = from; i < to; i++) {
            if (blocks[i] >= 0) {
                refCounts[blocks[i]]++;
            }
        }
    }

    /** Drops one reference to {@code block}; at zero it is free again. No-op after {@link #close()}. */
    public synchronized void release(int block) {
        if (closed) {
            return;
        }
        checkLive(block);
        if (--refCounts[block] == 0) {
            freeStack[freeCount++] = block;
        }
    }

    /** {@link #release(int)} for every id in {@code blocks[from..to)} that is not negative. */
    public synchronized void releaseAll(int[] blocks, int from, int to) {
        if (closed) {
            return;
        }
        Objects.checkFromToIndex(from, to, blocks.length);
        for (int i = from; i < to; i++) {
            if (blocks[i] >= 0) {
                checkLive(blocks[i]);
            }
        }
        for (int i = from; i < to; i++) {
            int b = blocks[i];
            if (b >= 0 && --refCounts[b] == 0) {
                freeStack[freeCount++] = b;
            }
        }
    }

    /** Whether the pool's memory is host memory that {@link #segment()} and the sequences' readers may touch. */
    public boolean isHostAccessible() {
        return storage == null || storage.hostAccessible();
    }

    /**
     * The whole pool as one segment (for kernels that take a base pointer and offsets).
     *
     * @throws IllegalStateException when the pool's memory is not host-accessible (device memory):
     *     use {@link #deviceSegment()} from the backend that owns it
     */
    public MemorySegment segment() {
        if (!isHostAccessible()) {
            throw new IllegalStateException("this KV pool lives in device memory; the host cannot read or write it"
                    + " (only its backend's kernels can)");
        }
        return segment;
    }

    /**
     * The memory of a pool over {@link KvStorage} that is not host-accessible: a segment whose address
     * is the device pointer, for the owning backend to pass to its kernels. Never dereference it.
     *
     * @throws IllegalStateException for a host pool (use {@link #segment()}) or after {@link #close()}
     */
    public synchronized MemorySegment deviceSegment() {
        ensureOpen();
        if (isHostAccessible()) {
            throw new IllegalStateException("this KV pool lives in host memory: use segment()");
        }
        return segment;
    }

    /** Byte offset of {@code block} in {@link #segment()}. */
    public long blockOffset(int block) {
        Objects.checkIndex(block, total);
        return block * blockBytes;
    }

    /** The bytes of {@code block} (host pools only, see {@link #segment()}). */
    public MemorySegment block(int block) {
        return segment().asSlice(blockOffset(block), blockBytes);
    }

    /** Byte offset, inside a block of {@code layer}, of the key row of {@code kvHead} for token {@code tokenInBlock}. */
    public long keyOffsetInBlock(int layer, int kvHead, int tokenInBlock) {
        Objects.checkIndex(kvHead, kvHeads[layer]);
        Objects.checkIndex(tokenInBlock, tokensPerBlock);
        return ((long) kvHead * tokensPerBlock + tokenInBlock) * rowBytes[layer];
    }

    /** Byte offset, inside a block of {@code layer}, of the value row of {@code kvHead} for token {@code tokenInBlock}. */
    public long valueOffsetInBlock(int layer, int kvHead, int tokenInBlock) {
        Objects.checkIndex(kvHead, kvHeads[layer]);
        Objects.checkIndex(tokenInBlock, tokensPerBlock);
        return ((long) (kvHeads[layer] + kvHead) * tokensPerBlock + tokenInBlock) * rowBytes[layer];
    }

    /** Bytes of one row (one token, one KV head) of {@code layer}. */
    public long rowBytes(int layer) {
        return rowBytes[layer];
    }

    /** A new, empty sequence drawing blocks from this pool. */
    public KvSequence newSequence() {
        ensureOpen();
        return new KvSequence(this);
    }

    /** True until {@link #close()}. */
    public synchronized boolean isOpen() {
        return !closed;
    }

    /** Frees the memory. Idempotent. Later segment accesses throw {@link IllegalStateException}. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            if (arena != null) {
                arena.close();
            } else {
                storage.free();
            }
        }
    }

    /** Copies every byte of block {@code from} into block {@code to}. */
    void copyBlock(int from, int to) {
        if (storage != null) {
            storage.copy(blockOffset(from), blockOffset(to), blockBytes);
        } else {
            MemorySegment.copy(segment, blockOffset(from), segment, blockOffset(to), blockBytes);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("KV block pool is closed");
        }
    }

    private void checkLive(int block) {
        Objects.checkIndex(block, total);
        if (refCounts[block] <= 0) {
            throw new IllegalStateException("block " + block + " is not allocated");
        }
    }
}
