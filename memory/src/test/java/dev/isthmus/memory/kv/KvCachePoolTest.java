package dev.isthmus.memory.kv;

import static dev.isthmus.memory.kv.KvCacheTestSupport.check;
import static dev.isthmus.memory.kv.KvCacheTestSupport.fill;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class KvCachePoolTest {

    /** 3 layers of different shapes, F32, 4 tokens a block. */
    static KvCacheConfig config(int blocks) {
        return KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(4)
                .fullLayer(2, 8).fullLayer(1, 16).fullLayer(4, 4).totalBlocks(blocks).build();
    }

    @Test
    void allocateAppendFreeReturnsPoolToFull() {
        try (KvBlockPool pool = new KvBlockPool(config(64))) {
            assertEquals(64, pool.freeBlocks());
            KvSequence a = pool.newSequence();
            KvSequence b = pool.newSequence();
            assertEquals(0, a.reserve(5));           // 2 blocks a layer
            assertEquals(64 - 6, pool.freeBlocks());
            assertEquals(5, a.reserve(3));           // still 2 blocks a layer
            assertEquals(64 - 6, pool.freeBlocks());
            assertEquals(8, a.reserve(1));           // third block
            assertEquals(64 - 9, pool.freeBlocks());
            assertEquals(9, a.length());
            b.reserve(4);
            assertEquals(64 - 12, pool.freeBlocks());
            fill(a, 1, 0, 9);
            fill(b, 2, 0, 4);
            check(a, 1, 0, 9);
            check(b, 2, 0, 4);
            for (int l = 0; l < 3; l++) {
                for (int id : a.blockTable(l)) {
                    assertEquals(1, pool.refCount(id));
                }
            }
            a.close();
            a.close(); // idempotent
            assertEquals(64 - 3, pool.freeBlocks());
            check(b, 2, 0, 4);
            b.close();
            assertEquals(64, pool.freeBlocks());
            assertThrows(IllegalStateException.class, () -> a.reserve(1));
        }
    }

    @Test
    void layoutIsContiguousPerLayerAndHead() {
        try (KvBlockPool pool = new KvBlockPool(config(8)); KvSequence s = pool.newSequence()) {
            s.reserve(8);
            long row = pool.rowBytes(0); // 8 floats
            assertEquals(32, row);
            int[] table = s.blockTable(0);
            assertEquals(2, table.length);
            for (int h = 0; h < 2; h++) {
                long base = s.keyOffset(0, 0, h);
                assertEquals(pool.blockOffset(table[0]) + h * 4 * row, base);
                for (int t = 1; t < 4; t++) {
                    assertEquals(base + t * row, s.keyOffset(0, t, h), "keys of one head are consecutive rows");
                }
                assertEquals(pool.blockOffset(table[0]) + (2 + h) * 4 * row, s.valueOffset(0, 0, h));
            }
            assertEquals(pool.blockOffset(table[1]) + row, s.keyOffset(0, 5, 0));
            // The slice and the offset name the same bytes.
            s.writeKey(0, 5, 1, KvCacheTestSupport.key(0, 0, 5, 1, 8), 0);
            float viaSlot = s.keySlot(0, 5, 1).get(ValueLayout.JAVA_FLOAT_UNALIGNED, 4);
            float viaOffset = pool.segment().get(ValueLayout.JAVA_FLOAT_UNALIGNED, s.keyOffset(0, 5, 1) + 4);
            assertEquals(viaOffset, viaSlot);
            assertEquals(KvCacheTestSupport.key(0, 0, 5, 1, 8)[1], viaSlot);
            assertTrue(s.keySlot(0, 5, 1).isReadOnly());
            assertFalse(s.keySlotForWrite(0, 5, 1).isReadOnly());
            assertEquals(row, s.valueSlotForWrite(0, 5, 1).byteSize());
            assertThrows(IndexOutOfBoundsException.class, () -> s.keyOffset(0, 8, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> s.keyOffset(0, 0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> s.keyOffset(3, 0, 0));
        }
    }

    @Test
    void fullPoolThrowsAndLeavesEverythingIntact() {
        try (KvBlockPool pool = new KvBlockPool(config(10))) {
            KvSequence a = pool.newSequence();
            a.reserve(6); // 2 blocks x 3 layers
            fill(a, 1, 0, 6);
            KvSequence b = pool.newSequence();
            b.reserve(2); // 1 block x 3 layers
            fill(b, 2, 0, 2);
            assertEquals(1, pool.freeBlocks());
            int[][] tablesBefore = {a.blockTable(0), a.blockTable(1), a.blockTable(2)};

            KvCacheFullException e = assertThrows(KvCacheFullException.class, () -> a.reserve(3)); // needs 3 blocks
            assertEquals(3, e.needed());
            assertEquals(1, e.free());
            assertEquals(10, e.total());
            assertTrue(e.getMessage().contains("3 blocks needed") && e.getMessage().contains("1 free")
                    && e.getMessage().contains("10 total"), e.getMessage());
            assertEquals(1, pool.freeBlocks(), "nothing leaked");
            assertEquals(6, a.length());
            for (int l = 0; l < 3; l++) {
                assertArrayEquals(tablesBefore[l], a.blockTable(l));
            }
            KvSequence c = pool.newSequence();
            assertThrows(KvCacheFullException.class, () -> c.reserve(1));
            assertEquals(0, c.length());
            assertEquals(1, pool.freeBlocks());
            assertThrows(KvCacheFullException.class, () -> pool.allocate(2));
            assertEquals(1, pool.freeBlocks());
            check(a, 1, 0, 6);
            check(b, 2, 0, 2);
            a.reserve(2); // still fits in a's partial blocks
            fill(a, 1, 6, 8);
            check(a, 1, 0, 8);
            b.close();
            a.reserve(1);  // 3 new blocks now fit
            c.close();
            a.close();
            assertEquals(10, pool.freeBlocks());
        }
    }

    @Test
    void closingThePoolInvalidatesSegments() {
        KvBlockPool pool = new KvBlockPool(config(8));
        KvSequence s = pool.newSequence();
        s.reserve(3);
        fill(s, 1, 0, 3);
        var slot = s.keySlot(0, 1, 0);
        var whole = pool.segment();
        pool.close();
        assertFalse(pool.isOpen());
        assertThrows(IllegalStateException.class, () -> slot.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
        assertThrows(IllegalStateException.class, () -> whole.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> s.readKey(0, 1, 0, new float[8], 0));
        assertThrows(IllegalStateException.class, () -> s.writeValue(0, 1, 0, new float[8], 0));
        assertThrows(IllegalStateException.class, () -> s.reserve(4));
        assertThrows(IllegalStateException.class, () -> pool.allocate(1));
        assertThrows(IllegalStateException.class, pool::newSequence);
        s.close();     // releasing into a closed pool is a no-op
        pool.close();  // idempotent
    }

    @Test
    void retainAndReleaseCountReferences() {
        try (KvBlockPool pool = new KvBlockPool(config(4))) {
            int[] ids = pool.allocate(2);
            assertEquals(2, pool.freeBlocks());
            pool.retain(ids[0]);
            assertEquals(2, pool.refCount(ids[0]));
            pool.release(ids[0]);
            assertEquals(2, pool.freeBlocks());
            pool.releaseAll(ids, 0, 2);
            assertEquals(4, pool.freeBlocks());
            assertEquals(0, pool.refCount(ids[0]));
            assertThrows(IllegalStateException.class, () -> pool.release(ids[0]));
            assertThrows(IllegalStateException.class, () -> pool.retain(ids[1]));
            assertEquals(4, pool.freeBlocks());
        }
    }
}
