package dev.isthmus.memory.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A pool over external, non-host-accessible storage (as the CUDA backend's device memory). */
class KvExternalStorageTest {

    /** Host memory posing as device memory: it records copies and frees, and is never touched by the pool. */
    static final class FakeDeviceStorage implements KvStorage {
        final Arena arena = Arena.ofConfined();
        final MemorySegment memory;
        final boolean host;
        final List<long[]> copies = new ArrayList<>();
        int frees;

        FakeDeviceStorage(long bytes, boolean host) {
            memory = arena.allocate(bytes, KvCacheConfig.BLOCK_ALIGNMENT);
            this.host = host;
        }

        @Override
        public MemorySegment segment() {
            return memory;
        }

        @Override
        public boolean hostAccessible() {
            return host;
        }

        @Override
        public void copy(long from, long to, long bytes) {
            copies.add(new long[] {from, to, bytes});
            MemorySegment.copy(memory, from, memory, to, bytes);
        }

        @Override
        public void free() {
            frees++;
            arena.close();
        }
    }

    static KvCacheConfig config() {
        return KvCacheConfig.builder().type(KvType.F16).tokensPerBlock(4).fullLayer(2, 8).totalBlocks(8).build();
    }

    @Test
    void deviceStorageRefusesEveryHostAccess() {
        KvCacheConfig cfg = config();
        FakeDeviceStorage storage = new FakeDeviceStorage(cfg.poolBytes(), false);
        KvBlockPool pool = new KvBlockPool(cfg, storage);
        assertFalse(pool.isHostAccessible());
        assertSame(storage.memory, pool.deviceSegment());
        assertThrows(IllegalStateException.class, pool::segment);
        assertThrows(IllegalStateException.class, () -> pool.block(0));
        KvSequence seq = pool.newSequence();
        seq.reserve(3);
        float[] row = new float[8];
        assertThrows(IllegalStateException.class, () -> seq.writeKey(0, 0, 0, row, 0));
        assertThrows(IllegalStateException.class, () -> seq.writeValue(0, 0, 1, row, 0));
        assertThrows(IllegalStateException.class, () -> seq.readKey(0, 0, 0, row, 0));
        assertThrows(IllegalStateException.class, () -> seq.readValue(0, 2, 0, row, 0));
        assertThrows(IllegalStateException.class, () -> seq.keySlot(0, 0, 0));
        assertThrows(IllegalStateException.class, () -> seq.valueSlotForWrite(0, 1, 0));
        // Offsets (plain arithmetic) still work: the backend's kernels use them.
        assertEquals(pool.blockOffset(seq.block(0, 0)) + pool.keyOffsetInBlock(0, 1, 2), seq.keyOffset(0, 2, 1));
        seq.requireWritable(0, 2);
        seq.close();
        pool.close();
        pool.close();
        assertEquals(1, storage.frees, "freed once");
        assertThrows(IllegalStateException.class, pool::deviceSegment);
    }

    @Test
    void copyOnWriteGoesThroughTheStorage() {
        KvCacheConfig cfg = config();
        FakeDeviceStorage storage = new FakeDeviceStorage(cfg.poolBytes(), false);
        try (KvBlockPool pool = new KvBlockPool(cfg, storage)) {
            KvSequence parent = pool.newSequence();
            parent.reserve(6); // the second block is partial
            KvSequence child = parent.fork();
            assertThrows(IllegalStateException.class, () -> child.requireWritable(0, 5), "shared block is read-only");
            child.reserve(1);
            assertEquals(1, storage.copies.size(), "one block copied for the one layer");
            long[] c = storage.copies.get(0);
            assertEquals(pool.blockOffset(parent.block(0, 1)), c[0]);
            assertEquals(pool.blockOffset(child.block(0, 1)), c[1]);
            assertEquals(pool.blockBytes(), c[2]);
            child.requireWritable(0, 6);
            child.close();
            parent.close();
        }
        assertEquals(1, storage.frees);
    }

    @Test
    void hostAccessibleExternalStorageBehavesAsAHostPool() {
        KvCacheConfig cfg = config();
        FakeDeviceStorage storage = new FakeDeviceStorage(cfg.poolBytes(), true);
        try (KvBlockPool pool = new KvBlockPool(cfg, storage)) {
            assertTrue(pool.isHostAccessible());
            assertThrows(IllegalStateException.class, pool::deviceSegment);
            KvSequence seq = pool.newSequence();
            seq.reserve(1);
            float[] in = {1, 2, 3, 4, 5, 6, 7, 8};
            float[] out = new float[8];
            seq.writeKey(0, 0, 1, in, 0);
            seq.readKey(0, 0, 1, out, 0);
            org.junit.jupiter.api.Assertions.assertArrayEquals(in, out);
        }
    }

    @Test
    void tooSmallStorageIsRefused() {
        KvCacheConfig cfg = config();
        FakeDeviceStorage storage = new FakeDeviceStorage(cfg.poolBytes() - 64, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new KvBlockPool(cfg, storage));
        assertTrue(e.getMessage().contains("bytes for a pool of"), e.getMessage());
        storage.free();
    }
}
