package dev.isthmus.runtime.convert;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.hf.HfConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * A full-size GGUF with random weights and a real model's shapes and metadata, for speed
 * measurements only: {@code isthmus random}. The metadata, tensor names, order and per-tensor types
 * are those {@link HfToGguf} writes for the same {@code config.json} ({@link HfToGguf#plan}); only
 * the data differs: weights are Gaussian-like (a sum of four uniforms, mean 0, std
 * {@value #WEIGHT_STD}), {@code *norm.weight} are ones, and generated tensors (llama3
 * {@code rope_freqs}) are the real values.
 *
 * <p>Deterministic: the values of a row depend only on the seed, the tensor's index and the row,
 * so chunking and threading do not change the bytes. Q4_K and Q6_K weights, whose quantizer is
 * slow, are assembled from a seeded pool of quantized random blocks (see {@code POOLED}). Rows are generated and quantized in chunks on
 * all cores; the heap holds a few chunks. The tokenizer ({@code tokenizer.*} keys) is copied from a
 * vocab-only GGUF.
 */
public final class RandomGguf {
    /** The standard deviation of the random weights. */
    public static final double WEIGHT_STD = 0.02;
    private static final int CHUNK_FLOATS = 1 << 18;

    /** The built-in shapes, by {@code --like} name: the public HF configs' values. */
    private static final Map<String, String> BUILT_IN = new LinkedHashMap<>();

    static {
        BUILT_IN.put("llama-3.2-1b", """
                {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":2048,"intermediate_size":8192,
                 "num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,
                 "vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000.0,
                 "rope_scaling":{"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                                 "original_max_position_embeddings":8192,"rope_type":"llama3"},
                 "bos_token_id":128000,"eos_token_id":128001,"tie_word_embeddings":true}
                """);
        BUILT_IN.put("qwen3-0.6b", """
                {"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":1024,"intermediate_size":3072,
                 "num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,
                 "vocab_size":151936,"max_position_embeddings":40960,"rms_norm_eps":1e-6,"rope_theta":1000000,
                 "rope_scaling":null,"bos_token_id":151643,"eos_token_id":151645,"tie_word_embeddings":true}
                """);
        BUILT_IN.put("llama-3.1-8b", """
                {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096,"intermediate_size":14336,
                 "num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":128,
                 "vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-5,"rope_theta":500000.0,
                 "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                                 "original_max_position_embeddings":8192,"rope_type":"llama3"},
                 "bos_token_id":128000,"eos_token_id":[128001,128008,128009],"tie_word_embeddings":false}
                """);
    }

    /**
     * What to generate.
     *
     * @param like  a built-in shape name ({@link #builtInShapes()}) or a path to a {@code config.json}
     * @param type  the output type
     * @param out   the GGUF file to write
     * @param seed  the random seed
     * @param vocab a vocab GGUF whose {@code tokenizer.*} keys to copy, or null for the default
     * @param force whether an existing {@code out} may be replaced
     */
    public record Options(String like, ConvertType type, Path out, long seed, Path vocab, boolean force) {
        /** Null checks. */
        public Options {
            Objects.requireNonNull(like, "like");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(out, "out");
        }
    }

    /**
     * The resolved model: its config, family, metadata and tensor plan (with tokenizer metadata
     * when a vocab was found).
     *
     * @param name  {@code general.name}
     * @param plan  the converter's plan for the config
     * @param vocab the vocab GGUF the tokenizer comes from, or null
     */
    public record Model(String name, HfToGguf.Plan plan, Path vocab) {
        /** The GGUF architecture. */
        public String arch() {
            return plan.family().arch();
        }

        /** The number of tensors. */
        public int tensorCount() {
            return plan.tensors().size();
        }

        /** The bytes of tensor data (without alignment padding). */
        public long tensorBytes() {
            long sum = 0;
            for (HfToGguf.Planned p : plan.tensors()) {
                sum += p.type().byteSize(elements(p.ne()));
            }
            return sum;
        }

        /** The metadata to write. */
        public Map<String, GgufValue> metadata() {
            return plan.meta();
        }

        /** One line per tensor: name, type, shape (ne), bytes. */
        public List<String> table() {
            List<String> out = new ArrayList<>();
            for (HfToGguf.Planned p : plan.tensors()) {
                StringBuilder shape = new StringBuilder();
                for (long d : p.ne()) {
                    shape.append(shape.isEmpty() ? "" : " x ").append(d);
                }
                out.add(String.format(Locale.ROOT, "%-28s %-5s %-18s %,d", p.name(), p.type(), shape,
                        p.type().byteSize(elements(p.ne()))));
            }
            return out;
        }

        /** The planned tensors' names, types and shapes, as the writer takes them. */
        public List<GgufWriter.TensorSpec> specs() {
            List<GgufWriter.TensorSpec> specs = new ArrayList<>();
            for (HfToGguf.Planned p : plan.tensors()) {
                specs.add(new GgufWriter.TensorSpec(p.name(), p.type(), p.ne()));
            }
            return specs;
        }
    }

    /**
     * What was written.
     *
     * @param arch    the GGUF architecture
     * @param tensors tensors written
     * @param bytes   file size
     * @param vocab   the vocab GGUF the tokenizer came from, or null
     */
    public record Result(String arch, int tensors, long bytes, Path vocab) {
    }

    private RandomGguf() {
    }

    /** The built-in {@code --like} names. */
    public static List<String> builtInShapes() {
        return List.copyOf(BUILT_IN.keySet());
    }

    /**
     * Resolves {@code like} and {@code type} to the metadata and tensor plan, including the
     * tokenizer keys of the vocab, without writing anything.
     *
     * @param vocab an explicit vocab GGUF, or null for the default ({@link #defaultVocab})
     * @throws IllegalArgumentException for an unknown shape, an unsupported family, or a vocab whose
     *                                  token count differs from the shape's vocab size
     */
    public static Model plan(String like, ConvertType type, Path vocab, Consumer<String> warn) throws IOException {
        HfConfig config;
        String name;
        String builtIn = BUILT_IN.get(like.toLowerCase(Locale.ROOT));
        if (builtIn != null) {
            config = HfConfig.parse(builtIn, Path.of(like + ".json"));
            name = like.toLowerCase(Locale.ROOT) + "-random";
        } else {
            Path p = Path.of(like);
            if (Files.isDirectory(p)) {
                p = p.resolve("config.json");
            }
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("unknown shape '" + like + "' (built in: "
                        + String.join(", ", builtInShapes()) + "; or a path to a Hugging Face config.json)");
            }
            config = HfConfig.read(p);
            Path parent = p.toAbsolutePath().normalize().getParent();
            name = (parent == null || parent.getFileName() == null ? "model" : parent.getFileName().toString()) + "-random";
        }
        String modelType = config.modelType();
        Family family = Family.ofModelType(modelType).orElseThrow(() -> new IllegalArgumentException(
                "unsupported model_type '" + modelType + "' (supported: " + String.join(", ", Family.supportedModelTypes()) + ")"));
        Map<String, long[]> shapes = hfShapes(config, family);
        Map<String, String> byNormalName = new LinkedHashMap<>();
        for (String n : shapes.keySet()) {
            byNormalName.put(n, n);
        }
        HfToGguf.Plan plan = HfToGguf.plan(name, config, family, type, byNormalName, shapes::get, warn);

        Path v = vocab;
        boolean explicit = v != null;
        if (v == null) {
            v = defaultVocab(family, Path.of("").toAbsolutePath()).orElse(null);
            if (v == null) {
                warn.accept("no vocab GGUF found (looked for ../shared/vocab/regen-vocab-"
                        + (family == Family.QWEN3 ? "qwen3" : "llama3") + ".gguf); the GGUF has no tokenizer (use --vocab)");
            }
        } else if (!Files.isRegularFile(v)) {
            throw new NoSuchFileException(v.toString());
        }
        if (v != null) {
            try (GgufFile g = GgufFile.open(v)) {
                GgufValue tokens = g.get("tokenizer.ggml.tokens").orElseThrow(() ->
                        new IllegalArgumentException(g.path() + " has no tokenizer.ggml.tokens"));
                if (tokens.length() != config.vocabSize()) {
                    String msg = "the vocab " + g.path() + " has " + tokens.length() + " tokens but the shape's vocab_size is "
                            + config.vocabSize();
                    if (explicit || builtIn != null) {
                        throw new IllegalArgumentException(msg);
                    }
                    warn.accept(msg + "; the GGUF has no tokenizer (use --vocab)");
                    v = null;
                } else {
                    for (Map.Entry<String, GgufValue> e : g.metadata().entrySet()) {
                        if (e.getKey().startsWith("tokenizer.")) {
                            plan.meta().put(e.getKey(), e.getValue());
                        }
                    }
                }
            }
        }
        return new Model(name, plan, v);
    }

    /**
     * The default vocab of a family: {@code regen-vocab-qwen3.gguf} for Qwen3,
     * {@code regen-vocab-llama3.gguf} otherwise, in {@code ../shared/vocab/} relative to {@code cwd}
     * or to the repository root containing it (the nearest ancestor with {@code mvnw} or {@code .git}).
     */
    static Optional<Path> defaultVocab(Family family, Path cwd) {
        String file = family == Family.QWEN3 ? "regen-vocab-qwen3.gguf" : "regen-vocab-llama3.gguf";
        List<Path> bases = new ArrayList<>();
        bases.add(cwd);
        for (Path p = cwd; p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("mvnw")) || Files.exists(p.resolve(".git"))) {
                bases.add(p);
                break;
            }
        }
        for (Path b : bases) {
            Path c = b.resolve("..").resolve("shared").resolve("vocab").resolve(file).normalize();
            if (Files.isRegularFile(c)) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }

    /**
     * The row-major HF shapes of the tensors a checkpoint of {@code config} holds: every required
     * tensor of the family's table, {@code lm_head} when the embeddings are not tied, and q/k/v(/o)
     * biases for Qwen2 (always) or {@code attention_bias}.
     */
    static Map<String, long[]> hfShapes(HfConfig c, Family family) {
        long hidden = c.hiddenSize();
        long hd = c.headDim();
        long q = c.numAttentionHeads() * hd;
        long kv = c.numKeyValueHeads() * hd;
        long ff = c.intermediateSize();
        long vocab = c.vocabSize();
        Map<String, long[]> out = new LinkedHashMap<>();
        TensorNames names = family.names();
        for (TensorNames.Entry e : names.global()) {
            switch (e.hf()) {
                case "model.embed_tokens.weight" -> out.put(e.hf(), new long[] {vocab, hidden});
                case "model.norm.weight" -> out.put(e.hf(), new long[] {hidden});
                case "lm_head.weight" -> {
                    if (!c.tieWordEmbeddings()) {
                        out.put(e.hf(), new long[] {vocab, hidden});
                    }
                }
                default -> throw new IllegalArgumentException("random: no shape known for " + e.hf());
            }
        }
        boolean biases = family == Family.QWEN2 || c.attentionBias();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (TensorNames.Entry e : names.layer()) {
                String n = e.hf();
                boolean bias = n.endsWith(".bias");
                if (!e.required() && !(bias && biases && (family != Family.QWEN2 || !n.startsWith("self_attn.o_proj")))) {
                    continue;
                }
                String module = n.substring(0, n.lastIndexOf('.'));
                long[] w = switch (module) {
                    case "self_attn.q_proj" -> new long[] {q, hidden};
                    case "self_attn.k_proj", "self_attn.v_proj" -> new long[] {kv, hidden};
                    case "self_attn.o_proj" -> new long[] {hidden, q};
                    case "self_attn.qkv_proj" -> new long[] {q + 2 * kv, hidden};
                    case "self_attn.q_norm", "self_attn.k_norm" -> new long[] {hd};
                    case "mlp.gate_proj", "mlp.up_proj" -> new long[] {ff, hidden};
                    case "mlp.gate_up_proj" -> new long[] {2 * ff, hidden};
                    case "mlp.down_proj" -> new long[] {hidden, ff};
                    default -> {
                        if (module.endsWith("layernorm")) {
                            yield new long[] {hidden};
                        }
                        throw new IllegalArgumentException("random: no shape known for " + n);
                    }
                };
                out.put("model.layers." + i + "." + n, bias ? new long[] {w[0]} : w);
            }
        }
        return out;
    }

    /**
     * Writes the random GGUF: to {@code OUT.part}, moved into place at the end, deleted on failure.
     *
     * @param progress receives progress, may be null
     * @param threads  worker threads (at least 1)
     */
    public static Result generate(Options o, Consumer<String> warn, HfToGguf.Progress progress, int threads)
            throws IOException {
        Path out = o.out();
        if (Files.exists(out) && !o.force()) {
            throw new IllegalArgumentException(out + " exists (use --force to replace it)");
        }
        Model m = plan(o.like(), o.type(), o.vocab(), warn);
        List<HfToGguf.Planned> tensors = m.plan().tensors();
        Path part = out.resolveSibling(out.getFileName() + ".part");
        boolean done = false;
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "isthmus-random");
            t.setDaemon(true);
            return t;
        });
        try {
            LongConsumer cb = progress == null ? null : progress::update;
            try (GgufWriter w = GgufWriter.create(part, m.metadata(), m.specs(), cb)) {
                if (progress != null) {
                    var last = w.tensorInfos().isEmpty() ? null : w.tensorInfos().getLast();
                    progress.start(last == null ? w.dataOffset() : last.absoluteOffset() + last.byteSize());
                }
                for (int i = 0; i < tensors.size(); i++) {
                    HfToGguf.Planned p = tensors.get(i);
                    if (p.source() instanceof HfToGguf.Generated g) {
                        HfToGguf.writeGenerated(w, p.name(), g);
                    } else {
                        writeRandom(w, p, o.seed(), i, pool, Math.max(1, threads));
                    }
                }
            }
            long size = Files.size(part);
            Files.move(part, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            done = true;
            if (progress != null) {
                progress.finish();
            }
            return new Result(m.arch(), tensors.size(), size, m.vocab());
        } finally {
            pool.shutdownNow();
            if (!done) {
                Files.deleteIfExists(part);
            }
        }
    }

    private static void writeRandom(GgufWriter w, HfToGguf.Planned p, long seed, int tensorIndex, ExecutorService pool,
                                    int threads) throws IOException {
        long rowLen = p.ne()[0];
        long rows = elements(p.ne()) / rowLen;
        boolean ones = p.name().endsWith("norm.weight");
        int rowsPerChunk = (int) Math.max(1, Math.min(rows, CHUNK_FLOATS / Math.max(1, rowLen)));
        GgmlType type = p.type();
        ArrayDeque<Future<byte[]>> window = new ArrayDeque<>();
        try (OutputStream os = w.openTensorData(p.name())) {
            for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                long first = r0;
                int nr = (int) Math.min(rowsPerChunk, rows - r0);
                byte[] blocks = ones || !POOLED.contains(type) ? null : blockPool(type, seed);
                window.add(pool.submit(() -> blocks != null
                        ? pooledChunk(type, blocks, seed, tensorIndex, first, nr, (int) rowLen)
                        : chunk(type, seed, tensorIndex, first, nr, (int) rowLen, ones)));
                if (window.size() >= 2 * threads) {
                    os.write(take(window));
                }
            }
            while (!window.isEmpty()) {
                os.write(take(window));
            }
        } finally {
            for (Future<byte[]> f : window) {
                f.cancel(true);
            }
        }
    }

    private static byte[] take(ArrayDeque<Future<byte[]>> window) throws IOException {
        try {
            return window.poll().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(e.getCause());
        }
    }

    /**
     * Types whose quantizer is too slow for billions of weights (Q4_K ~3 M/s per core): their
     * weights are assembled from a pool of {@value #POOL_BLOCKS} blocks quantized from the same
     * random distribution, each block of each row picked by a hash of (seed, tensor, row, block).
     * Every block is a real quantization of Gaussian-like data, so the spread is the same.
     */
    private static final java.util.Set<GgmlType> POOLED = java.util.EnumSet.of(GgmlType.Q4_K, GgmlType.Q6_K);
    private static final int POOL_BLOCKS = 4096;
    private static final java.util.concurrent.ConcurrentHashMap<String, byte[]> BLOCK_POOLS =
            new java.util.concurrent.ConcurrentHashMap<>();

    private static byte[] blockPool(GgmlType type, long seed) {
        return BLOCK_POOLS.computeIfAbsent(type + "/" + seed, k -> {
            if (BLOCK_POOLS.size() > 8) {
                BLOCK_POOLS.clear();
            }
            int n = POOL_BLOCKS * type.blockSize();
            float[] buf = new float[n];
            fillRow(buf, 0, n, seed, -1 - type.id(), 0);
            byte[] out = new byte[(int) type.byteSize(n)];
            Quantize.quantize(type, buf, 0, n, out, 0);
            return out;
        });
    }

    private static byte[] pooledChunk(GgmlType type, byte[] blocks, long seed, int tensorIndex, long first, int nr,
                                      int rowLen) {
        int ts = type.typeSize();
        int perRow = rowLen / type.blockSize();
        byte[] out = new byte[(int) type.byteSize((long) nr * rowLen)];
        int o = 0;
        for (int k = 0; k < nr; k++) {
            long state = mix(mix(seed ^ 0x2545F4914F6CDD1DL) + tensorIndex * 0x9E3779B97F4A7C15L
                    + (first + k) * 0xD1B54A32D192ED03L);
            for (int b = 0; b < perRow; b++, o += ts) {
                state += 0x9E3779B97F4A7C15L;
                int idx = (int) (mix(state) >>> 52) & (POOL_BLOCKS - 1);
                System.arraycopy(blocks, idx * ts, out, o, ts);
            }
        }
        return out;
    }

    /** Rows {@code [first, first + nr)} of a tensor, quantized. */
    private static byte[] chunk(GgmlType type, long seed, int tensorIndex, long first, int nr, int rowLen, boolean ones) {
        int n = nr * rowLen;
        float[] buf = new float[n];
        if (ones) {
            Arrays.fill(buf, 1f);
        } else {
            for (int k = 0; k < nr; k++) {
                fillRow(buf, k * rowLen, rowLen, seed, tensorIndex, first + k);
            }
        }
        byte[] outBuf = new byte[(int) type.byteSize(n)];
        Quantize.quantize(type, buf, 0, n, outBuf, 0);
        return outBuf;
    }

    private static final double SUM4_SCALE = WEIGHT_STD * Math.sqrt(3.0) / 65536.0;

    /**
     * One row of weights: each value the sum of four 16-bit uniforms from a SplitMix64 stream seeded
     * by (seed, tensor, row), centred and scaled to std {@link #WEIGHT_STD} (Irwin–Hall, n = 4:
     * bell-shaped, bounded by ±3.46 std).
     */
    static void fillRow(float[] dst, int off, int n, long seed, int tensorIndex, long row) {
        long state = mix(mix(seed ^ 0x5DEECE66DL) + tensorIndex * 0x9E3779B97F4A7C15L + row * 0xD1B54A32D192ED03L);
        for (int i = 0; i < n; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = mix(state);
            long s = (z & 0xFFFF) + ((z >>> 16) & 0xFFFF) + ((z >>> 32) & 0xFFFF) + (z >>> 48);
            dst[off + i] = (float) ((s - 131070.0) * SUM4_SCALE);
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static long elements(long[] ne) {
        long n = 1;
        for (long d : ne) {
            n *= d;
        }
        return n;
    }
}
