package dev.isthmus.runtime.model;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.format.UnsupportedModelException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.kernels.cpu.ref.Rope;
import dev.isthmus.kernels.cpu.ref.RopeConfig;
import dev.isthmus.kernels.cpu.ref.RopeTables;
import dev.isthmus.memory.backend.Activation;
import dev.isthmus.memory.backend.AttentionSpec;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.StepMismatchException;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.convert.Family;
import dev.isthmus.safetensors.SafetensorsModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The forward pass of every dense decoder family on a {@link Backend}, over the weights as the file
 * stores them (zero copy on the CPU: the kernels read the mapped GGUF or safetensors bytes in their
 * own format). Same equations as the float32 reference {@link DenseTransformer}, same {@link DenseSpec}:
 *
 * <pre>
 * x = embed(tokens) · embedScale
 * for each layer:
 *     a = attnPreNorm(x)                      (if any)
 *     q, k, v = a·Wq (+bq), a·Wk (+bk), a·Wv (+bv)
 *     q, k = qkNorm(q), qkNorm(k)             (per head or whole projection, if any)
 *     q, k = rope(q), rope(k)                 (not on NoPE layers)
 *     o = attention(q, K, V) · Wo             (paged KV cache; causal, sliding window, soft-cap, scale)
 *     x = x + attnPostNorm(o)                 (if any)
 *     f = ffnPreNorm(x)                       (if any)
 *     x = x + ffnPostNorm((act(f·Wgate) ⊙ f·Wup) · Wdown)
 * logits = softCap(finalNorm(x) · Wout)
 * </pre>
 *
 * Activation buffers for up to {@code maxBatch} tokens are allocated once; a longer prompt runs in
 * chunks of that size. Steps of all sessions run one at a time (the model is locked during a
 * forward), so sessions may be used from different threads.
 */
public final class DenseModel implements AutoCloseable {
    /** Default tokens per prefill chunk. */
    public static final int DEFAULT_MAX_BATCH = 64;

    private final DenseSpec spec;
    private final Backend backend;
    private final AutoCloseable file;
    private final int maxBatch;
    private final boolean plusOne;
    private final RopeLayout ropeLayout;
    private final Tensor embed;
    private final Tensor output;
    private final Tensor finalNorm;
    private final Layer[] layers;
    private final AttentionSpec[] attention;
    private final Map<RopeConfig, Rope> ropes = new HashMap<>();
    private final long weightBytesPerToken;
    private final long layerMatmulElements;
    private final String weightTypes;
    private final Buffers full;
    private final Buffers one;
    private boolean closed;

    private record Layer(Tensor attnPre, Tensor attnPost, Tensor ffnPre, Tensor ffnPost, Tensor wq, Tensor wk,
                         Tensor wv, Tensor bq, Tensor bk, Tensor bv, Tensor wo, Tensor qNorm, Tensor kNorm, Tensor gate,
                         Tensor up, Tensor down) {
    }

    /** Activation tensors for n tokens (views of the same memory for every n). */
    private record Buffers(int n, Tensor x, Tensor xb, Tensor q, Tensor k, Tensor v, Tensor att, Tensor o, Tensor gate,
                           Tensor up, Tensor logits) {
        Buffers first(int count) {
            return new Buffers(count, x.rows(0, count), xb.rows(0, count), q.rows(0, count), k.rows(0, count),
                    v.rows(0, count), att.rows(0, count), o.rows(0, count), gate.rows(0, count), up.rows(0, count),
                    logits.rows(0, count));
        }
    }

    private DenseModel(DenseSpec spec, StoredTensors w, AutoCloseable file, Backend backend, int maxBatch) {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("maxBatch must be at least 1: " + maxBatch);
        }
        this.spec = spec;
        this.backend = backend;
        this.copiesWeights = !backend.name().equals("cpu");
        this.file = file;
        this.maxBatch = maxBatch;
        this.plusOne = spec.norm() == DenseSpec.NormKind.GEMMA && !w.normsIncludeOne();
        this.ropeLayout = w.ropeLayout();
        int h = spec.hidden();
        int qDim = spec.heads() * spec.headDim();
        int kvDim = spec.kvHeads() * spec.headDim();
        int ff = spec.intermediate();
        long bytes = 0;
        long elements = 0;
        Map<DType, Long> types = new java.util.TreeMap<>();
        embed = matrix(w, "model.embed_tokens.weight", spec.vocab(), h);
        if (spec.tiedEmbeddings() && !w.has("lm_head.weight")) {
            output = embed;
        } else {
            output = matrix(w, "lm_head.weight", spec.vocab(), h);
        }
        bytes += output.byteSize();
        types.merge(output.dtype(), output.byteSize(), Long::sum);
        finalNorm = vector(w, "model.norm.weight", h);
        layers = new Layer[spec.layers().size()];
        attention = new AttentionSpec[layers.length];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            Tensor wq;
            Tensor wk;
            Tensor wv;
            if (spec.fusedQkv()) {
                Tensor qkv = matrix(w, p + "self_attn.qkv_proj.weight", qDim + 2 * kvDim, h);
                wq = qkv.rows(0, qDim);
                wk = qkv.rows(qDim, kvDim);
                wv = qkv.rows(qDim + kvDim, kvDim);
            } else {
                wq = matrix(w, p + "self_attn.q_proj.weight", qDim, h);
                wk = matrix(w, p + "self_attn.k_proj.weight", kvDim, h);
                wv = matrix(w, p + "self_attn.v_proj.weight", kvDim, h);
            }
            Tensor gate;
            Tensor up;
            if (spec.fusedGateUp()) {
                Tensor gu = matrix(w, p + "mlp.gate_up_proj.weight", 2 * ff, h);
                gate = gu.rows(0, ff);
                up = gu.rows(ff, ff);
            } else {
                gate = matrix(w, p + "mlp.gate_proj.weight", ff, h);
                up = matrix(w, p + "mlp.up_proj.weight", ff, h);
            }
            boolean qk = spec.qkNorm() != DenseSpec.QkNorm.NONE;
            int qn = spec.qkNorm() == DenseSpec.QkNorm.WHOLE ? qDim : spec.headDim();
            int kn = spec.qkNorm() == DenseSpec.QkNorm.WHOLE ? kvDim : spec.headDim();
            Layer layer = new Layer(
                    norm(w, p, spec.attnPreNorm(), h), norm(w, p, spec.attnPostNorm(), h),
                    norm(w, p, spec.ffnPreNorm(), h), norm(w, p, spec.ffnPostNorm(), h),
                    wq, wk, wv,
                    spec.qkvBias() ? vector(w, p + "self_attn.q_proj.bias", qDim) : null,
                    spec.qkvBias() ? vector(w, p + "self_attn.k_proj.bias", kvDim) : null,
                    spec.qkvBias() ? vector(w, p + "self_attn.v_proj.bias", kvDim) : null,
                    matrix(w, p + "self_attn.o_proj.weight", h, qDim),
                    qk ? vector(w, p + "self_attn.q_norm.weight", qn) : null,
                    qk ? vector(w, p + "self_attn.k_norm.weight", kn) : null,
                    gate, up, matrix(w, p + "mlp.down_proj.weight", h, ff));
            layers[l] = layer;
            for (Tensor t : new Tensor[] {layer.wq(), layer.wk(), layer.wv(), layer.wo(), layer.gate(), layer.up(),
                    layer.down()}) {
                bytes += t.byteSize();
                elements += (long) t.rows() * t.cols();
                types.merge(t.dtype(), t.byteSize(), Long::sum);
            }
            DenseSpec.Layer ls = spec.layers().get(l);
            attention[l] = new AttentionSpec(spec.heads(), spec.kvHeads(), spec.headDim(), spec.attnScale(),
                    ls.slidingWindow(), 0, spec.attnSoftCap(), null);
            if (ls.rope() != null) {
                ropes.computeIfAbsent(ls.rope(), c -> new Rope(c, spec.headDim(), spec.maxPositions()));
            }
        }
        weightBytesPerToken = bytes;
        if (copiesWeights) {
            double s = (System.nanoTime() - uploadStart) / 1e9;
            LOG.log(System.Logger.Level.INFO, String.format(java.util.Locale.ROOT,
                    "weights on %s: %.2f GiB in %.1f s (%.1f GB/s)", backend.name(), uploaded / 1073741824.0, s,
                    uploaded / 1e9 / Math.max(s, 1e-9)));
        }
        layerMatmulElements = elements;
        StringBuilder sb = new StringBuilder();
        long total = types.values().stream().mapToLong(Long::longValue).sum();
        types.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).forEach(e ->
                sb.append(sb.isEmpty() ? "" : "+").append(e.getKey()));
        weightTypes = total == 0 ? "?" : sb.toString();
        full = new Buffers(maxBatch, backend.allocate(maxBatch, h), backend.allocate(maxBatch, h),
                backend.allocate(maxBatch, qDim), backend.allocate(maxBatch, kvDim), backend.allocate(maxBatch, kvDim),
                backend.allocate(maxBatch, qDim), backend.allocate(maxBatch, h), backend.allocate(maxBatch, ff),
                backend.allocate(maxBatch, ff), backend.allocate(maxBatch, spec.vocab()));
        one = full.first(1);
    }

    private Tensor matrix(StoredTensors w, String name, int rows, int cols) {
        StoredTensors.Raw r = w.raw(name, rows, cols);
        if (!backend.supports(r.type())) {
            throw new UnsupportedModelException(w.source(), -1, "tensor '" + r.name() + "' has type " + r.type()
                    + ", which the " + backend.name() + " backend cannot compute with");
        }
        Tensor t = backend.weight(r.type(), r.rows(), r.cols(), r.bytes());
        if (copiesWeights) {
            uploaded += r.bytes().byteSize();
            if (uploaded >= nextReport) {
                LOG.log(System.Logger.Level.INFO, String.format(java.util.Locale.ROOT,
                        "uploading weights to %s: %.1f GiB so far (%.1f s)", backend.name(), uploaded / 1073741824.0,
                        (System.nanoTime() - uploadStart) / 1e9));
                nextReport = uploaded + UPLOAD_REPORT_BYTES;
            }
        }
        return t;
    }

    private static final System.Logger LOG = System.getLogger(DenseModel.class.getName());
    /** Upload progress is logged every this many bytes (device backends; the CPU reads weights in place). */
    private static final long UPLOAD_REPORT_BYTES = 1L << 30;
    private final boolean copiesWeights;
    private final long uploadStart = System.nanoTime();
    private long uploaded;
    private long nextReport = UPLOAD_REPORT_BYTES;

    private Tensor vector(StoredTensors w, String name, int n) {
        float[] values = w.floats(name, n);
        Tensor t = backend.allocate(1, n);
        backend.write(values, 0, t);
        return t;
    }

    private Tensor norm(StoredTensors w, String prefix, String name, int dim) {
        return name == null ? null : vector(w, prefix + name + ".weight", dim);
    }

    /**
     * Loads an HF folder (config.json and F32/F16/BF16 safetensors) or a GGUF file onto {@code backend}
     * (not owned: close it after the model). The file stays mapped until {@link #close()}.
     *
     * @throws ModelFormatException      for a malformed model, naming the problem
     * @throws UnsupportedModelException for an unsupported architecture or a tensor type the backend cannot compute with
     */
    public static DenseModel load(Path path, Backend backend) throws IOException {
        return load(path, backend, DEFAULT_MAX_BATCH);
    }

    /** As {@link #load(Path, Backend)}, with prefill chunks of at most {@code maxBatch} tokens. */
    public static DenseModel load(Path path, Backend backend, int maxBatch) throws IOException {
        Objects.requireNonNull(backend, "backend");
        if (Files.isDirectory(path)) {
            HfConfig config = HfConfig.read(path.resolve("config.json"));
            DenseSpec spec = Families.spec(config);
            SafetensorsModel m = SafetensorsModel.open(path);
            try {
                return new DenseModel(spec, new StoredTensors.Safetensors(m), m, backend, maxBatch);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }
        if (!DenseTransformer.isGguf(path)) {
            throw new ModelFormatException(path, 0, "neither a Hugging Face model folder nor a GGUF file");
        }
        GgufFile f = GgufFile.open(path);
        try {
            Family family = DenseTransformer.family(f);
            f.requireComputable();
            DenseSpec spec = DenseTransformer.ggufSpec(f, family);
            return new DenseModel(spec, new StoredTensors.Gguf(f, family), f, backend, maxBatch);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** What this model is. */
    public DenseSpec spec() {
        return spec;
    }

    /** The backend it runs on. */
    public Backend backend() {
        return backend;
    }

    /**
     * Weight elements of the layers' matrices (the output matrix and the embedding not counted): a prompt
     * token costs {@code 2 ×} this many floating-point operations in matmuls (attention not counted).
     */
    public long layerMatmulElements() {
        return layerMatmulElements;
    }

    /** Bytes of weights read for one generated token (every matrix once; the embedding row not counted). */
    public long weightBytesPerToken() {
        return weightBytesPerToken;
    }

    /** The matrix weights' types, most bytes first, e.g. {@code Q4_K+Q6_K}. */
    public String weightTypes() {
        return weightTypes;
    }

    /** Tokens per prefill chunk. */
    public int maxBatch() {
        return maxBatch;
    }

    /** A new sequence with room for {@code maxTokens} tokens, in a KV pool of its own stored as {@code kvType}. */
    public Session newSession(int maxTokens, KvType kvType) {
        return new Session(maxTokens, kvType, null);
    }

    /**
     * A KV block pool in the backend's memory, laid out for this model, with room for
     * {@code tokens} tokens in all (shared by the sequences made from it with {@link #newSession(KvBlockPool, int)}).
     */
    public KvBlockPool newKvPool(int tokens, KvType kvType) {
        if (tokens < 1) {
            throw new IllegalArgumentException("tokens must be positive: " + tokens);
        }
        synchronized (this) {
            checkOpen();
            return backend.newKvPool(cacheConfig(tokens, kvType, 0));
        }
    }

    /**
     * A new sequence of at most {@code maxTokens} tokens whose blocks come from {@code pool} (made by
     * {@link #newKvPool}); closing the session gives its blocks back, the pool stays open.
     *
     * @throws dev.isthmus.memory.kv.KvCacheFullException when a step needs blocks the pool no longer has
     */
    public Session newSession(KvBlockPool pool, int maxTokens) {
        return new Session(maxTokens, pool.config().type(), Objects.requireNonNull(pool, "pool"));
    }

    private KvCacheConfig cacheConfig(int tokens, KvType kvType, int sequences) {
        KvCacheConfig.Builder b = KvCacheConfig.builder().type(kvType);
        for (DenseSpec.Layer layer : spec.layers()) {
            if (layer.slidingWindow() > 0) {
                b.slidingLayer(layer.slidingWindow(), spec.kvHeads(), spec.headDim());
            } else {
                b.fullLayer(spec.kvHeads(), spec.headDim());
            }
        }
        int perBlock = KvCacheConfig.DEFAULT_TOKENS_PER_BLOCK;
        b.totalBlocks(spec.layers().size() * ((tokens + perBlock - 1) / perBlock + 1 + sequences));
        return b.build();
    }

    /** Logits for every position of {@code tokens} with a fresh F32 cache: {@code [tokens][vocab]}. */
    public float[] logits(int[] tokens) {
        try (Session s = newSession(Math.max(1, tokens.length), KvType.F32)) {
            return s.forward(tokens, true);
        }
    }

    /** Greedy continuation: {@code count} tokens after {@code prompt}, with the KV cache (one token per step). */
    public int[] greedy(int[] prompt, int count, KvType kvType) {
        int[] out = new int[count];
        if (count == 0) {
            return out;
        }
        try (Session s = newSession(prompt.length + count, kvType)) {
            int next = s.next(prompt);
            int[] step = new int[1];
            for (int i = 0; i < count; i++) {
                out[i] = next;
                if (i + 1 < count) {
                    step[0] = next;
                    next = s.next(step);
                }
            }
        }
        return out;
    }

    /**
     * One sequence: its paged KV cache (in the backend's memory) and its RoPE schedule.
     */
    public final class Session implements AutoCloseable {
        private final KvBlockPool pool;
        private final KvSequence seq;
        private final Map<RopeConfig, Rope.Schedule> schedules = new HashMap<>();
        private final Map<RopeConfig, RopeSpec> ropeSpecs = new HashMap<>();
        private final Map<RopeConfig, RopeTables> ropeTables = new HashMap<>();
        private final int capacity;
        private final int[] onePosition = new int[1];
        /** Keys of this session's decode steps for {@link Backend#beginStep} (argmax only / logits read). */
        private final Object argmaxStep = new Object();
        private final Object logitsStep = new Object();
        private final RopeConfig[] ropeConfigs;
        private int[] positions = new int[0];
        /** Largest position of the current call: RoPE schedules that depend on the length see the whole call, as in one pass. */
        private int callMaxPosition;

        private final boolean ownsPool;

        private Session(int maxTokens, KvType kvType, KvBlockPool shared) {
            if (maxTokens < 1) {
                throw new IllegalArgumentException("maxTokens must be positive: " + maxTokens);
            }
            synchronized (DenseModel.this) {
                checkOpen();
                pool = shared != null ? shared : backend.newKvPool(cacheConfig(maxTokens, kvType, 0));
            }
            ownsPool = shared == null;
            seq = pool.newSequence();
            capacity = maxTokens;
            ropes.forEach((c, r) -> schedules.put(c, r.schedule()));
            ropeConfigs = ropes.keySet().toArray(new RopeConfig[0]);
        }

        /** Tokens in the cache so far (the next token's position). */
        public int length() {
            return seq.length();
        }

        /** Tokens this session can hold. */
        public int capacity() {
            return capacity;
        }

        /**
         * Runs {@code tokens} after those in the cache. Returns the logits of every token
         * ({@code [tokens][vocab]}) when {@code allLogits}, else of the last token only ({@code [vocab]}).
         *
         * @throws IllegalArgumentException for a token outside the vocabulary, no tokens, or more tokens than the session holds
         */
        public float[] forward(int[] tokens, boolean allLogits) {
            float[] out = new float[(allLogits ? tokens.length : 1) * spec.vocab()];
            run(tokens, allLogits ? out : null, out);
            return out;
        }

        /** Runs {@code tokens} and returns the id of the largest logit after the last one (greedy). */
        public int next(int[] tokens) {
            return run(tokens, null, null);
        }

        /** Runs {@code tokens} and writes the last token's logits into {@code dst[0..vocab)}; returns their argmax. */
        public int next(int[] tokens, float[] dst) {
            if (dst.length < spec.vocab()) {
                throw new IllegalArgumentException("logits array of " + dst.length + " for a vocabulary of " + spec.vocab());
            }
            return run(tokens, null, dst);
        }

        private int run(int[] tokens, float[] all, float[] last) {
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
                    throw new IllegalArgumentException("token id " + t + " is outside the vocabulary [0, " + spec.vocab()
                            + ")");
                }
            }
            synchronized (DenseModel.this) {
                checkOpen();
                int result = -1;
                callMaxPosition = seq.length() + n - 1;
                for (int from = 0; from < n; from += maxBatch) {
                    int count = Math.min(maxBatch, n - from);
                    int[] chunk = count == n ? tokens : java.util.Arrays.copyOfRange(tokens, from, from + count);
                    boolean lastChunk = from + count == n;
                    result = chunk(chunk, all, from, lastChunk ? last : null, lastChunk);
                }
                return result;
            }
        }

        private int chunk(int[] tokens, float[] all, int allRow, float[] last, boolean lastChunk) {
            int start = seq.reserve(tokens.length);
            if (tokens.length != 1 || all != null || !lastChunk) {
                return ops(tokens, all, allRow, last, lastChunk, start);
            }
            // A decode step: the same ops every token, which a backend may record once and replay
            // (CUDA graphs). RoPE tables that depend on the length are settled first, so that a change
            // shows as a different step rather than in the middle of one.
            for (RopeConfig c : ropeConfigs) {
                ropeSpec(c);
            }
            backend.beginStep(last != null ? logitsStep : argmaxStep);
            try {
                return ops(tokens, all, allRow, last, lastChunk, start);
            } catch (StepMismatchException e) {
                // the recording no longer fits: nothing of the step ran; run it directly
                backend.abortStep();
                return ops(tokens, all, allRow, last, lastChunk, start);
            } catch (RuntimeException | Error e) {
                backend.abortStep();
                throw e;
            }
        }

        /** The ops of one chunk whose positions {@code start ..} are reserved. */
        private int ops(int[] tokens, float[] all, int allRow, float[] last, boolean lastChunk, int start) {
            int n = tokens.length;
            Buffers buf = n == 1 ? one : n == maxBatch ? full : full.first(n);
            int[] pos;
            if (n == 1) {
                onePosition[0] = start;
                pos = onePosition;
            } else {
                if (positions.length != n) {
                    positions = new int[n];
                }
                for (int i = 0; i < n; i++) {
                    positions[i] = start + i;
                }
                pos = positions;
            }
            backend.embedding(embed, tokens, spec.embedScale(), buf.x());
            for (int l = 0; l < layers.length; l++) {
                attentionBlock(l, buf, start, pos);
                ffnBlock(l, buf);
            }
            int vocab = spec.vocab();
            if (all != null) {
                backend.rmsNorm(buf.x(), finalNorm, spec.eps(), plusOne, buf.xb());
                backend.matmul(buf.xb(), output, buf.logits());
                if (spec.finalSoftCap() > 0) {
                    backend.softCap(buf.logits(), spec.finalSoftCap());
                }
                backend.read(buf.logits(), all, allRow * vocab);
                return lastChunk ? argmaxRow(all, (allRow + n - 1) * vocab, vocab) : -1;
            }
            if (!lastChunk) {
                return -1;
            }
            Tensor x = n == 1 ? buf.x() : buf.x().rows(n - 1, 1);
            backend.rmsNorm(x, finalNorm, spec.eps(), plusOne, one.xb());
            backend.matmul(one.xb(), output, one.logits());
            if (spec.finalSoftCap() > 0) {
                backend.softCap(one.logits(), spec.finalSoftCap());
            }
            if (last != null) {
                backend.read(one.logits(), last, 0);
            }
            return backend.argmax(one.logits(), 0);
        }

        private void attentionBlock(int l, Buffers buf, int start, int[] pos) {
            Layer w = layers[l];
            DenseSpec.Layer ls = spec.layers().get(l);
            int hd = spec.headDim();
            Tensor a = buf.x();
            if (w.attnPre() != null) {
                backend.rmsNorm(buf.x(), w.attnPre(), spec.eps(), plusOne, buf.xb());
                a = buf.xb();
            }
            backend.matmul(a, w.wq(), buf.q());
            backend.matmul(a, w.wk(), buf.k());
            backend.matmul(a, w.wv(), buf.v());
            if (w.bq() != null) {
                backend.addBias(buf.q(), w.bq());
                backend.addBias(buf.k(), w.bk());
                backend.addBias(buf.v(), w.bv());
            }
            if (w.qNorm() != null) {
                backend.rmsNorm(buf.q(), w.qNorm(), spec.eps(), plusOne, buf.q());
                backend.rmsNorm(buf.k(), w.kNorm(), spec.eps(), plusOne, buf.k());
            }
            if (ls.rope() != null) {
                RopeSpec rs = ropeSpec(ls.rope());
                backend.rope(buf.q(), spec.heads(), hd, pos, rs);
                backend.rope(buf.k(), spec.kvHeads(), hd, pos, rs);
            }
            backend.storeKv(seq, l, start, buf.k(), buf.v());
            backend.attention(buf.q(), seq, l, start, attention[l], buf.att());
            backend.matmul(buf.att(), w.wo(), buf.o());
            if (w.attnPost() != null) {
                backend.rmsNorm(buf.o(), w.attnPost(), spec.eps(), plusOne, buf.o());
            }
            backend.add(buf.x(), buf.o(), buf.x());
        }

        private void ffnBlock(int l, Buffers buf) {
            Layer w = layers[l];
            Tensor a = buf.x();
            if (w.ffnPre() != null) {
                backend.rmsNorm(buf.x(), w.ffnPre(), spec.eps(), plusOne, buf.xb());
                a = buf.xb();
            }
            backend.matmul(a, w.gate(), buf.gate());
            backend.matmul(a, w.up(), buf.up());
            Activation act = switch (spec.activation()) {
                case SILU -> Activation.SILU;
                case GELU_TANH -> Activation.GELU_TANH;
            };
            backend.gatedActivation(act, buf.gate(), buf.up(), buf.gate());
            backend.matmul(buf.gate(), w.down(), buf.o());
            if (w.ffnPost() != null) {
                backend.rmsNorm(buf.o(), w.ffnPost(), spec.eps(), plusOne, buf.o());
            }
            backend.add(buf.x(), buf.o(), buf.x());
        }

        private RopeSpec ropeSpec(RopeConfig config) {
            RopeTables tables = schedules.get(config).forward(callMaxPosition);
            RopeSpec rs = ropeSpecs.get(config);
            if (rs == null || ropeTables.get(config) != tables) {
                rs = new RopeSpec(tables.inverseFrequencies(), tables.attentionScaling(), tables.rotaryDim(), ropeLayout);
                ropeSpecs.put(config, rs);
                ropeTables.put(config, tables);
            }
            return rs;
        }

        /** Gives the sequence's KV blocks back (and closes the session's own pool). Idempotent. */
        @Override
        public void close() {
            synchronized (DenseModel.this) {
                if (!seq.isClosed() && pool.isOpen()) {
                    seq.close();
                }
                if (ownsPool && pool.isOpen()) {
                    pool.close();
                }
            }
        }
    }

    private static int argmaxRow(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the model is closed");
        }
    }

    /** Unmaps the weights. The backend (not owned) stays open; sessions must not be used after this. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            file.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + file + ": " + e.getMessage(), e);
        }
    }
}
