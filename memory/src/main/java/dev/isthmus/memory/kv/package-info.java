/**
 * The paged KV cache: a {@link dev.isthmus.memory.kv.KvBlockPool} of equal off-heap blocks, one
 * layer's keys and values for a few tokens each, and {@link dev.isthmus.memory.kv.KvSequence}s that
 * map their tokens to blocks through per-layer block tables. Blocks are reference-counted so that
 * a shared prompt prefix is stored once ({@link dev.isthmus.memory.kv.KvSequence#fork(int)}, with
 * copy-on-write), and sliding-window layers give back blocks as tokens leave their window.
 * {@link dev.isthmus.memory.kv.KvCodec} is the reference encoding of each
 * {@link dev.isthmus.memory.kv.KvType}. See {@code docs/KV_CACHE.md}.
 */
package dev.isthmus.memory.kv;
