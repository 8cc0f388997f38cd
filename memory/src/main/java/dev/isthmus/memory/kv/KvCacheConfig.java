package dev.isthmus.memory.kv;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The shape of a paged KV cache: its layers, element type, block size and capacity.
 *
 * <p>Each layer has its own {@link LayerSpec}: its attention kind (full, or a sliding window of
 * {@code window} tokens), its number of KV heads and its head dimension, so that models that
 * alternate local and global layers (Gemma 2/3, gpt-oss) or vary head shapes per layer are
 * described exactly. A pool block holds one layer's keys and values for {@link #tokensPerBlock()}
 * tokens (see {@link KvBlockPool} for the layout); its size is that of the largest layer,
 * {@link #blockBytes()}.
 *
 * <p>Build with {@link #builder()}; every constructor path validates and throws
 * {@link IllegalArgumentException} naming the offending parameter.
 *
 * @param layers         one spec a layer, in layer order (at least one)
 * @param type           the element type of keys and values
 * @param tokensPerBlock tokens a block holds (positive)
 * @param totalBlocks    blocks in the pool (positive)
 */
public record KvCacheConfig(List<LayerSpec> layers, KvType type, int tokensPerBlock, int totalBlocks) {

    /** Default tokens per block. */
    public static final int DEFAULT_TOKENS_PER_BLOCK = 16;
    /** Every block starts at a multiple of this many bytes (a cache line; also fine for GPU copies). */
    public static final int BLOCK_ALIGNMENT = 64;

    /** How a layer attends to earlier tokens. */
    public enum LayerKind {
        /** Every earlier token (causal, unbounded). */
        FULL,
        /** Only the last {@code window} tokens, the query's own included. */
        SLIDING_WINDOW
    }

    /**
     * One layer's cache shape.
     *
     * @param kind    full attention or sliding window
     * @param window  for {@link LayerKind#SLIDING_WINDOW}, the window in tokens (positive); 0 for full
     * @param kvHeads number of KV heads (positive)
     * @param headDim elements in one head's key or value (positive)
     */
    public record LayerSpec(LayerKind kind, int window, int kvHeads, int headDim) {
        /** Validates; throws {@link IllegalArgumentException} naming the bad parameter. */
        public LayerSpec {
            Objects.requireNonNull(kind, "kind");
            if (kind == LayerKind.SLIDING_WINDOW && window <= 0) {
                throw new IllegalArgumentException("window must be positive for a sliding-window layer, got " + window);
            }
            if (kind == LayerKind.FULL && window != 0) {
                throw new IllegalArgumentException("window must be 0 for a full-attention layer, got " + window);
            }
            if (kvHeads <= 0) {
                throw new IllegalArgumentException("kvHeads must be positive, got " + kvHeads);
            }
            if (headDim <= 0) {
                throw new IllegalArgumentException("headDim must be positive, got " + headDim);
            }
        }

        /** A full-attention layer. */
        public static LayerSpec full(int kvHeads, int headDim) {
            return new LayerSpec(LayerKind.FULL, 0, kvHeads, headDim);
        }

        /** A sliding-window layer attending to the last {@code window} tokens. */
        public static LayerSpec sliding(int window, int kvHeads, int headDim) {
            return new LayerSpec(LayerKind.SLIDING_WINDOW, window, kvHeads, headDim);
        }

        /** True for a sliding-window layer. */
        public boolean isSliding() {
            return kind == LayerKind.SLIDING_WINDOW;
        }
    }

    /** Validates; throws {@link IllegalArgumentException} naming the bad parameter. */
    public KvCacheConfig {
        Objects.requireNonNull(layers, "layers");
        Objects.requireNonNull(type, "type");
        layers = List.copyOf(layers);
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("layers must hold at least one layer, got 0");
        }
        if (tokensPerBlock <= 0) {
            throw new IllegalArgumentException("tokensPerBlock must be positive, got " + tokensPerBlock);
        }
        if (totalBlocks <= 0) {
            throw new IllegalArgumentException("totalBlocks must be positive, got " + totalBlocks);
        }
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec l = layers.get(i);
            if (type == KvType.Q8_0 && l.headDim() % KvType.Q8_0_BLOCK != 0) {
                throw new IllegalArgumentException("headDim of layer " + i + " must be a multiple of 32 for Q8_0, got "
                        + l.headDim());
            }
        }
        long bb = blockBytes(layers, type, tokensPerBlock);
        if (bb * totalBlocks < 0 || bb > Long.MAX_VALUE / totalBlocks) {
            throw new IllegalArgumentException("totalBlocks too large: " + totalBlocks + " blocks of " + bb + " bytes");
        }
    }

    /** Number of layers. */
    public int layerCount() {
        return layers.size();
    }

    /** The spec of {@code layer}. */
    public LayerSpec layer(int layer) {
        return layers.get(layer);
    }

    /** Bytes of one token's key (or value) for one KV head of {@code layer}. */
    public long rowBytes(int layer) {
        return type.rowBytes(layers.get(layer).headDim());
    }

    /** Bytes {@code layer} needs in a block: keys then values, each {@code kvHeads × tokensPerBlock} rows. */
    public long layerBlockBytes(int layer) {
        LayerSpec l = layers.get(layer);
        return 2L * l.kvHeads() * tokensPerBlock * type.rowBytes(l.headDim());
    }

    /**
     * Bytes of one pool block: the largest {@link #layerBlockBytes(int)}, rounded up to
     * {@value #BLOCK_ALIGNMENT}. Layers smaller than the largest leave the rest of their blocks unused.
     */
    public long blockBytes() {
        return blockBytes(layers, type, tokensPerBlock);
    }

    /** Bytes of the whole pool. */
    public long poolBytes() {
        return blockBytes() * totalBlocks;
    }

    private static long blockBytes(List<LayerSpec> layers, KvType type, int tokensPerBlock) {
        long max = 0;
        for (LayerSpec l : layers) {
            max = Math.max(max, 2L * l.kvHeads() * tokensPerBlock * type.rowBytes(l.headDim()));
        }
        return (max + BLOCK_ALIGNMENT - 1) / BLOCK_ALIGNMENT * BLOCK_ALIGNMENT;
    }

    /** A new builder: F16, {@value #DEFAULT_TOKENS_PER_BLOCK} tokens a block, no layers yet. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link KvCacheConfig}; capacity is either {@link #totalBlocks(int)} or {@link #byteBudget(long)}. */
    public static final class Builder {
        private final List<LayerSpec> layers = new ArrayList<>();
        private KvType type = KvType.F16;
        private int tokensPerBlock = DEFAULT_TOKENS_PER_BLOCK;
        private Integer totalBlocks;
        private Long byteBudget;

        private Builder() {
        }

        /** Adds a layer. */
        public Builder layer(LayerSpec spec) {
            layers.add(Objects.requireNonNull(spec, "spec"));
            return this;
        }

        /** Adds a full-attention layer. */
        public Builder fullLayer(int kvHeads, int headDim) {
            return layer(LayerSpec.full(kvHeads, headDim));
        }

        /** Adds a sliding-window layer. */
        public Builder slidingLayer(int window, int kvHeads, int headDim) {
            return layer(LayerSpec.sliding(window, kvHeads, headDim));
        }

        /** Adds {@code count} full-attention layers of one shape. */
        public Builder fullLayers(int count, int kvHeads, int headDim) {
            if (count < 0) {
                throw new IllegalArgumentException("count must be non-negative, got " + count);
            }
            for (int i = 0; i < count; i++) {
                fullLayer(kvHeads, headDim);
            }
            return this;
        }

        /** The element type (default F16). */
        public Builder type(KvType type) {
            this.type = Objects.requireNonNull(type, "type");
            return this;
        }

        /** Tokens per block (default {@value #DEFAULT_TOKENS_PER_BLOCK}). */
        public Builder tokensPerBlock(int tokensPerBlock) {
            this.tokensPerBlock = tokensPerBlock;
            return this;
        }

        /** Capacity as a block count. Clears any byte budget. */
        public Builder totalBlocks(int totalBlocks) {
            this.totalBlocks = totalBlocks;
            this.byteBudget = null;
            return this;
        }

        /** Capacity as bytes: as many whole blocks as fit. Clears any block count. */
        public Builder byteBudget(long bytes) {
            this.byteBudget = bytes;
            this.totalBlocks = null;
            return this;
        }

        /**
         * The config.
         *
         * @throws IllegalArgumentException naming the bad parameter: no layers, no capacity, a budget
         *                                  smaller than one block, Q8_0 with a head dim not a multiple of 32, ...
         */
        public KvCacheConfig build() {
            if (totalBlocks != null) {
                return new KvCacheConfig(layers, type, tokensPerBlock, totalBlocks);
            }
            if (byteBudget == null) {
                throw new IllegalArgumentException("totalBlocks or byteBudget must be set");
            }
            if (byteBudget <= 0) {
                throw new IllegalArgumentException("byteBudget must be positive, got " + byteBudget);
            }
            // Validate the layers first (with a placeholder capacity) so that their errors come first.
            long bb = new KvCacheConfig(layers, type, tokensPerBlock, 1).blockBytes();
            long blocks = byteBudget / bb;
            if (blocks < 1) {
                throw new IllegalArgumentException("byteBudget " + byteBudget + " is smaller than one block of " + bb
                        + " bytes");
            }
            if (blocks > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("byteBudget " + byteBudget + " gives too many blocks: " + blocks);
            }
            return new KvCacheConfig(layers, type, tokensPerBlock, (int) blocks);
        }
    }
}
