package dev.isthmus.memory.kv;

import static dev.isthmus.memory.kv.KvCacheTestSupport.check;
import static dev.isthmus.memory.kv.KvCacheTestSupport.fill;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KvCacheSlidingWindowTest {

    @Test
    void blocksAreReleasedAsTokensLeaveTheWindow() {
        // Two sliding layers, window 8, 4 tokens a block.
        KvCacheConfig c = KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(4)
                .slidingLayer(8, 1, 8).slidingLayer(8, 2, 4).totalBlocks(40).build();
        try (KvBlockPool pool = new KvBlockPool(c); KvSequence s = pool.newSequence()) {
            s.reserve(32); // a prefill: every query needs its own window, so all 8 blocks a layer are held
            fill(s, 1, 0, 32);
            assertEquals(40 - 16, pool.freeBlocks());
            int freeBefore = pool.freeBlocks();
            // The next query (token 32) reads tokens 25..32: blocks 0..5 (tokens 0..23) leave the window.
            s.reserve(1);
            int freeAfter = pool.freeBlocks();
            assertEquals(freeBefore + 12 - 2, freeAfter, "12 blocks released, 2 taken for token 32");
            assertTrue(freeAfter > freeBefore, "free count grows");
            assertEquals(24, s.firstLiveToken(0));
            assertArrayEquals(new int[] {-1, -1, -1, -1, -1, -1}, java.util.Arrays.copyOf(s.blockTable(0), 6));
            assertThrows(IllegalArgumentException.class, () -> s.readKey(0, 23, 0, new float[8], 0));
            check(s, 1, 24, 32); // tokens still in the window read back
            fill(s, 1, 32, 33);

            // Decode: the held blocks stay bounded (window 8 = 2 blocks, plus the one being filled).
            for (int step = 0; step < 100; step++) {
                s.reserve(1);
                fill(s, 1, s.length() - 1, s.length());
                assertTrue(s.heldBlocks() <= 2 * 3, "held " + s.heldBlocks() + " at step " + step);
            }
            check(s, 1, s.length() - 8, s.length());
        }
    }

    @Test
    void mixedLayersReleaseOnlyTheWindowedOnes() {
        // Gemma-like: full, sliding(4), full; 2 tokens a block.
        KvCacheConfig c = KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(2)
                .fullLayer(1, 4).slidingLayer(4, 1, 4).fullLayer(1, 4).totalBlocks(100).build();
        try (KvBlockPool pool = new KvBlockPool(c); KvSequence s = pool.newSequence()) {
            for (int t = 0; t < 20; t++) {
                s.reserve(1);
                fill(s, 3, t, t + 1);
            }
            // Full layers hold 10 blocks each; the sliding layer only those a query from 19 on can read.
            int liveSliding = 0;
            for (int id : s.blockTable(1)) {
                if (id >= 0) {
                    liveSliding++;
                }
            }
            for (int id : s.blockTable(0)) {
                assertTrue(id >= 0);
            }
            // Last reserve was at length 19: query 19 reads 16..19, so blocks 8 and 9 live.
            assertEquals(2, liveSliding);
            assertEquals(16, s.firstLiveToken(1));
            assertEquals(0, s.firstLiveToken(0));
            assertEquals(100 - 10 - 10 - 2, pool.freeBlocks());
            check(s, 3, 0, 20); // full layers: everything; sliding: from firstLiveToken
        }
    }

    @Test
    void freeCountReturnsToFullAfterSlidingSequenceCloses() {
        KvCacheConfig c = KvCacheConfig.builder().type(KvType.F16).tokensPerBlock(4)
                .slidingLayer(5, 1, 8).fullLayer(1, 8).totalBlocks(64).build();
        try (KvBlockPool pool = new KvBlockPool(c)) {
            KvSequence s = pool.newSequence();
            for (int i = 0; i < 30; i++) {
                s.reserve(1 + i % 3);
            }
            s.close();
            assertEquals(64, pool.freeBlocks());
        }
    }
}
