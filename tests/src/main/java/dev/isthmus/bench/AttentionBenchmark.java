package dev.isthmus.bench;

import dev.isthmus.kernels.cpu.CpuBackend;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Decode attention on the CPU backend: one query token over {@code context} cached tokens of one
 * layer of the paged KV cache ({@link Backend#attention}), for two real model shapes. Reports time
 * per call (one layer, all heads).
 *
 * <pre>java -jar tests/target/benchmarks.jar AttentionBenchmark -p threads=2</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class AttentionBenchmark {
    /** heads/kvHeads/headDim: Llama-3.2-1B and Qwen3-0.6B. */
    @Param({"32/8/64", "16/8/128"})
    public String shape;

    @Param({"F32", "F16"})
    public String kv;

    /** Cached tokens before the query. */
    @Param({"128", "512", "2048"})
    public int context;

    /** Backend threads (0: physical cores). */
    @Param({"2"})
    public int threads;

    private Backend backend;
    private KvBlockPool pool;
    private KvSequence seq;
    private AttentionSpec spec;
    private Tensor q;
    private Tensor out;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split("/");
        int heads = Integer.parseInt(s[0]);
        int kvHeads = Integer.parseInt(s[1]);
        int headDim = Integer.parseInt(s[2]);
        backend = new CpuBackend(threads);
        int tokens = context + 1;
        pool = backend.newKvPool(KvCacheConfig.builder().fullLayer(kvHeads, headDim).type(KvType.valueOf(kv))
                .totalBlocks(tokens / KvCacheConfig.DEFAULT_TOKENS_PER_BLOCK + 2).build());
        seq = pool.newSequence();
        seq.reserve(tokens);
        SplittableRandom rnd = new SplittableRandom(7);
        Tensor k = backend.allocate(tokens, kvHeads * headDim);
        Tensor v = backend.allocate(tokens, kvHeads * headDim);
        backend.write(random(tokens * kvHeads * headDim, rnd), 0, k);
        backend.write(random(tokens * kvHeads * headDim, rnd), 0, v);
        backend.storeKv(seq, 0, 0, k, v);
        q = backend.allocate(1, heads * headDim);
        out = backend.allocate(1, heads * headDim);
        backend.write(random(heads * headDim, rnd), 0, q);
        spec = AttentionSpec.causal(heads, kvHeads, headDim);
    }

    private static float[] random(int n, SplittableRandom rnd) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }

    @Benchmark
    public Tensor decode() {
        backend.attention(q, seq, 0, context, spec, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        seq.close();
        pool.close();
        backend.close();
    }
}
