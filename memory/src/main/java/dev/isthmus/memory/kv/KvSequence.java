package dev.isthmus.memory.kv;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One sequence's view of the paged KV cache: a block table a layer, mapping the sequence's
 * tokens to blocks of a {@link KvBlockPool}.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * try (KvSequence seq = pool.newSequence()) {
 *     int first = seq.reserve(prompt.length);          // blocks for tokens [first, first+n), every layer
 *     for (layer, token, head) seq.writeKey(...);      // or kernels write at keyOffset(...)
 *     ... attention reads blockTable(layer) ...
 *     seq.reserve(1);                                 // each decode step
 * }
 * }</pre>
 * {@link #reserve(int)} is the only call that takes blocks: it extends {@link #length()} and
 * allocates, atomically across all layers, every block the new tokens need (or throws
 * {@link KvCacheFullException} and leaves the sequence's tokens and the pool's allocations as they were).
 *
 * <h2>Block tables</h2>
 * Logical block {@code i} of every layer covers tokens {@code [i*T, (i+1)*T)}. Each layer has its
 * own table of physical block ids ({@link #blockTable(int)}), because a block holds one layer (see
 * {@link KvBlockPool}). A sliding-window layer of window {@code W} lets go of a block once all its
 * tokens are older than the window of every query still to come: when {@code reserve} is called at
 * length {@code L}, the next query is token {@code L}, which reads keys from {@code L-W+1}; blocks
 * wholly before that are released and their table entries become {@code -1}. Full-attention layers
 * keep every block. Reading a token whose block was released throws {@link IllegalArgumentException}.
 *
 * <h2>Sharing</h2>
 * {@link #fork(int)} makes a sequence that shares this one's first tokens: the blocks are not
 * copied, their reference counts are raised. Shared blocks are read-only for both sequences. When
 * a sequence reserves tokens inside a shared, partially filled last block, it first copies that
 * block to a fresh one (copy-on-write), so the other sequence never sees its writes. Writing a
 * token of a block still shared throws {@link IllegalStateException}. Blocks return to the pool
 * when the last sequence holding them is closed.
 *
 * <h2>Threads</h2>
 * A sequence is not thread-safe: use it from one thread at a time (handing it between threads
 * with the usual happens-before, e.g. through an executor). Different sequences of one pool may
 * be used on different threads at once; the pool itself is thread-safe.
 */
public final class KvSequence implements AutoCloseable {
    private final KvBlockPool pool;
    private final KvCacheConfig config;
    private final KvType type;
    private final int tokensPerBlock;
    private final int layers;

    private int length;
    private int blocks;            // logical blocks: ceil(length / T)
    private int[][] tables;        // [layer][logical block] -> physical block id, -1 once released
    private boolean[][] owned;     // [layer][logical block] -> known to be held by this sequence only
    private final int[] releasedBelow; // [layer] -> logical blocks below this index are released
    private boolean closed;

    KvSequence(KvBlockPool pool) {
        this.pool = pool;
        this.config = pool.config();
        this.type = config.type();
        this.tokensPerBlock = config.tokensPerBlock();
        this.layers = config.layerCount();
        this.tables = new int[layers][4];
        this.owned = new boolean[layers][4];
        this.releasedBelow = new int[layers];
    }

    /** The pool this sequence draws from. */
    public KvBlockPool pool() {
        return pool;
    }

    /** Tokens reserved so far; also the position of the next token to reserve. */
    public int length() {
        return length;
    }

    /** Logical blocks of every layer's table: {@code ceil(length / tokensPerBlock)}. */
    public int blockCount() {
        return blocks;
    }

    /**
     * Reserves room for the next {@code n} tokens in every layer: tokens {@code [length, length+n)}.
     * First releases sliding-window blocks no query from {@code length} on can read, then takes,
     * in one all-or-nothing allocation, the new blocks of every layer plus a private copy of any
     * shared, partially filled last block.
     *
     * @return the position of the first reserved token (the old length)
     * @throws KvCacheFullException  when the pool lacks the blocks; the length, the table entries of
     *                               live tokens and the pool's other allocations are unchanged
     * @throws IllegalStateException when this sequence or the pool is closed
     */
    public int reserve(int n) {
        ensureOpen();
        if (n < 0) {
            throw new IllegalArgumentException("n must be non-negative, got " + n);
        }
        if (n == 0) {
            return length;
        }
        if ((long) length + n > Integer.MAX_VALUE - tokensPerBlock) {
            throw new IllegalArgumentException("n too large: length " + length + " + " + n + " overflows");
        }
        releaseExpired(length);
        int newLength = length + n;
        int newBlocks = ceilDiv(newLength, tokensPerBlock);
        int added = newBlocks - blocks;
        int partial = length % tokensPerBlock != 0 ? blocks - 1 : -1;
        boolean[] copy = new boolean[layers];
        int copies = 0;
        if (partial >= 0) {
            for (int l = 0; l < layers; l++) {
                if (!owned[l][partial]) {
                    if (pool.refCount(tables[l][partial]) == 1) {
                        owned[l][partial] = true; // the other holders have gone
                    } else {
                        copy[l] = true;
                        copies++;
                    }
                }
            }
        }
        long need = (long) added * layers + copies;
        if (need > Integer.MAX_VALUE) {
            throw new KvCacheFullException(Integer.MAX_VALUE, pool.freeBlocks(), pool.totalBlocks());
        }
        int[] ids = pool.allocate((int) need);
        ensureCapacity(newBlocks);
        int next = 0;
        int[] dropped = new int[copies];
        int d = 0;
        for (int l = 0; l < layers; l++) {
            if (copy[l]) {
                int fresh = ids[next++];
                int shared = tables[l][partial];
                pool.copyBlock(shared, fresh);
                tables[l][partial] = fresh;
                owned[l][partial] = true;
                dropped[d++] = shared;
            }
            for (int b = blocks; b < newBlocks; b++) {
                tables[l][b] = ids[next++];
                owned[l][b] = true;
            }
        }
        pool.releaseAll(dropped, 0, d);
        int first = length;
        length = newLength;
        blocks = newBlocks;
        return first;
    }

    /**
     * A new sequence sharing this one's first {@code prefixLength} tokens (every layer). No bytes
     * are copied; the shared blocks become read-only in both sequences until copy-on-write or
     * until one of them is closed. Blocks a sliding-window layer of the new sequence can no longer
     * read are not shared.
     *
     * @throws IllegalArgumentException when {@code prefixLength} is not in {@code [0, length()]}
     * @throws IllegalStateException    when a sliding-window layer already released a block that a
     *                                  query at {@code prefixLength} would read
     */
    public KvSequence fork(int prefixLength) {
        ensureOpen();
        if (prefixLength < 0 || prefixLength > length) {
            throw new IllegalArgumentException("prefixLength must be in [0, " + length + "], got " + prefixLength);
        }
        int nb = ceilDiv(prefixLength, tokensPerBlock);
        int[][] childTables = new int[layers][];
        int[] firstKept = new int[layers];
        int[] flat = new int[layers * nb];
        for (int l = 0; l < layers; l++) {
            int keepFrom = firstNeededBlock(l, prefixLength);
            for (int b = keepFrom; b < nb; b++) {
                if (tables[l][b] < 0) {
                    throw new IllegalStateException("layer " + l + " already released block " + b
                            + ", which a fork at " + prefixLength + " still needs");
                }
            }
            int[] t = new int[Math.max(4, nb)];
            Arrays.fill(t, 0, Math.min(keepFrom, nb), -1);
            System.arraycopy(tables[l], Math.min(keepFrom, nb), t, Math.min(keepFrom, nb), nb - Math.min(keepFrom, nb));
            childTables[l] = t;
            firstKept[l] = Math.min(keepFrom, nb);
            System.arraycopy(t, 0, flat, l * nb, nb);
        }
        pool.retainAll(flat, 0, flat.length);
        KvSequence child = new KvSequence(pool);
        child.tables = childTables;
        child.owned = new boolean[layers][childTables[0].length];
        child.length = prefixLength;
        child.blocks = nb;
        System.arraycopy(firstKept, 0, child.releasedBelow, 0, layers);
        for (int l = 0; l < layers; l++) {
            Arrays.fill(owned[l], 0, nb, false);
        }
        return child;
    }

    /** {@link #fork(int)} of the whole sequence. */
    public KvSequence fork() {
        return fork(length);
    }

    /** A copy of {@code layer}'s block table: {@link #blockCount()} physical block ids, {@code -1} for released blocks. */
    public int[] blockTable(int layer) {
        Objects.checkIndex(layer, layers);
        return Arrays.copyOf(tables[layer], blocks);
    }

    /** The physical block of logical block {@code logicalBlock} of {@code layer}, {@code -1} if released. */
    public int block(int layer, int logicalBlock) {
        Objects.checkIndex(layer, layers);
        Objects.checkIndex(logicalBlock, blocks);
        return tables[layer][logicalBlock];
    }

    /** The first token of {@code layer} still readable (0 for full-attention layers). */
    public int firstLiveToken(int layer) {
        Objects.checkIndex(layer, layers);
        return Math.min(length, releasedBelow[layer] * tokensPerBlock);
    }

    /** Blocks this sequence holds now, over all layers (shared ones included). */
    public int heldBlocks() {
        int n = 0;
        for (int l = 0; l < layers; l++) {
            for (int b = 0; b < blocks; b++) {
                if (tables[l][b] >= 0) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Byte offset in {@link KvBlockPool#segment()} of the key row of ({@code layer}, {@code token}, {@code kvHead}). */
    public long keyOffset(int layer, int token, int kvHead) {
        int block = physicalBlock(layer, token);
        return pool.blockOffset(block) + pool.keyOffsetInBlock(layer, kvHead, token % tokensPerBlock);
    }

    /** Byte offset in {@link KvBlockPool#segment()} of the value row of ({@code layer}, {@code token}, {@code kvHead}). */
    public long valueOffset(int layer, int token, int kvHead) {
        int block = physicalBlock(layer, token);
        return pool.blockOffset(block) + pool.valueOffsetInBlock(layer, kvHead, token % tokensPerBlock);
    }

    /** The key row of ({@code layer}, {@code token}, {@code kvHead}), read-only. */
    public MemorySegment keySlot(int layer, int token, int kvHead) {
        return pool.segment().asSlice(keyOffset(layer, token, kvHead), pool.rowBytes(layer)).asReadOnly();
    }

    /** The value row of ({@code layer}, {@code token}, {@code kvHead}), read-only. */
    public MemorySegment valueSlot(int layer, int token, int kvHead) {
        return pool.segment().asSlice(valueOffset(layer, token, kvHead), pool.rowBytes(layer)).asReadOnly();
    }

    /**
     * The key row of ({@code layer}, {@code token}, {@code kvHead}), writable.
     *
     * @throws IllegalStateException when the token's block is shared with another sequence
     */
    public MemorySegment keySlotForWrite(int layer, int token, int kvHead) {
        ensureWritable(layer, token);
        return pool.segment().asSlice(keyOffset(layer, token, kvHead), pool.rowBytes(layer));
    }

    /**
     * The value row of ({@code layer}, {@code token}, {@code kvHead}), writable.
     *
     * @throws IllegalStateException when the token's block is shared with another sequence
     */
    public MemorySegment valueSlotForWrite(int layer, int token, int kvHead) {
        ensureWritable(layer, token);
        return pool.segment().asSlice(valueOffset(layer, token, kvHead), pool.rowBytes(layer));
    }

    /** Encodes {@code headDim} floats from {@code src[off..]} as the key of ({@code layer}, {@code token}, {@code kvHead}). */
    public void writeKey(int layer, int token, int kvHead, float[] src, int off) {
        ensureWritable(layer, token);
        KvCodec.encode(type, src, off, headDim(layer), pool.segment(), keyOffset(layer, token, kvHead));
    }

    /** Encodes {@code headDim} floats from {@code src[off..]} as the value of ({@code layer}, {@code token}, {@code kvHead}). */
    public void writeValue(int layer, int token, int kvHead, float[] src, int off) {
        ensureWritable(layer, token);
        KvCodec.encode(type, src, off, headDim(layer), pool.segment(), valueOffset(layer, token, kvHead));
    }

    /** Decodes the key of ({@code layer}, {@code token}, {@code kvHead}) into {@code dst[off..off+headDim)}. */
    public void readKey(int layer, int token, int kvHead, float[] dst, int off) {
        KvCodec.decode(type, pool.segment(), keyOffset(layer, token, kvHead), dst, off, headDim(layer));
    }

    /** Decodes the value of ({@code layer}, {@code token}, {@code kvHead}) into {@code dst[off..off+headDim)}. */
    public void readValue(int layer, int token, int kvHead, float[] dst, int off) {
        KvCodec.decode(type, pool.segment(), valueOffset(layer, token, kvHead), dst, off, headDim(layer));
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Returns every held block to the pool (dropping one reference each). Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        int[] flat = new int[layers * blocks];
        for (int l = 0; l < layers; l++) {
            System.arraycopy(tables[l], 0, flat, l * blocks, blocks);
        }
        pool.releaseAll(flat, 0, flat.length);
        length = 0;
        blocks = 0;
    }

    private void releaseExpired(int nextQuery) {
        for (int l = 0; l < layers; l++) {
            int keep = firstNeededBlock(l, nextQuery);
            if (keep > releasedBelow[l]) {
                pool.releaseAll(tables[l], releasedBelow[l], keep);
                Arrays.fill(tables[l], releasedBelow[l], keep, -1);
                releasedBelow[l] = keep;
            }
        }
    }

    /** The first logical block a query at {@code query} reads in {@code layer}. */
    private int firstNeededBlock(int layer, int query) {
        KvCacheConfig.LayerSpec spec = config.layer(layer);
        if (!spec.isSliding()) {
            return 0;
        }
        int firstToken = Math.max(0, query - spec.window() + 1);
        return firstToken / tokensPerBlock;
    }

    private int physicalBlock(int layer, int token) {
        ensureOpen();
        Objects.checkIndex(layer, layers);
        Objects.checkIndex(token, length);
        int block = tables[layer][token / tokensPerBlock];
        if (block < 0) {
            throw new IllegalArgumentException("token " + token + " has left the sliding window of layer " + layer
                    + " (its block was released)");
        }
        return block;
    }

    /**
     * Checks that a kernel may write the keys and values of {@code token} in {@code layer}: the
     * token is reserved, its block is live and not shared with another sequence (for backends that
     * write through {@link #keyOffset}/{@link #valueOffset} rather than {@link #writeKey}).
     *
     * @throws IllegalStateException    when the block is shared (read-only) or the sequence is closed
     * @throws IllegalArgumentException when the token's block was released (sliding window)
     * @throws IndexOutOfBoundsException when the token is not reserved
     */
    public void requireWritable(int layer, int token) {
        ensureWritable(layer, token);
    }

    private void ensureWritable(int layer, int token) {
        int block = physicalBlock(layer, token);
        int logical = token / tokensPerBlock;
        if (!owned[layer][logical]) {
            if (pool.refCount(block) == 1) {
                owned[layer][logical] = true;
            } else {
                throw new IllegalStateException("token " + token + " of layer " + layer
                        + " lies in a block shared with another sequence; shared prefixes are read-only");
            }
        }
    }

    private int headDim(int layer) {
        return config.layer(layer).headDim();
    }

    private void ensureCapacity(int nBlocks) {
        if (nBlocks > tables[0].length) {
            int cap = Math.max(nBlocks, tables[0].length * 2);
            for (int l = 0; l < layers; l++) {
                tables[l] = Arrays.copyOf(tables[l], cap);
                owned[l] = Arrays.copyOf(owned[l], cap);
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("KV sequence is closed");
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
