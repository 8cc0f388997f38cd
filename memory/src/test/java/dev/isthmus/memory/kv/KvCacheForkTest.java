package dev.isthmus.memory.kv;

import static dev.isthmus.memory.kv.KvCacheTestSupport.check;
import static dev.isthmus.memory.kv.KvCacheTestSupport.fill;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class KvCacheForkTest {

    static KvCacheConfig config() {
        return KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(16)
                .fullLayer(2, 8).fullLayer(1, 4).totalBlocks(32).build();
    }

    @Test
    void forkSharesPrefixAndCopiesOnWrite() {
        try (KvBlockPool pool = new KvBlockPool(config())) {
            KvSequence parent = pool.newSequence();
            parent.reserve(20); // 2 blocks a layer, the second partially filled
            fill(parent, 1, 0, 20);
            assertEquals(32 - 4, pool.freeBlocks());

            KvSequence child = parent.fork();
            assertEquals(20, child.length());
            assertEquals(32 - 4, pool.freeBlocks(), "a fork copies nothing");
            for (int l = 0; l < 2; l++) {
                for (int b = 0; b < 2; b++) {
                    assertEquals(parent.block(l, b), child.block(l, b));
                    assertEquals(2, pool.refCount(parent.block(l, b)));
                }
            }
            check(parent, 1, 0, 20);
            check(child, 1, 0, 20);
            // The shared prefix is read-only.
            assertThrows(IllegalStateException.class, () -> child.writeKey(0, 3, 0, new float[8], 0));
            assertThrows(IllegalStateException.class, () -> parent.keySlotForWrite(1, 19, 0));

            // The child appends into the shared, partially filled block: copy-on-write of that block only.
            child.reserve(1);
            assertEquals(32 - 4 - 2, pool.freeBlocks(), "one copy a layer");
            for (int l = 0; l < 2; l++) {
                assertEquals(parent.block(l, 0), child.block(l, 0), "full block still shared");
                assertNotEquals(parent.block(l, 1), child.block(l, 1), "partial block copied");
                assertEquals(1, pool.refCount(parent.block(l, 1)));
                assertEquals(2, pool.refCount(parent.block(l, 0)));
            }
            check(child, 1, 0, 20); // the copy carries the prefix
            fill(child, 2, 20, 21);
            // Rewriting its own copy of tokens 16..19 is fine for the child, and invisible to the parent.
            fill(child, 2, 16, 20);
            check(parent, 1, 0, 20);

            // The parent appends too: its block 1 is its own again (refcount 1), so no copy is needed.
            int free = pool.freeBlocks();
            parent.reserve(1);
            assertEquals(free, pool.freeBlocks());
            fill(parent, 3, 20, 21);
            check(parent, 1, 0, 20);
            check(parent, 3, 20, 21);
            check(child, 1, 0, 16);
            check(child, 2, 16, 21);

            // Reference counts reach zero only after both close.
            int shared0 = parent.block(0, 0);
            parent.close();
            assertEquals(1, pool.refCount(shared0));
            check(child, 1, 0, 16);
            fill(child, 4, 0, 16); // now exclusively the child's: writable again
            check(child, 4, 0, 16);
            child.close();
            assertEquals(0, pool.refCount(shared0));
            assertEquals(32, pool.freeBlocks());
        }
    }

    @Test
    void forkOfAPrefixSharesOnlyThatPrefix() {
        try (KvBlockPool pool = new KvBlockPool(config())) {
            KvSequence parent = pool.newSequence();
            parent.reserve(40); // 3 blocks a layer
            fill(parent, 1, 0, 40);
            KvSequence child = parent.fork(10); // a shared system prompt of 10 tokens: block 0 only
            assertEquals(10, child.length());
            assertEquals(1, child.blockCount());
            assertEquals(2, pool.refCount(parent.block(0, 0)));
            assertEquals(1, pool.refCount(parent.block(0, 1)));
            check(child, 1, 0, 10);
            assertThrows(IndexOutOfBoundsException.class, () -> child.readKey(0, 10, 0, new float[8], 0));
            child.reserve(8); // copy block 0 (shared, partial for the child), no new blocks
            fill(child, 5, 10, 18);
            check(parent, 1, 0, 40);
            check(child, 1, 0, 10);
            check(child, 5, 10, 18);
            assertThrows(IllegalArgumentException.class, () -> parent.fork(41));
            assertThrows(IllegalArgumentException.class, () -> parent.fork(-1));
            child.close();
            parent.close();
            assertEquals(32, pool.freeBlocks());
        }
    }

    @Test
    void copyOnWriteCountsAgainstTheAtomicAllocation() {
        try (KvBlockPool pool = new KvBlockPool(config())) {
            KvSequence parent = pool.newSequence();
            parent.reserve(30 * 16 / 2 - 1); // 15 blocks a layer, the last partial: 30 of 32
            fill(parent, 1, 0, 30 * 8 - 1);
            KvSequence child = parent.fork();
            KvSequence other = pool.newSequence();
            other.reserve(1); // 2 blocks: pool now full
            assertEquals(0, pool.freeBlocks());
            assertThrows(KvCacheFullException.class, () -> child.reserve(1)); // needs 2 copies
            assertEquals(0, pool.freeBlocks());
            assertEquals(parent.block(0, 14), child.block(0, 14), "nothing copied");
            check(child, 1, 0, 30 * 8 - 1);
            other.close();
            child.reserve(1);
            check(child, 1, 0, 30 * 8 - 1);
            child.close();
            parent.close();
            assertEquals(32, pool.freeBlocks());
        }
    }

    @Test
    void forkKeepsOnlyTheWindowOfSlidingLayers() {
        KvCacheConfig c = KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(4)
                .fullLayer(1, 4).slidingLayer(4, 1, 4).totalBlocks(64).build();
        try (KvBlockPool pool = new KvBlockPool(c)) {
            KvSequence parent = pool.newSequence();
            parent.reserve(24);
            fill(parent, 1, 0, 24);
            KvSequence child = parent.fork(); // query 24 reads 21..24: sliding layer keeps block 5 only
            assertEquals(20, child.firstLiveToken(1));
            assertEquals(-1, child.block(1, 4));
            assertEquals(1, pool.refCount(parent.block(1, 4)));
            check(child, 1, 0, 24);
            parent.reserve(30); // parent's own window moves on: its early sliding blocks go
            parent.reserve(1);
            assertThrows(IllegalStateException.class, () -> parent.fork(10), "released blocks cannot be shared");
            child.close();
            parent.close();
            assertEquals(64, pool.freeBlocks());
        }
    }
}
