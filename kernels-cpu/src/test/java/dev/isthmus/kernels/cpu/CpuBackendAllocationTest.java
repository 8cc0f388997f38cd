package dev.isthmus.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Steady-state heap allocation of a decode-shaped sequence of {@link CpuBackend} ops (embedding,
 * norms, matmul, RoPE, K/V store, attention over the paged cache on the op threads, activations,
 * residual add, soft-cap, argmax), summed over the calling thread and the backend's worker threads:
 * about zero once C2 has compiled the kernels. A Vector API value that C2 did not intrinsify is
 * boxed, so this also catches a kernel that falls off the intrinsics. Runs in its own JVM (surefire
 * {@code reuseForks=false} in this module). The embedding table is F16: the embedding of a
 * block-quantized table goes through the reference dequantizer, which allocates a small block buffer
 * per call (one row a token).
 */
class CpuBackendAllocationTest {

    @Test
    void decodeStepAllocatesNothingAfterWarmUp() throws ReflectiveOperationException {
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocated = Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getThreadAllocatedBytes", long[].class);
        int heads = 4;
        int kvHeads = 2;
        int hd = 64;
        int dim = heads * hd;
        int ffn = 384;
        int vocab = 300;
        SplittableRandom rnd = new SplittableRandom(3);
        for (KvType kvType : KvType.values()) {
            try (CpuBackend b = new CpuBackend(2); Arena arena = Arena.ofShared()) {
                Tensor table = b.weight(DType.F16, vocab, dim, quantized(arena, GgmlType.F16, vocab, dim, rnd));
                Tensor wqkv = b.weight(DType.Q8_0, dim + 2 * kvHeads * hd, dim,
                        quantized(arena, GgmlType.Q8_0, dim + 2 * kvHeads * hd, dim, rnd));
                Tensor wUp = b.weight(DType.Q4_K, ffn, dim, quantized(arena, GgmlType.Q4_K, ffn, dim, rnd));
                Tensor norm = filled(b, 1, dim, rnd);
                Tensor qkNorm = filled(b, 1, hd, rnd);
                Tensor x = b.allocate(1, dim);
                Tensor h = b.allocate(1, dim);
                Tensor q = b.allocate(1, dim);
                Tensor k = b.allocate(1, kvHeads * hd);
                Tensor v = b.allocate(1, kvHeads * hd);
                Tensor qkv = b.allocate(1, dim + 2 * kvHeads * hd);
                Tensor att = b.allocate(1, dim);
                Tensor gate = filled(b, 1, ffn, rnd);
                Tensor up = b.allocate(1, ffn);
                Tensor logits = b.allocate(1, vocab);
                Tensor logitsW = b.allocate(1, dim);
                float[] inv = new float[hd / 2];
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = (float) Math.pow(10000, -2.0 * i / hd);
                }
                RopeSpec rope = new RopeSpec(inv, 1f, hd, RopeLayout.NEOX);
                AttentionSpec spec = new AttentionSpec(heads, kvHeads, hd, 0.125f, 48, 0, 30f, new float[] {0, 1, 2, 3});
                KvCacheConfig cfg = KvCacheConfig.builder().type(kvType).fullLayer(kvHeads, hd).totalBlocks(16).build();
                int[] token = {5};
                int[] position = {0};
                try (KvBlockPool pool = b.newKvPool(cfg); KvSequence seq = pool.newSequence()) {
                    seq.reserve(200);
                    // one decode step of a small layer, op by op (views of qkv would be new objects,
                    // so q, k and v are filled by ops of their own)
                    List<Op> ops = List.of(
                            new Op("embedding", () -> b.embedding(table, token, 1.5f, x)),
                            new Op("rmsNorm", () -> b.rmsNorm(x, norm, 1e-6f, false, h)),
                            new Op("matmul Q8_0", () -> b.matmul(h, wqkv, qkv)),
                            new Op("add", () -> b.add(h, h, q)),
                            new Op("QK-norm", () -> b.rmsNorm(q, qkNorm, 1e-6f, true, q)),
                            new Op("rope", () -> b.rope(q, heads, hd, position, rope)),
                            new Op("scale", () -> b.scale(k, 0.5f)),
                            new Op("add", () -> b.add(k, k, v)),
                            new Op("storeKv", () -> b.storeKv(seq, 0, position[0], k, v)),
                            new Op("attention", () -> b.attention(q, seq, 0, position[0], spec, att)),
                            new Op("add", () -> b.add(x, att, x)),
                            new Op("layerNorm", () -> b.layerNorm(x, norm, norm, 1e-5f, h)),
                            new Op("matmul Q4_K", () -> b.matmul(h, wUp, up)),
                            new Op("gated SiLU", () -> b.gatedActivation(Activation.SILU, gate, up, up)),
                            new Op("GELU tanh", () -> b.activation(Activation.GELU_TANH, up, up)),
                            new Op("GELU erf", () -> b.activation(Activation.GELU_ERF, gate, up)),
                            new Op("add", () -> b.add(x, logitsW, x)),
                            new Op("softCap", () -> b.softCap(logits, 30f)),
                            new Op("argmax", () -> token[0] = b.argmax(logits, 0) % vocab));
                    Runnable step = () -> {
                        for (Op op : ops) {
                            op.call().run();
                        }
                        position[0] = 100 + (position[0] + 1) % 60; // cycles over a fixed span of positions
                    };
                    for (int i = 0; i < 100; i++) {
                        position[0] = i;
                        step.run();
                    }
                    // Warm up until C2 has compiled the kernels: on a loaded machine that takes many
                    // steps, so measure every 1000 steps and stop once a round allocates nothing.
                    long[] ids = threadIds();
                    int steps = 300;
                    double perStep = Double.MAX_VALUE;
                    for (int round = 0; round < 40 && perStep >= 64; round++) {
                        for (int i = 0; i < 1000; i++) {
                            step.run();
                        }
                        long before = sum((long[]) allocated.invoke(mx, (Object) ids));
                        for (int i = 0; i < steps; i++) {
                            step.run();
                        }
                        long after = sum((long[]) allocated.invoke(mx, (Object) ids));
                        perStep = Math.min(perStep, (after - before) / (double) steps);
                    }
                    StringBuilder perOp = new StringBuilder();
                    for (Op op : ops) {
                        long before = sum((long[]) allocated.invoke(mx, (Object) ids));
                        for (int i = 0; i < steps; i++) {
                            op.call().run();
                        }
                        long after = sum((long[]) allocated.invoke(mx, (Object) ids));
                        perOp.append(op.name()).append('=').append((after - before) / (double) steps).append(' ');
                    }
                    System.out.println("CpuBackend decode step, " + kvType + " KV: " + perStep
                            + " bytes allocated per step; per op: " + perOp);
                    assertTrue(perStep < 64, kvType + " KV: a decode step allocates " + perStep + " bytes; per op " + perOp);
                }
            }
        }
    }

    private record Op(String name, Runnable call) {
    }

    private static MemorySegment quantized(Arena arena, GgmlType type, int rows, int cols, SplittableRandom rnd) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * 0.1f;
        }
        byte[] bytes = Quantize.quantize(type, v, 0, v.length);
        MemorySegment s = arena.allocate(bytes.length, 64);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, s, 0, bytes.length);
        return s;
    }

    private static Tensor filled(CpuBackend b, int rows, int cols, SplittableRandom rnd) {
        Tensor t = b.allocate(rows, cols);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        b.write(v, 0, t);
        return t;
    }

    private static long[] threadIds() {
        List<Thread> threads = new ArrayList<>();
        threads.add(Thread.currentThread());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("isthmus-ops-") || t.getName().startsWith("isthmus-matvec-")) {
                threads.add(t);
            }
        }
        return threads.stream().mapToLong(Thread::threadId).toArray();
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long a : v) {
            s += Math.max(0, a);
        }
        return s;
    }
}
