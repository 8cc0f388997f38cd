package dev.isthmus.runtime.model;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.format.UnsupportedModelException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.kernels.cpu.ref.Activations;
import dev.isthmus.kernels.cpu.ref.Attention;
import dev.isthmus.kernels.cpu.ref.AttentionOptions;
import dev.isthmus.kernels.cpu.ref.BasicOps;
import dev.isthmus.kernels.cpu.ref.Norms;
import dev.isthmus.kernels.cpu.ref.Rope;
import dev.isthmus.kernels.cpu.ref.RopeConfig;
import dev.isthmus.kernels.cpu.ref.RopeLayout;
import dev.isthmus.kernels.cpu.ref.RopeTables;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.convert.Family;
import dev.isthmus.safetensors.SafetensorsModel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference forward pass of every dense decoder family, in float32, on the plain CPU ops of
 * {@code dev.isthmus.kernels.cpu.ref} — the ground truth the fast backends are checked against,
 * and itself checked against Hugging Face transformers' logits. A {@link DenseSpec} says what each
 * family switches on; this class reads like the paper:
 *
 * <pre>
 * x = embed(tokens) · embedScale
 * for each layer:
 *     a = attnPreNorm(x)                      (if any)
 *     q, k, v = a·Wq (+bq), a·Wk (+bk), a·Wv (+bv)
 *     q, k = qkNorm(q), qkNorm(k)             (per head or whole projection, if any)
 *     q, k = rope(q), rope(k)                 (not on NoPE layers)
 *     o = attention(q, K, V) · Wo             (causal; sliding window, soft-cap, scale per layer)
 *     x = x + attnPostNorm(o)                 (if any)
 *     f = ffnPreNorm(x)                       (if any)
 *     x = x + ffnPostNorm((act(f·Wgate) ⊙ f·Wup) · Wdown)
 * logits = softCap(finalNorm(x) · Wout)
 * </pre>
 *
 * Keys and values live in a paged KV cache ({@link KvBlockPool}, float32 blocks); a {@link Session}
 * holds one sequence's cache, so prefill and one-token decode steps share one code path.
 * Instances are immutable and may be shared by threads; a session is for one thread at a time.
 */
public final class DenseTransformer {
    private final DenseSpec spec;
    private final float[] embed;
    private final float[] output;
    private final float[] finalNorm;
    private final LayerWeights[] layers;
    private final Map<RopeConfig, Rope> ropes = new HashMap<>();
    private final java.util.concurrent.ForkJoinPool pool;

    private record LayerWeights(float[] attnPre, float[] attnPost, float[] ffnPre, float[] ffnPost,
                                float[] wq, float[] wk, float[] wv, float[] bq, float[] bk, float[] bv, float[] wo,
                                float[] qNorm, float[] kNorm, float[] wGate, float[] wUp, float[] wDown) {
    }

    private DenseTransformer(DenseSpec spec, Weights w, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        this.spec = spec;
        this.pool = threads == 1 ? null : new java.util.concurrent.ForkJoinPool(threads);
        int h = spec.hidden();
        int qDim = spec.heads() * spec.headDim();
        int kvDim = spec.kvHeads() * spec.headDim();
        int ff = spec.intermediate();
        embed = w.get("model.embed_tokens.weight", spec.vocab(), h);
        output = spec.tiedEmbeddings() && !w.has("lm_head.weight") ? embed : w.get("lm_head.weight", spec.vocab(), h);
        finalNorm = w.get("model.norm.weight", h);
        layers = new LayerWeights[spec.layers().size()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            float[] wq;
            float[] wk;
            float[] wv;
            if (spec.fusedQkv()) {
                float[] qkv = w.get(p + "self_attn.qkv_proj.weight", qDim + 2L * kvDim, h);
                wq = Arrays.copyOfRange(qkv, 0, qDim * h);
                wk = Arrays.copyOfRange(qkv, qDim * h, (qDim + kvDim) * h);
                wv = Arrays.copyOfRange(qkv, (qDim + kvDim) * h, (qDim + 2 * kvDim) * h);
            } else {
                wq = w.get(p + "self_attn.q_proj.weight", qDim, h);
                wk = w.get(p + "self_attn.k_proj.weight", kvDim, h);
                wv = w.get(p + "self_attn.v_proj.weight", kvDim, h);
            }
            float[] gate;
            float[] up;
            if (spec.fusedGateUp()) {
                float[] gu = w.get(p + "mlp.gate_up_proj.weight", 2L * ff, h);
                gate = Arrays.copyOfRange(gu, 0, ff * h);
                up = Arrays.copyOfRange(gu, ff * h, 2 * ff * h);
            } else {
                gate = w.get(p + "mlp.gate_proj.weight", ff, h);
                up = w.get(p + "mlp.up_proj.weight", ff, h);
            }
            int qn = spec.qkNorm() == DenseSpec.QkNorm.WHOLE ? qDim : spec.headDim();
            int kn = spec.qkNorm() == DenseSpec.QkNorm.WHOLE ? kvDim : spec.headDim();
            boolean qk = spec.qkNorm() != DenseSpec.QkNorm.NONE;
            layers[l] = new LayerWeights(
                    norm(w, p, spec.attnPreNorm(), h), norm(w, p, spec.attnPostNorm(), h),
                    norm(w, p, spec.ffnPreNorm(), h), norm(w, p, spec.ffnPostNorm(), h),
                    wq, wk, wv,
                    spec.qkvBias() ? w.get(p + "self_attn.q_proj.bias", qDim) : null,
                    spec.qkvBias() ? w.get(p + "self_attn.k_proj.bias", kvDim) : null,
                    spec.qkvBias() ? w.get(p + "self_attn.v_proj.bias", kvDim) : null,
                    w.get(p + "self_attn.o_proj.weight", h, qDim),
                    qk ? w.get(p + "self_attn.q_norm.weight", qn) : null,
                    qk ? w.get(p + "self_attn.k_norm.weight", kn) : null,
                    gate, up, w.get(p + "mlp.down_proj.weight", h, ff));
            RopeConfig rc = spec.layers().get(l).rope();
            if (rc != null) {
                ropes.computeIfAbsent(rc, c -> new Rope(c, spec.headDim(), spec.maxPositions()));
            }
        }
    }

    private static float[] norm(Weights w, String prefix, String name, int dim) {
        return name == null ? null : w.get(prefix + name + ".weight", dim);
    }

    /**
     * Loads a model into float32 arrays: an HF folder (config.json and safetensors), or a GGUF file
     * (told apart by being a directory, or by the GGUF magic). A GGUF file's spec comes from its
     * metadata ({@link GgufConfig}); its tensors are dequantized and put back in HF layout
     * ({@link GgufWeights}).
     *
     * @throws ModelFormatException      for a malformed model, or a file that is neither, naming the problem
     * @throws UnsupportedModelException for an unsupported model type or GGUF architecture (naming it and the
     *                                   supported ones), or a GGUF tensor type Isthmus cannot compute with
     */
    public static DenseTransformer load(Path path) throws IOException {
        return load(path, 1);
    }

    /**
     * Loads an HF folder or a GGUF file, computing with {@code threads} threads (matrix products are
     * split by output rows; results do not depend on the thread count).
     */
    public static DenseTransformer load(Path path, int threads) throws IOException {
        if (Files.isDirectory(path)) {
            HfConfig config = HfConfig.read(path.resolve("config.json"));
            DenseSpec spec = Families.spec(config);
            try (SafetensorsModel m = SafetensorsModel.open(path)) {
                return new DenseTransformer(spec, new SafetensorsWeights(m), threads);
            }
        }
        if (!isGguf(path)) {
            throw new ModelFormatException(path, 0, "neither a Hugging Face model folder nor a GGUF file");
        }
        try (GgufFile f = GgufFile.open(path)) {
            Family family = family(f);
            f.requireComputable();
            DenseSpec spec = ggufSpec(f, family);
            return new DenseTransformer(spec, new GgufWeights(f, family, spec.heads(), spec.kvHeads()), threads);
        }
    }

    /** The family of a GGUF file's architecture, or an {@link UnsupportedModelException} naming it and the supported ones. */
    static Family family(GgufFile f) {
        String arch = f.architecture();
        if (arch == null) {
            throw new ModelFormatException(f.path(), -1, "GGUF file has no " + GgufFile.ARCHITECTURE_KEY);
        }
        return Family.ofArch(arch).orElseThrow(() -> new UnsupportedModelException(f.path(), -1,
                "GGUF architecture '" + arch + "' is not supported; supported: "
                        + String.join(", ", Family.supportedArchs())));
    }

    /** The spec a GGUF file's metadata describes (with its RoPE frequency factors, if any). */
    static DenseSpec ggufSpec(GgufFile f, Family family) {
        DenseSpec spec = Families.spec(GgufConfig.hfConfig(f, family));
        List<Double> freqs = GgufConfig.ropeFreqs(f);
        if (!freqs.isEmpty()) {
            List<DenseSpec.Layer> layers = new ArrayList<>();
            for (DenseSpec.Layer l : spec.layers()) {
                layers.add(l.rope() == null ? l : new DenseSpec.Layer(l.slidingWindow(), l.rope().withFreqFactors(freqs)));
            }
            spec = spec.withLayers(layers);
        }
        return spec;
    }

    static boolean isGguf(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && ByteBuffer.wrap(magic).order(ByteOrder.LITTLE_ENDIAN).getInt() == GgufFile.MAGIC;
        }
    }

    /** What this model is. */
    public DenseSpec spec() {
        return spec;
    }

    /** A new sequence with room for {@code maxTokens} tokens in its KV cache. */
    public Session newSession(int maxTokens) {
        return new Session(maxTokens);
    }

    /** Logits for every position of {@code tokens}, computed in one pass with a fresh cache: {@code [tokens][vocab]}. */
    public float[] logits(int[] tokens) {
        try (Session s = newSession(tokens.length)) {
            return s.forward(tokens);
        }
    }

    /**
     * One sequence: its paged KV cache and its RoPE schedule (which, like transformers'
     * {@code dynamic_rope_update}, depends on the positions seen so far).
     */
    public final class Session implements AutoCloseable {
        private final KvBlockPool pool;
        private final KvSequence seq;
        private final Map<RopeConfig, Rope.Schedule> schedules = new HashMap<>();
        private final int capacity;

        private Session(int maxTokens) {
            if (maxTokens < 1) {
                throw new IllegalArgumentException("maxTokens must be positive: " + maxTokens);
            }
            KvCacheConfig.Builder b = KvCacheConfig.builder().type(KvType.F32);
            for (DenseSpec.Layer layer : spec.layers()) {
                if (layer.slidingWindow() > 0) {
                    b.slidingLayer(layer.slidingWindow(), spec.kvHeads(), spec.headDim());
                } else {
                    b.fullLayer(spec.kvHeads(), spec.headDim());
                }
            }
            int perBlock = KvCacheConfig.DEFAULT_TOKENS_PER_BLOCK;
            b.totalBlocks(spec.layers().size() * ((maxTokens + perBlock - 1) / perBlock + 1));
            pool = new KvBlockPool(b.build());
            seq = pool.newSequence();
            capacity = maxTokens;
            ropes.forEach((c, r) -> schedules.put(c, r.schedule()));
        }

        /** Tokens in the cache so far (the next token's position). */
        public int length() {
            return seq.length();
        }

        /**
         * Runs {@code tokens} after those already in the cache and returns their logits, {@code [tokens][vocab]}.
         *
         * @throws IllegalArgumentException for a token outside the vocabulary, no tokens, or more tokens than the session holds
         */
        public float[] forward(int[] tokens) {
            int n = tokens.length;
            if (n == 0) {
                throw new IllegalArgumentException("no tokens to run");
            }
            if (seq.length() + n > capacity) {
                throw new IllegalArgumentException("sequence of " + (seq.length() + n) + " tokens exceeds this session's "
                        + capacity);
            }
            for (int t : tokens) {
                if (t < 0 || t >= spec.vocab()) {
                    throw new IllegalArgumentException("token id " + t + " is outside the vocabulary [0, " + spec.vocab() + ")");
                }
            }
            int start = seq.reserve(n);
            int[] positions = new int[n];
            for (int i = 0; i < n; i++) {
                positions[i] = start + i;
            }
            int h = spec.hidden();
            float[] x = new float[n * h];
            BasicOps.embedding(embed, h, tokens, spec.embedScale(), x);
            for (int l = 0; l < layers.length; l++) {
                attention(l, x, n, positions);
                feedForward(l, x, n);
            }
            float[] normed = new float[n * h];
            norm(x, finalNorm, normed);
            float[] logits = matmul(normed, n, h, output, spec.vocab(), null);
            if (spec.finalSoftCap() > 0) {
                BasicOps.softCap(logits, 0, logits.length, spec.finalSoftCap());
            }
            return logits;
        }

        private void attention(int l, float[] x, int n, int[] positions) {
            LayerWeights w = layers[l];
            DenseSpec.Layer layer = spec.layers().get(l);
            int h = spec.hidden();
            int hd = spec.headDim();
            int heads = spec.heads();
            int kvHeads = spec.kvHeads();
            float[] a = w.attnPre() == null ? x : normed(x, w.attnPre());
            float[] q = matmul(a, n, h, w.wq(), heads * hd, w.bq());
            float[] k = matmul(a, n, h, w.wk(), kvHeads * hd, w.bk());
            float[] v = matmul(a, n, h, w.wv(), kvHeads * hd, w.bv());
            if (spec.qkNorm() != DenseSpec.QkNorm.NONE) {
                // the norm's weight length picks the rows: one head (PER_HEAD) or the whole projection (WHOLE)
                norm(q, w.qNorm(), q);
                norm(k, w.kNorm(), k);
            }
            if (layer.rope() != null) {
                RopeTables tables = schedules.get(layer.rope()).forward(positions);
                tables.apply(q, heads, hd, positions, RopeLayout.NEOX);
                tables.apply(k, kvHeads, hd, positions, RopeLayout.NEOX);
            }
            for (int t = 0; t < n; t++) {
                for (int g = 0; g < kvHeads; g++) {
                    seq.writeKey(l, positions[t], g, k, (t * kvHeads + g) * hd);
                    seq.writeValue(l, positions[t], g, v, (t * kvHeads + g) * hd);
                }
            }
            int nKv = seq.length();
            float[] keys = new float[nKv * kvHeads * hd];
            float[] values = new float[nKv * kvHeads * hd];
            for (int j = seq.firstLiveToken(l); j < nKv; j++) {
                for (int g = 0; g < kvHeads; g++) {
                    seq.readKey(l, j, g, keys, (j * kvHeads + g) * hd);
                    seq.readValue(l, j, g, values, (j * kvHeads + g) * hd);
                }
            }
            AttentionOptions opts = new AttentionOptions(true, layer.slidingWindow(), 0, null, spec.attnSoftCap(),
                    spec.attnScale());
            float[] attn = new float[n * heads * hd];
            Attention.attend(q, n, heads, hd, positions, keys, values, nKv, kvHeads, opts, attn);
            float[] o = matmul(attn, n, heads * hd, w.wo(), h, null);
            if (w.attnPost() != null) {
                norm(o, w.attnPost(), o);
            }
            BasicOps.add(x, 0, o, 0, x, 0, x.length);
        }

        private void feedForward(int l, float[] x, int n) {
            LayerWeights w = layers[l];
            int h = spec.hidden();
            int ff = spec.intermediate();
            float[] a = w.ffnPre() == null ? x : normed(x, w.ffnPre());
            float[] gate = matmul(a, n, h, w.wGate(), ff, null);
            float[] up = matmul(a, n, h, w.wUp(), ff, null);
            float[] act = new float[n * ff];
            switch (spec.activation()) {
                case SILU -> Activations.swiGlu(gate, 0, up, 0, act, 0, act.length);
                case GELU_TANH -> Activations.geGlu(gate, 0, up, 0, act, 0, act.length);
            }
            float[] down = matmul(act, n, ff, w.wDown(), h, null);
            if (w.ffnPost() != null) {
                norm(down, w.ffnPost(), down);
            }
            BasicOps.add(x, 0, down, 0, x, 0, x.length);
        }

        private float[] normed(float[] x, float[] weight) {
            float[] out = new float[x.length];
            norm(x, weight, out);
            return out;
        }

        /** RMSNorm of every row of {@code weight.length} values (so per head when the weight is head-sized). */
        private void norm(float[] x, float[] weight, float[] out) {
            if (spec.norm() == DenseSpec.NormKind.GEMMA) {
                Norms.gemmaRmsNorm(x, weight, spec.eps(), out);
            } else {
                Norms.rmsNorm(x, weight, spec.eps(), out);
            }
        }

        @Override
        public void close() {
            seq.close();
            pool.close();
        }
    }

    /**
     * {@code y[t][o] = sum_i x[t][i] * w[o][i] (+ b[o])} for {@code n} rows: HF's Linear with weight
     * {@code [out][in]}, accumulated in double. Output rows are split among the threads.
     */
    float[] matmul(float[] x, int n, int in, float[] w, int out, float[] bias) {
        float[] y = new float[n * out];
        java.util.function.IntConsumer row = o -> {
            int wb = o * in;
            for (int t = 0; t < n; t++) {
                int xb = t * in;
                double acc = 0;
                for (int i = 0; i < in; i++) {
                    acc += (double) x[xb + i] * w[wb + i];
                }
                y[t * out + o] = (float) acc + (bias == null ? 0f : bias[o]);
            }
        };
        if (pool == null || (long) n * out * in < 1 << 16) {
            for (int o = 0; o < out; o++) {
                row.accept(o);
            }
        } else {
            pool.submit(() -> java.util.stream.IntStream.range(0, out).parallel().forEach(row)).join();
        }
        return y;
    }

    /** Greedy continuation: {@code count} tokens after {@code prompt}, with the KV cache (one token per step). */
    public int[] greedy(int[] prompt, int count) {
        int[] out = new int[count];
        try (Session s = newSession(prompt.length + count)) {
            float[] logits = s.forward(prompt);
            int next = BasicOps.argmax(logits, (prompt.length - 1) * spec.vocab(), spec.vocab());
            for (int i = 0; i < count; i++) {
                out[i] = next;
                if (i + 1 < count) {
                    next = BasicOps.argmax(s.forward(new int[] {next}), 0, spec.vocab());
                }
            }
        }
        return out;
    }

    /** Greedy continuation without a cache: every step recomputes the whole sequence from scratch. */
    public int[] greedyWithoutCache(int[] prompt, int count) {
        int[] seqTokens = Arrays.copyOf(prompt, prompt.length + count);
        for (int i = 0; i < count; i++) {
            int len = prompt.length + i;
            float[] logits = logits(Arrays.copyOf(seqTokens, len));
            seqTokens[len] = BasicOps.argmax(logits, (len - 1) * spec.vocab(), spec.vocab());
        }
        return Arrays.copyOfRange(seqTokens, prompt.length, seqTokens.length);
    }

    /** The supported HF model types (for messages). */
    public static List<String> supported() {
        return Families.supported();
    }
}
