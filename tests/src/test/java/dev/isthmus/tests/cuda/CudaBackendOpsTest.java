package dev.isthmus.tests.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.kernels.cpu.CpuBackend;
import dev.isthmus.memory.BackendProvider;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
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
import java.lang.foreign.ValueLayout;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every op of the CUDA backend against the plain CPU backend on random inputs (weights of every
 * type the CUDA kernels read, shapes that are not multiples of the kernels' tiles). Runs on a
 * machine with an NVIDIA GPU (compute capability 8.0+) and a jar built with nvcc; elsewhere it is
 * skipped with the probe's reason. See docs/CUDA.md for running it on the GPU machine.
 */
class CudaBackendOpsTest {
    /** Weight types whose CPU decode matmul rounds the activations to 8 bits (see docs/MATVEC.md). */
    private static final java.util.Set<DType> Q8_ACTIVATIONS = java.util.EnumSet.of(DType.Q8_0, DType.Q4_0, DType.Q4_K,
            DType.Q6_K);

    private static Backend cpu;
    private static Backend gpu;
    private static Arena arena;

    private static String unavailable;

    @BeforeAll
    static void open() {
        BackendProvider cuda = null;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.name().equals("cuda")) {
                cuda = p;
            }
        }
        if (cuda == null) {
            unavailable = "no cuda BackendProvider on the class path";
            return;
        }
        if (!cuda.probe().available()) {
            unavailable = cuda.probe().reason();
            return;
        }
        gpu = cuda.open(0);
        cpu = new CpuBackend(2);
        arena = Arena.ofShared();
    }

    /** Each test is skipped, with the probe's reason, where the CUDA backend cannot run. */
    @BeforeEach
    void requireGpu() {
        assumeTrue(gpu != null, "CUDA backend unavailable, GPU op test skipped: " + unavailable);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (cpu != null) {
            cpu.close();
        }
        if (arena != null) {
            arena.close();
        }
    }

    /** The same F32 values as a tensor of each backend. */
    record Pair(Tensor c, Tensor g) {}

    static Pair f32(int rows, int cols, float[] values) {
        Pair p = new Pair(cpu.allocate(rows, cols), gpu.allocate(rows, cols));
        cpu.write(values, 0, p.c);
        gpu.write(values, 0, p.g);
        return p;
    }

    static Pair random(int rows, int cols, SplittableRandom r, double range) {
        return f32(rows, cols, values(rows * cols, r, range));
    }

    static float[] values(int n, SplittableRandom r, double range) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-range, range);
        }
        return v;
    }

    static float[] read(Backend b, Tensor t) {
        float[] out = new float[(int) t.elements()];
        b.read(t, out, 0);
        return out;
    }

    /** Every element within {@code tol} times the largest magnitude of the reference (plus a tiny floor). */
    static void assertClose(Pair p, double tol, String what) {
        assertClose(read(cpu, p.c), read(gpu, p.g), tol, what);
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double scale = 1e-30;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            if (!(err <= tol * scale + 1e-6) || Float.isNaN(got[i]) != Float.isNaN(want[i])) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", the CPU gives " + want[i]
                        + " (|err| " + err + " > " + tol + " × " + scale + ")");
            }
        }
    }

    /** Host bytes of a random weight: random blocks with their scale fields set to sane values. */
    static MemorySegment weightBytes(DType type, int rows, int cols, SplittableRandom r) {
        long bytes = type.rowBytes(cols) * rows;
        MemorySegment m = arena.allocate(Math.max(1, bytes), 64);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < (long) rows * cols; i++) {
                    m.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) r.nextDouble(-1, 1));
                }
                return m;
            }
            case F16 -> {
                for (long i = 0; i < (long) rows * cols; i++) {
                    m.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) r.nextDouble(-1, 1)));
                }
                return m;
            }
            case BF16 -> {
                for (long i = 0; i < (long) rows * cols; i++) {
                    int bits = Float.floatToRawIntBits((float) r.nextDouble(-1, 1));
                    m.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (bits >>> 16));
                }
                return m;
            }
            default -> {
            }
        }
        for (long i = 0; i < bytes; i++) {
            m.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        }
        long blocks = bytes / type.blockBytes();
        for (long b = 0; b < blocks; b++) {
            long at = b * type.blockBytes();
            switch (type) {
                case Q8_0 -> f16(m, at, r.nextDouble(0.001, 0.02));
                case Q4_0 -> f16(m, at, r.nextDouble(0.01, 0.2));
                case Q4_K, Q5_K -> {
                    f16(m, at, r.nextDouble(0.0005, 0.003));
                    f16(m, at + 2, r.nextDouble(0.0005, 0.003));
                }
                case Q6_K -> f16(m, at + 208, r.nextDouble(0.00005, 0.0005));
                case MXFP4 -> m.set(ValueLayout.JAVA_BYTE, at, (byte) (118 + r.nextInt(10)));
                default -> throw new AssertionError(type);
            }
        }
        return m;
    }

    static void f16(MemorySegment m, long at, double v) {
        m.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, Float.floatToFloat16((float) v));
    }

    static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K,
        DType.Q6_K, DType.MXFP4};

    @Test
    void matmulOfEveryTypeMatchesTheCpu() {
        SplittableRandom r = new SplittableRandom(1);
        for (DType type : TYPES) {
            int[] colsList = type.isQuantized() ? new int[] {type.blockSize() * 2, 1024} : new int[] {100, 512};
            for (int cols : colsList) {
                checkMatmul(type, 77, cols, new int[] {1, 3, 40}, r);
            }
        }
    }

    /**
     * The prefill sizes around the tensor-core GEMM's threshold (8 tokens) and tiles (128 tokens x 128 rows x
     * 32 values): token counts below, at and across it, rows and (for float types) columns off the tiles,
     * with aligned (136) and unaligned (37) float rows.
     */
    @Test
    void prefillMatmulOfEveryTypeAcrossTheTiles() {
        SplittableRandom r = new SplittableRandom(11);
        for (DType type : TYPES) {
            int[] colsList = type.isQuantized() ? new int[] {type.blockSize() * 3} : new int[] {136, 37};
            for (int cols : colsList) {
                checkMatmul(type, 131, cols, new int[] {2, 7, 8, 33, 130, 512}, r);
            }
        }
    }

    /**
     * Unit roundoff of the 16-bit operands of the CUDA tensor-core GEMM (n >= 8 tokens, every type but F32;
     * docs/CUDA.md): bf16 for BF16 and MXFP4 weights, f16 for the others; 0 where the fp32 kernel runs.
     */
    static double tensorCoreRoundoff(DType type, int n) {
        if (n < 8 || type == DType.F32) {
            return 0;
        }
        return type == DType.BF16 || type == DType.MXFP4 ? 0x1p-8 : 0x1p-11;
    }

    static void checkMatmul(DType type, int rows, int cols, int[] tokens, SplittableRandom r) {
        MemorySegment host = weightBytes(type, rows, cols, r);
        Tensor wc = cpu.weight(type, rows, cols, host);
        Tensor wg = gpu.weight(type, rows, cols, host);
        float[] w = new float[rows * cols];
        Dequantize.dequantize(GgmlType.byId(type.ggmlId()).orElseThrow(), host, (long) rows * cols, w, 0);
        for (int n : tokens) {
            float[] xv = values(n * cols, r, 1);
            Pair x = f32(n, cols, xv);
            Pair y = f32(n, rows, new float[n * rows]);
            cpu.matmul(x.c, wc, y.c);
            gpu.matmul(x.g, wg, y.g);
            float[] want = read(cpu, y.c);
            float[] got = read(gpu, y.g);
            double u16 = tensorCoreRoundoff(type, n);
            for (int t = 0; t < n; t++) {
                for (int o = 0; o < rows; o++) {
                    double abs = 0;
                    double mags = 0;
                    for (int i = 0; i < cols; i++) {
                        abs += Math.abs((double) w[o * cols + i] * xv[t * cols + i]);
                        mags += Math.abs(w[o * cols + i]) + Math.abs(xv[t * cols + i]);
                    }
                    // Float summation of cols products in any order, for each backend, plus the
                    // dequantization's few roundings: 2·(k + 8)·2⁻²⁴·Σ|w·x| (as GemmTest's bound).
                    double bound = 2 * (cols + 8) * 0x1p-24 * abs + 1e-30;
                    if (u16 > 0) {
                        // the tensor-core GEMM rounds w and x to 16 bits: (2u + u²)·Σ|w·x|, plus f16's
                        // subnormal spacing (2⁻²⁴) for values below 2⁻¹⁴
                        bound += 1.01 * (2 * u16 + u16 * u16) * abs + 0x1p-24 * mags;
                    }
                    if (n == 1 && Q8_ACTIVATIONS.contains(type)) {
                        // the CPU's decode path rounds x to 8 bits per 32-block for these types
                        // (docs/MATVEC.md): plus Σ|w|·d_x/2
                        for (int i = 0; i < cols; i++) {
                            double amax = 0;
                            for (int j = i / 32 * 32; j < i / 32 * 32 + 32; j++) {
                                amax = Math.max(amax, Math.abs(xv[t * cols + j]));
                            }
                            bound += 1.01 * Math.abs(w[o * cols + i]) * amax / 127 / 2;
                        }
                    }
                    double err = Math.abs(want[t * rows + o] - got[t * rows + o]);
                    if (!(err <= bound)) {
                        throw new AssertionError("matmul " + type + " " + rows + "x" + cols + " n=" + n + " y[" + t
                                + "][" + o + "]: CUDA " + got[t * rows + o] + ", CPU " + want[t * rows + o]
                                + " (|err| " + err + " > " + bound + ")");
                    }
                }
            }
        }
    }

    /**
     * The decode matvec's shape paths (matvec.cuh): few rows with long rows (eight warps a row), many
     * short rows (one warp a group), row counts that are no multiple of the rows a block takes, float
     * rows that are no multiple of 256 or of the 16-byte unit (the general kernel), and an x that is not
     * 16-byte aligned (the general kernel too).
     */
    @Test
    void decodeMatvecShapePathsMatchTheCpu() {
        SplittableRandom r = new SplittableRandom(5);
        for (DType type : TYPES) {
            int bs = type.blockSize();
            int shortCols = bs == 256 ? 768 : bs == 32 ? 352 : type == DType.F32 ? 100 : 296;
            int oddCols = bs == 1 ? 298 : shortCols;   // F32/F16/BF16: not a whole number of 16-byte units
            checkMatvec(type, 13, 8192, 0, r);
            checkMatvec(type, 1003, shortCols, 0, r);
            checkMatvec(type, 61, oddCols, 0, r);
            checkMatvec(type, 29, shortCols, 1, r);   // x one float past a 16-byte boundary
        }
    }

    /** One token through a rows × cols weight of type, x starting xOffset floats into its allocation. */
    static void checkMatvec(DType type, int rows, int cols, int xOffset, SplittableRandom r) {
        MemorySegment host = weightBytes(type, rows, cols, r);
        Tensor wc = cpu.weight(type, rows, cols, host);
        Tensor wg = gpu.weight(type, rows, cols, host);
        float[] w = new float[rows * cols];
        Dequantize.dequantize(GgmlType.byId(type.ggmlId()).orElseThrow(), host, (long) rows * cols, w, 0);
        float[] xv = values(cols, r, 1);
        Pair x = f32(1, cols, xv);
        Tensor xg = x.g;
        if (xOffset > 0) {
            Tensor wide = gpu.allocate(1, cols + xOffset);
            xg = new Tensor(DType.F32, 1, cols, wide.data().asSlice(4L * xOffset, 4L * cols));
            gpu.write(xv, 0, xg);
        }
        Pair y = f32(1, rows, new float[rows]);
        cpu.matmul(x.c, wc, y.c);
        gpu.matmul(xg, wg, y.g);
        float[] want = read(cpu, y.c);
        float[] got = read(gpu, y.g);
        for (int o = 0; o < rows; o++) {
            double abs = 0;
            double q8 = 0;
            for (int i = 0; i < cols; i++) {
                abs += Math.abs((double) w[o * cols + i] * xv[i]);
                if (Q8_ACTIVATIONS.contains(type)) {
                    double amax = 0;
                    for (int j = i / 32 * 32; j < i / 32 * 32 + 32; j++) {
                        amax = Math.max(amax, Math.abs(xv[j]));
                    }
                    q8 += 1.01 * Math.abs(w[o * cols + i]) * amax / 127 / 2;
                }
            }
            double bound = 2 * (cols + 8) * 0x1p-24 * abs + q8 + 1e-30;
            double err = Math.abs(want[o] - got[o]);
            if (!(err <= bound)) {
                throw new AssertionError("matvec " + type + " " + rows + "x" + cols + " (x offset " + xOffset + ") y["
                        + o + "]: CUDA " + got[o] + ", CPU " + want[o] + " (|err| " + err + " > " + bound + ")");
            }
        }
    }

    @Test
    void embeddingOfEveryTypeMatchesTheCpu() {
        SplittableRandom r = new SplittableRandom(2);
        for (DType type : TYPES) {
            int cols = type.isQuantized() ? type.blockSize() * 3 : 70;
            int vocab = 50;
            MemorySegment host = weightBytes(type, vocab, cols, r);
            Tensor tc = cpu.weight(type, vocab, cols, host);
            Tensor tg = gpu.weight(type, vocab, cols, host);
            int[] tokens = {0, 49, 7, 7, 23};
            Pair out = f32(tokens.length, cols, new float[tokens.length * cols]);
            cpu.embedding(tc, tokens, 1.5f, out.c);
            gpu.embedding(tg, tokens, 1.5f, out.g);
            assertClose(out, 1e-6, "embedding " + type);
            assertThrows(IllegalArgumentException.class, () -> gpu.embedding(tg, new int[] {0, 0, 0, 0, 50}, 1f, out.g));
        }
    }

    @Test
    void unsupportedTypesAreRefusedByName() {
        for (DType t : new DType[] {DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K}) {
            assertTrue(!gpu.supports(t));
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> gpu.weight(t, 1, t.blockSize(), arena.allocate(t.blockBytes())));
            assertTrue(e.getMessage().contains(t.name()), e.getMessage());
        }
        for (DType t : TYPES) {
            assertTrue(gpu.supports(t), t.name());
        }
    }

    @Test
    void normsMatchTheCpu() {
        SplittableRandom r = new SplittableRandom(3);
        for (boolean plusOne : new boolean[] {false, true}) {
            Pair x = random(5, 96, r, 3);
            Pair w = random(1, 96, r, 1);
            Pair out = f32(5, 96, new float[5 * 96]);
            cpu.rmsNorm(x.c, w.c, 1e-6f, plusOne, out.c);
            gpu.rmsNorm(x.g, w.g, 1e-6f, plusOne, out.g);
            assertClose(out, 1e-5, "rmsNorm rows plusOne=" + plusOne);
            Pair head = random(1, 16, r, 1); // per-head (QK-norm), in place
            cpu.rmsNorm(x.c, head.c, 1e-5f, plusOne, x.c);
            gpu.rmsNorm(x.g, head.g, 1e-5f, plusOne, x.g);
            assertClose(x, 1e-5, "rmsNorm per head, in place, plusOne=" + plusOne);
        }
        Pair x = random(4, 1000, r, 2);
        Pair w = random(1, 1000, r, 1);
        Pair b = random(1, 1000, r, 1);
        Pair out = f32(4, 1000, new float[4000]);
        cpu.layerNorm(x.c, w.c, b.c, 1e-5f, out.c);
        gpu.layerNorm(x.g, w.g, b.g, 1e-5f, out.g);
        assertClose(out, 1e-5, "layerNorm with bias");
        cpu.layerNorm(x.c, w.c, null, 1e-5f, x.c);
        gpu.layerNorm(x.g, w.g, null, 1e-5f, x.g);
        assertClose(x, 1e-5, "layerNorm without bias, in place");
    }

    @Test
    void ropeMatchesTheCpuInBothLayoutsWithPartialRotary() {
        SplittableRandom r = new SplittableRandom(4);
        int heads = 3;
        int headDim = 64;
        for (RopeLayout layout : RopeLayout.values()) {
            for (int rotary : new int[] {64, 32}) {
                float[] inv = new float[rotary / 2];
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = (float) Math.pow(10000, -2.0 * i / rotary);
                }
                RopeSpec spec = new RopeSpec(inv, layout == RopeLayout.NEOX ? 1f : 1.1f, rotary, layout);
                Pair x = random(4, heads * headDim, r, 1);
                int[] positions = {0, 1, 517, 4095};
                cpu.rope(x.c, heads, headDim, positions, spec);
                gpu.rope(x.g, heads, headDim, positions, spec);
                assertClose(x, 2e-6, "rope " + layout + " rotary " + rotary);
            }
        }
    }

    @Test
    void elementwiseOpsMatchTheCpu() {
        SplittableRandom r = new SplittableRandom(5);
        for (Activation act : Activation.values()) {
            Pair x = random(3, 333, r, 6);
            Pair out = f32(3, 333, new float[999]);
            cpu.activation(act, x.c, out.c);
            gpu.activation(act, x.g, out.g);
            assertClose(out, 1e-6, "activation " + act);
            Pair up = random(3, 333, r, 2);
            cpu.gatedActivation(act, x.c, up.c, x.c);
            gpu.gatedActivation(act, x.g, up.g, x.g);
            assertClose(x, 1e-6, "gated " + act + " in place");
        }
        Pair a = random(7, 129, r, 3);
        Pair b = random(7, 129, r, 3);
        Pair out = f32(7, 129, new float[7 * 129]);
        cpu.add(a.c, b.c, out.c);
        gpu.add(a.g, b.g, out.g);
        assertClose(out, 0, "add");
        Pair bias = random(1, 129, r, 1);
        cpu.addBias(out.c, bias.c);
        gpu.addBias(out.g, bias.g);
        assertClose(out, 0, "addBias");
        cpu.scale(out.c, 0.37f);
        gpu.scale(out.g, 0.37f);
        assertClose(out, 0, "scale");
        cpu.softCap(out.c, 2.5f);
        gpu.softCap(out.g, 2.5f);
        assertClose(out, 1e-7, "softCap");
    }

    @Test
    void argmaxReturnsTheFirstLargestOfTheRow() {
        SplittableRandom r = new SplittableRandom(6);
        float[] v = values(3 * 50_001, r, 10);
        v[50_001 + 12_345] = 99;
        v[50_001 + 40_000] = 99; // a tie: the first wins
        v[2 * 50_001 + 50_000] = 50;
        Pair x = f32(3, 50_001, v);
        for (int row = 0; row < 3; row++) {
            assertEquals(cpu.argmax(x.c, row), gpu.argmax(x.g, row), "row " + row);
        }
        assertEquals(12_345, gpu.argmax(x.g, 1));
        assertEquals(50_000, gpu.argmax(x.g, 2));
        assertThrows(IllegalArgumentException.class, () -> gpu.argmax(x.g, 3));
    }

    /** Layer 0: full attention, 2 KV heads of 64; layer 1: a sliding window of 7, 1 KV head of 32. */
    static KvCacheConfig kvConfig(KvType type) {
        return KvCacheConfig.builder().type(type).tokensPerBlock(4).fullLayer(2, 64).slidingLayer(7, 1, 32)
                .totalBlocks(64).build();
    }

    /**
     * Decode attention (one query, its own kernel) over a longer context, for every KV type: each warp
     * of the decode kernel takes several key steps, the last step partly past the query's position,
     * with GQA of 4 query heads a KV head, head dims of 128 and 80 (not a multiple of 32), a sliding
     * window and sinks.
     */
    @Test
    void decodeAttentionOverALongerContextMatchesTheCpu() {
        for (KvType type : KvType.values()) {
            int hd = type == KvType.Q8_0 ? 128 : 80;   // Q8_0 rows are whole 32-value blocks
            KvCacheConfig config = KvCacheConfig.builder().type(type).tokensPerBlock(16).fullLayer(2, hd)
                    .totalBlocks(40).build();
            SplittableRandom r = new SplittableRandom(31 + type.ordinal());
            try (KvBlockPool pc = cpu.newKvPool(config); KvBlockPool pg = gpu.newKvPool(config);
                 KvSequence sc = pc.newSequence(); KvSequence sg = pg.newSequence()) {
                int context = 301;
                sc.reserve(context);
                sg.reserve(context);
                Pair k = random(context, 2 * hd, r, 2);
                Pair v = random(context, 2 * hd, r, 2);
                cpu.storeKv(sc, 0, 0, k.c, v.c);
                gpu.storeKv(sg, 0, 0, k.g, v.g);
                float[] sinks = values(8, r, 1);
                AttentionSpec[] specs = {
                    AttentionSpec.causal(8, 2, hd),
                    new AttentionSpec(8, 2, hd, 0.09f, 100, 0, 0, sinks),
                    new AttentionSpec(8, 2, hd, 0.1f, 0, 64, 2.5f, null),
                };
                for (int position : new int[] {0, 37, context - 1}) {
                    for (AttentionSpec spec : specs) {
                        Pair q = random(1, 8 * hd, r, 1);
                        Pair out = f32(1, 8 * hd, new float[8 * hd]);
                        cpu.attention(q.c, sc, 0, position, spec, out.c);
                        gpu.attention(q.g, sg, 0, position, spec, out.g);
                        assertClose(out, 2e-5, type + " decode at " + position + " " + spec);
                    }
                }
            }
        }
    }

    @Test
    void pagedAttentionMatchesTheCpuForEveryKvTypeAndMask() {
        for (KvType type : KvType.values()) {
            SplittableRandom r = new SplittableRandom(7 + type.ordinal());
            try (KvBlockPool pc = cpu.newKvPool(kvConfig(type)); KvBlockPool pg = gpu.newKvPool(kvConfig(type));
                 KvSequence sc = pc.newSequence(); KvSequence sg = pg.newSequence()) {
                float[] sinks = values(4, r, 1);
                AttentionSpec[] specs0 = {
                    AttentionSpec.causal(4, 2, 64),
                    new AttentionSpec(4, 2, 64, 0.11f, 5, 0, 0, null),
                    new AttentionSpec(4, 2, 64, 0.125f, 0, 8, 0, null),
                    new AttentionSpec(4, 2, 64, 0.125f, 0, 0, 1.7f, sinks),
                };
                AttentionSpec spec1 = new AttentionSpec(2, 1, 32, 0.17f, 7, 0, 3f, null);
                int position = 0;
                for (int step : new int[] {13, 1, 1, 6, 1}) {
                    sc.reserve(step);
                    sg.reserve(step);
                    Pair k0 = random(step, 128, r, 2);
                    Pair v0 = random(step, 128, r, 2);
                    cpu.storeKv(sc, 0, position, k0.c, v0.c);
                    gpu.storeKv(sg, 0, position, k0.g, v0.g);
                    Pair k1 = random(step, 32, r, 2);
                    Pair v1 = random(step, 32, r, 2);
                    cpu.storeKv(sc, 1, position, k1.c, v1.c);
                    gpu.storeKv(sg, 1, position, k1.g, v1.g);
                    for (AttentionSpec spec : specs0) {
                        Pair q = random(step, 4 * 64, r, 1);
                        Pair out = f32(step, 4 * 64, new float[step * 256]);
                        cpu.attention(q.c, sc, 0, position, spec, out.c);
                        gpu.attention(q.g, sg, 0, position, spec, out.g);
                        assertClose(out, 2e-5, type + " layer 0 at " + position + " (" + step + " queries) " + spec);
                    }
                    Pair q = random(step, 2 * 32, r, 1);
                    Pair out = f32(step, 64, new float[step * 64]);
                    cpu.attention(q.c, sc, 1, position, spec1, out.c);
                    gpu.attention(q.g, sg, 1, position, spec1, out.g);
                    assertClose(out, 2e-5, type + " sliding layer at " + position);
                    position += step;
                }
                // A fork shares the prefix; appending copies the partial block on the device (copy-on-write).
                try (KvSequence fc = sc.fork(); KvSequence fg = sg.fork()) {
                    fc.reserve(1);
                    fg.reserve(1);
                    Pair k = random(1, 128, r, 2);
                    Pair v = random(1, 128, r, 2);
                    cpu.storeKv(fc, 0, position, k.c, v.c);
                    gpu.storeKv(fg, 0, position, k.g, v.g);
                    Pair k1 = random(1, 32, r, 2);
                    cpu.storeKv(fc, 1, position, k1.c, k1.c);
                    gpu.storeKv(fg, 1, position, k1.g, k1.g);
                    Pair q = random(1, 256, r, 1);
                    Pair out = f32(1, 256, new float[256]);
                    cpu.attention(q.c, fc, 0, position, specs0[0], out.c);
                    gpu.attention(q.g, fg, 0, position, specs0[0], out.g);
                    assertClose(out, 2e-5, type + " forked sequence");
                    assertThrows(IllegalStateException.class, () -> gpu.storeKv(sg, 0, 0, k.g, v.g),
                            "the shared prefix is read-only");
                }
                // The device pool refuses host access.
                float[] row = new float[64];
                assertThrows(IllegalStateException.class, () -> sg.readKey(0, 0, 0, row, 0));
                assertThrows(IllegalStateException.class, () -> sg.writeValue(0, 0, 0, row, 0));
                assertThrows(IllegalStateException.class, pg::segment);
            }
        }
    }

    /**
     * Prefill attention (the flash kernel: 32 queries a block, keys 64 at a time for head dim 128) over more
     * queries and keys than its tiles, in two prefill chunks (the second continues after cached keys), for
     * every KV type: GQA, chunked, sinks with soft-cap, and a sliding layer that has released blocks.
     */
    @Test
    void longPrefillAttentionMatchesTheCpuForEveryKvType() {
        for (KvType type : KvType.values()) {
            SplittableRandom r = new SplittableRandom(17 + type.ordinal());
            KvCacheConfig config = KvCacheConfig.builder().type(type).tokensPerBlock(16).fullLayer(2, 128)
                    .slidingLayer(40, 2, 64).totalBlocks(64).build();
            try (KvBlockPool pc = cpu.newKvPool(config); KvBlockPool pg = gpu.newKvPool(config);
                 KvSequence sc = pc.newSequence(); KvSequence sg = pg.newSequence()) {
                AttentionSpec[] specs0 = {
                    AttentionSpec.causal(8, 2, 128),
                    new AttentionSpec(8, 2, 128, 0.09f, 0, 48, 0, null),
                    new AttentionSpec(8, 2, 128, 0.1f, 0, 0, 20f, values(8, r, 2)),
                };
                AttentionSpec spec1 = new AttentionSpec(4, 2, 64, 0.125f, 40, 0, 0, null);
                int position = 0;
                for (int step : new int[] {150, 70}) {
                    sc.reserve(step);
                    sg.reserve(step);
                    Pair k0 = random(step, 2 * 128, r, 2);
                    Pair v0 = random(step, 2 * 128, r, 2);
                    cpu.storeKv(sc, 0, position, k0.c, v0.c);
                    gpu.storeKv(sg, 0, position, k0.g, v0.g);
                    Pair k1 = random(step, 2 * 64, r, 2);
                    Pair v1 = random(step, 2 * 64, r, 2);
                    cpu.storeKv(sc, 1, position, k1.c, v1.c);
                    gpu.storeKv(sg, 1, position, k1.g, v1.g);
                    for (AttentionSpec spec : specs0) {
                        Pair q = random(step, 8 * 128, r, 1);
                        Pair out = f32(step, 8 * 128, new float[step * 8 * 128]);
                        cpu.attention(q.c, sc, 0, position, spec, out.c);
                        gpu.attention(q.g, sg, 0, position, spec, out.g);
                        assertClose(out, 2e-5, type + " " + step + " queries at " + position + ", " + spec);
                    }
                    Pair q = random(step, 4 * 64, r, 1);
                    Pair out = f32(step, 4 * 64, new float[step * 4 * 64]);
                    cpu.attention(q.c, sc, 1, position, spec1, out.c);
                    gpu.attention(q.g, sg, 1, position, spec1, out.g);
                    assertClose(out, 2e-5, type + " sliding layer, " + step + " queries at " + position);
                    position += step;
                }
                assertTrue(sg.firstLiveToken(1) > 0, "the sliding layer released blocks");
            }
        }
    }

    @Test
    void foreignTensorsAndPoolsAreRefusedBeforeAnyLaunch() {
        Tensor host = cpu.allocate(2, 8);
        Tensor dev = gpu.allocate(2, 8);
        assertThrows(IllegalArgumentException.class, () -> gpu.add(host, dev, dev));
        assertThrows(IllegalArgumentException.class, () -> gpu.scale(host, 2f));
        assertThrows(IllegalArgumentException.class, () -> gpu.read(host, new float[16], 0));
        assertThrows(IllegalArgumentException.class, () -> gpu.write(new float[16], 0, host));
        try (KvBlockPool pc = cpu.newKvPool(kvConfig(KvType.F16)); KvSequence s = pc.newSequence()) {
            s.reserve(2);
            Tensor k = gpu.allocate(2, 128);
            assertThrows(IllegalArgumentException.class, () -> gpu.storeKv(s, 0, 0, k, k));
        }
        // A shape mismatch is named.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gpu.add(dev, gpu.allocate(2, 9), dev));
        assertTrue(e.getMessage().contains("shapes differ"), e.getMessage());
    }
}
