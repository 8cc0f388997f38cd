package dev.isthmus.memory.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KvCacheConfigTest {

    private static void assertNames(String parameter, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(parameter), () -> "message should name " + parameter + ": " + e.getMessage());
    }

    @Test
    void zeroLayersIsRejected() {
        assertNames("layers", () -> KvCacheConfig.builder().totalBlocks(4).build());
    }

    @Test
    void q8HeadDimMustBeMultipleOf32() {
        assertNames("headDim", () -> KvCacheConfig.builder().type(KvType.Q8_0).fullLayer(2, 48).totalBlocks(4).build());
        // 64 is fine for Q8_0, and 48 is fine for the other types.
        KvCacheConfig.builder().type(KvType.Q8_0).fullLayer(2, 64).totalBlocks(4).build();
        KvCacheConfig.builder().type(KvType.F16).fullLayer(2, 48).totalBlocks(4).build();
    }

    @Test
    void negativeOrZeroWindowIsRejected() {
        assertNames("window", () -> KvCacheConfig.builder().slidingLayer(-3, 2, 64).totalBlocks(4).build());
        assertNames("window", () -> KvCacheConfig.LayerSpec.sliding(0, 2, 64));
    }

    @Test
    void otherBadParametersAreNamed() {
        assertNames("kvHeads", () -> KvCacheConfig.LayerSpec.full(0, 64));
        assertNames("headDim", () -> KvCacheConfig.LayerSpec.full(1, -1));
        assertNames("tokensPerBlock", () -> KvCacheConfig.builder().fullLayer(1, 64).tokensPerBlock(0).totalBlocks(4).build());
        assertNames("totalBlocks", () -> KvCacheConfig.builder().fullLayer(1, 64).totalBlocks(0).build());
        assertNames("byteBudget", () -> KvCacheConfig.builder().fullLayer(1, 64).byteBudget(10).build());
        assertNames("byteBudget", () -> KvCacheConfig.builder().fullLayer(1, 64).byteBudget(-1).build());
        assertNames("totalBlocks or byteBudget", () -> KvCacheConfig.builder().fullLayer(1, 64).build());
    }

    @Test
    void blockSizeIsLargestLayerAligned() {
        // F16, 16 tokens: layer 0 = 2*2*16*64*2 = 8192; layer 1 = 2*1*16*40*2 = 2560.
        KvCacheConfig c = KvCacheConfig.builder().fullLayer(2, 64).slidingLayer(128, 1, 40).totalBlocks(10).build();
        assertEquals(8192, c.layerBlockBytes(0));
        assertEquals(2560, c.layerBlockBytes(1));
        assertEquals(8192, c.blockBytes());
        assertEquals(81920, c.poolBytes());
        // Q8_0, 4 tokens, 1 head of 32: 2*1*4*34 = 272 -> 320 after 64-byte alignment.
        KvCacheConfig q = KvCacheConfig.builder().type(KvType.Q8_0).tokensPerBlock(4).fullLayer(1, 32).totalBlocks(1).build();
        assertEquals(34, q.rowBytes(0));
        assertEquals(320, q.blockBytes());
    }

    @Test
    void byteBudgetGivesWholeBlocks() {
        KvCacheConfig c = KvCacheConfig.builder().fullLayers(4, 2, 64).byteBudget(8192L * 7 + 100).build();
        assertEquals(7, c.totalBlocks());
        assertEquals(KvCacheConfig.DEFAULT_TOKENS_PER_BLOCK, c.tokensPerBlock());
        assertEquals(4, c.layerCount());
    }
}
