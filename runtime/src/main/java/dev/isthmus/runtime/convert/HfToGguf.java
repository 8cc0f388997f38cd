package dev.isthmus.runtime.convert;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import dev.isthmus.gguf.quant.Quantize;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.hf.RopeParameters;
import dev.isthmus.safetensors.SafetensorsDType;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongConsumer;

/**
 * Converts a Hugging Face folder ({@code config.json} + safetensors + {@code tokenizer.json}) to a
 * GGUF file that llama.cpp loads: llama.cpp's architecture names, metadata keys and tensor names
 * (see {@link Family}, {@link TensorNames}, {@link ConvertType}, {@link HfTokenizer}).
 *
 * <p>Streaming: tensors are converted one at a time, a few rows at a time, straight from the mapped
 * safetensors into {@link GgufWriter}; the heap holds one chunk of rows. The file is written to
 * {@code OUT.part} next to {@code OUT} and moved into place at the end; on any failure the partial
 * file is deleted.
 *
 * <p>Tensor order: generated tensors first ({@code rope_freqs.weight}, Phi-3's
 * {@code rope_factors_long/short.weight}), then {@code token_embd}, the blocks in order (each in
 * its family table's order), {@code output_norm}, {@code output}.
 *
 * <p>Tensors that the family table does not name are skipped with one warning line (vision towers,
 * projectors and rotary {@code inv_freq} buffers of multimodal checkpoints are skipped silently); a
 * required tensor that is missing is an error naming it.
 */
public final class HfToGguf {
    private static final int CHUNK_FLOATS = 1 << 18;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * What to convert.
     *
     * @param hfDir the HF model folder
     * @param out   the GGUF file to write
     * @param type  the output type
     * @param force whether an existing {@code out} may be replaced
     */
    public record Options(Path hfDir, Path out, ConvertType type, boolean force) {
        /** Null checks. */
        public Options {
            Objects.requireNonNull(hfDir, "hfDir");
            Objects.requireNonNull(out, "out");
            Objects.requireNonNull(type, "type");
        }
    }

    /**
     * What was written.
     *
     * @param arch     the GGUF architecture
     * @param tensors  tensors written
     * @param bytes    file size
     * @param fallbacks tensors written in another type than asked, as "name: TYPE"
     */
    public record Result(String arch, int tensors, long bytes, List<String> fallbacks) {
    }

    /** Receives progress: the total once known, then bytes written so far. */
    public interface Progress {
        /** The total bytes the file will have. */
        void start(long totalBytes);

        /** Bytes written so far. */
        void update(long doneBytes);

        /** The file is complete. */
        void finish();
    }

    /** Where a planned tensor's data comes from. */
    sealed interface Source permits FromHf, Generated {
    }

    /** An HF tensor (original name), with the converter's row permutation and Gemma's +1. */
    record FromHf(String hfName, int permuteHeads, boolean plusOne) implements Source {
    }

    /** Data computed from the config (rope factors), written as F32. */
    record Generated(float[] data) implements Source {
    }

    /** One output tensor: GGUF name, type, GGUF shape (ne, innermost first) and source. */
    record Planned(String name, GgmlType type, long[] ne, Source source) {
    }

    /**
     * The metadata (without {@code tokenizer.*}) and tensor plan of a conversion, shared by
     * {@code convert} and {@code random}.
     *
     * @param family    the family
     * @param meta      the metadata, in write order
     * @param tensors   the tensors, in write order
     * @param fallbacks tensors planned in another type than asked, as "name: TYPE"
     */
    record Plan(Family family, Map<String, GgufValue> meta, List<Planned> tensors, List<String> fallbacks) {
    }

    private HfToGguf() {
    }

    /**
     * Converts {@code options.hfDir()} to {@code options.out()}.
     *
     * @param warn     receives one line per warning
     * @param progress receives progress, may be null
     * @throws IllegalArgumentException for an unsupported or incomplete model, or an existing output without force
     * @throws IOException              on I/O errors
     */
    public static Result convert(Options options, Consumer<String> warn, Progress progress) throws IOException {
        Path dir = options.hfDir();
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString());
        }
        Path configPath = dir.resolve("config.json");
        if (!Files.isRegularFile(configPath)) {
            throw new IllegalArgumentException("no config.json in " + dir + " (expected a Hugging Face model folder)");
        }
        Path out = options.out();
        if (Files.exists(out) && !options.force()) {
            throw new IllegalArgumentException(out + " exists (use --force to replace it)");
        }
        HfConfig config = HfConfig.read(configPath);
        String modelType = config.modelType();
        Family family = Family.ofModelType(modelType).orElseThrow(() -> new IllegalArgumentException(
                "unsupported model_type '" + modelType + "' (supported: " + String.join(", ", Family.supportedModelTypes()) + ")"));

        try (SafetensorsModel st = SafetensorsModel.open(dir)) {
            Map<String, String> byNormalName = new LinkedHashMap<>();
            List<String> unknown = new ArrayList<>();
            for (SafetensorsTensor t : st.tensors()) {
                Optional<String> n = Family.normalize(t.name());
                if (n.isEmpty()) {
                    continue;
                }
                if (family.names().toGguf(n.get()).isEmpty()) {
                    unknown.add(t.name());
                } else {
                    byNormalName.put(n.get(), t.name());
                }
            }
            if (!unknown.isEmpty()) {
                warn.accept("skipping " + unknown.size() + " tensor(s) that a " + family.arch() + " GGUF has no name for: "
                        + String.join(", ", unknown.subList(0, Math.min(5, unknown.size())))
                        + (unknown.size() > 5 ? ", ..." : ""));
            }
            int layers = config.numHiddenLayers();
            for (String req : family.names().requiredHf(layers)) {
                if (!byNormalName.containsKey(req)) {
                    throw new IllegalArgumentException("missing tensor '" + req + "' (required for " + family.arch()
                            + " with " + layers + " layers) in " + dir);
                }
            }
            for (String original : byNormalName.values()) {
                SafetensorsTensor t = st.tensor(original).orElseThrow();
                if (t.dtype() != SafetensorsDType.F32 && t.dtype() != SafetensorsDType.F16
                        && t.dtype() != SafetensorsDType.BF16) {
                    throw new IllegalArgumentException("tensor '" + original + "' has dtype " + t.dtype().formatName()
                            + "; convert reads F32, F16 and BF16");
                }
            }
            String name = dir.toAbsolutePath().normalize().getFileName().toString();
            Plan pl = plan(name, config, family, options.type(), byNormalName,
                    original -> st.tensor(original).orElseThrow().shape(), warn);
            Map<String, GgufValue> meta = pl.meta();
            List<Planned> plan = pl.tensors();
            HfTokenizer.addTo(dir, config, meta, warn);
            if (family == Family.SMOLLM3 && meta.containsKey("tokenizer.chat_template")) {
                // as llama.cpp's converter: drop the "[:]" slices its template engine does not support
                meta.put("tokenizer.chat_template",
                        GgufValue.string(meta.get("tokenizer.chat_template").asString().replace("[:]", "")));
            }
            List<String> fallbacks = pl.fallbacks();
            Path part = out.resolveSibling(out.getFileName() + ".part");
            boolean done = false;
            try {
                List<GgufWriter.TensorSpec> specs = new ArrayList<>();
                for (Planned p : plan) {
                    specs.add(new GgufWriter.TensorSpec(p.name, p.type, p.ne));
                }
                LongConsumer cb = progress == null ? null : progress::update;
                long size;
                try (GgufWriter w = GgufWriter.create(part, meta, specs, cb)) {
                    if (progress != null) {
                        var last = w.tensorInfos().isEmpty() ? null : w.tensorInfos().getLast();
                        progress.start(last == null ? w.dataOffset() : last.absoluteOffset() + last.byteSize());
                    }
                    for (Planned p : plan) {
                        write(w, st, p, byNormalName);
                    }
                }
                size = Files.size(part);
                Files.move(part, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                done = true;
                if (progress != null) {
                    progress.finish();
                }
                return new Result(family.arch(), plan.size(), size, List.copyOf(fallbacks));
            } finally {
                if (!done) {
                    Files.deleteIfExists(part);
                }
            }
        }
    }

    /**
     * The metadata (without tokenizer) and the tensor plan for {@code config}, given the HF tensors
     * present.
     *
     * @param name         {@code general.name}
     * @param byNormalName normalised HF name → original HF name, of the tensors present
     * @param shapeOf      the row-major HF shape of an original HF name
     * @param warn         receives one line per warning (rope scaling, block-size fallbacks)
     */
    static Plan plan(String name, HfConfig config, Family family, ConvertType type, Map<String, String> byNormalName,
                     Function<String, long[]> shapeOf, Consumer<String> warn) {
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        List<Planned> plan = new ArrayList<>();
        metadata(name, config, family, type, meta, plan, warn);
        planWeights(shapeOf, config, family, type, byNormalName, plan);
        List<String> fallbacks = new ArrayList<>();
        for (Planned p : plan) {
            if (p.ne.length >= 2 && p.source instanceof FromHf) {
                GgmlType asked = type.preferredType(p.ne.length, isOutput(p.name, byNormalName));
                if (p.type != asked) {
                    fallbacks.add(p.name + ": " + p.type);
                    warn.accept(p.name + ": row length " + p.ne[0] + " is not a multiple of the " + asked
                            + " block size " + asked.blockSize() + "; written as " + p.type);
                }
            }
        }
        return new Plan(family, meta, plan, List.copyOf(fallbacks));
    }

    private static boolean isOutput(String gguf, Map<String, String> byNormalName) {
        return gguf.equals("output.weight")
                || (gguf.equals("token_embd.weight") && !byNormalName.containsKey("lm_head.weight"));
    }

    // ------------------------------------------------------------------------------------ metadata

    private static void metadata(String name, HfConfig c, Family family, ConvertType type, Map<String, GgufValue> m,
                                 List<Planned> plan, Consumer<String> warn) {
        String a = family.arch();
        m.put("general.architecture", GgufValue.string(a));
        m.put("general.name", GgufValue.string(name));
        m.put("general.file_type", GgufValue.uint32(type.fileType()));
        m.put("general.quantization_version", GgufValue.uint32(2));
        int nEmbd = c.hiddenSize();
        int nHead = c.numAttentionHeads();
        RopeParameters rope = c.ropeParameters();
        m.put(a + ".block_count", GgufValue.uint32(c.numHiddenLayers()));
        m.put(a + ".context_length", GgufValue.uint32(c.maxPositionEmbeddings()));
        m.put(a + ".embedding_length", GgufValue.uint32(nEmbd));
        m.put(a + ".feed_forward_length", GgufValue.uint32(c.intermediateSize()));
        m.put(a + ".attention.head_count", GgufValue.uint32(nHead));
        m.put(a + ".attention.head_count_kv", GgufValue.uint32(c.numKeyValueHeads()));
        m.put(a + ".rope.freq_base", GgufValue.float32((float) rope.theta()));
        m.put(a + ".attention.layer_norm_rms_epsilon", GgufValue.float32((float) c.rmsNormEps()));
        if (c.has("head_dim") || family == Family.GEMMA2 || family == Family.GEMMA3) {
            m.put(a + ".attention.key_length", GgufValue.uint32(c.headDim()));
            m.put(a + ".attention.value_length", GgufValue.uint32(c.headDim()));
        }
        switch (family) {
            case LLAMA, SMOLLM3 -> {
                m.put(a + ".vocab_size", GgufValue.uint32(c.vocabSize()));
                m.put(a + ".rope.dimension_count", GgufValue.uint32(c.headDim()));
                slidingWindow(c, a, m);
            }
            case GEMMA2 -> {
                c.attnLogitSoftcapping().ifPresent(v -> m.put(a + ".attn_logit_softcapping", GgufValue.float32((float) v)));
                c.finalLogitSoftcapping().ifPresent(v -> m.put(a + ".final_logit_softcapping", GgufValue.float32((float) v)));
                slidingWindow(c, a, m);
                gemmaAttentionScale(c, a, m);
            }
            case GEMMA3 -> {
                slidingWindow(c, a, m);
                gemmaAttentionScale(c, a, m);
            }
            case OLMO2 -> {
                OptionalInt sw = c.slidingWindow();
                if (sw.isPresent()) {
                    m.put(a + ".attention.sliding_window", GgufValue.uint32(sw.getAsInt()));
                    List<String> types = c.layerTypes();
                    boolean[] pattern = new boolean[types.size()];
                    for (int i = 0; i < pattern.length; i++) {
                        pattern[i] = c.has("layer_types") ? types.get(i).equals(HfConfig.SLIDING_ATTENTION) : (i + 1) % 4 != 0;
                    }
                    m.put(a + ".attention.sliding_window_pattern", GgufValue.boolArray(pattern));
                }
            }
            case PHI3 -> {
                int ropeDims = (int) (rope.partialRotaryFactor() * nEmbd) / nHead;
                m.put(a + ".rope.dimension_count", GgufValue.uint32(ropeDims));
                m.put(a + ".attention.sliding_window", GgufValue.uint32(c.slidingWindow().orElse(0)));
                rope.originalMaxPositionEmbeddings().ifPresent(v ->
                        m.put(a + ".rope.scaling.original_context_length", GgufValue.uint32(v)));
                phi3RopeFactors(c, rope, ropeDims, m, plan);
            }
            default -> {
            }
        }
        String rt = rope.ropeType();
        OptionalDouble factor = rope.factor();
        switch (rt) {
            case RopeParameters.LINEAR -> {
                if (factor.isPresent()) {
                    m.put(a + ".rope.scaling.type", GgufValue.string("linear"));
                    m.put(a + ".rope.scaling.factor", GgufValue.float32((float) factor.getAsDouble()));
                }
            }
            case RopeParameters.YARN -> {
                if (factor.isPresent()) {
                    m.put(a + ".rope.scaling.type", GgufValue.string("yarn"));
                    m.put(a + ".rope.scaling.factor", GgufValue.float32((float) factor.getAsDouble()));
                    rope.originalMaxPositionEmbeddings().ifPresent(v ->
                            m.put(a + ".rope.scaling.original_context_length", GgufValue.uint32(v)));
                    rope.attentionFactor().ifPresent(v ->
                            m.put(a + ".rope.scaling.attn_factor", GgufValue.float32((float) v)));
                }
            }
            case RopeParameters.LLAMA3 -> {
                if (family == Family.LLAMA || family == Family.SMOLLM3) {
                    plan.add(new Planned("rope_freqs.weight", GgmlType.F32, new long[] {c.headDim() / 2},
                            new Generated(llama3RopeFactors(rope, c.headDim()))));
                } else {
                    warn.accept("llama3 rope scaling is not written for " + a + " (llama.cpp does not either)");
                }
            }
            case RopeParameters.DEFAULT, RopeParameters.LONGROPE -> {
            }
            default -> warn.accept("rope scaling type '" + rt + "' has no GGUF equivalent here; not written");
        }
    }

    /**
     * {@code attention.sliding_window} and, beyond llama.cpp's converter (whose llama architecture
     * drops Mistral's and Ministral's windows, and whose Gemma loaders assume fixed patterns), the
     * per-layer {@code attention.sliding_window_pattern} (true = sliding, as for OLMo 3), so that
     * the GGUF keeps which layers slide. llama.cpp ignores the extra key where it does not read it.
     */
    private static void slidingWindow(HfConfig c, String a, Map<String, GgufValue> m) {
        OptionalInt sw = c.slidingWindow();
        if (sw.isEmpty() || sw.getAsInt() <= 0) {
            return;
        }
        m.put(a + ".attention.sliding_window", GgufValue.uint32(sw.getAsInt()));
        List<String> types = c.layerTypes();
        boolean[] pattern = new boolean[types.size()];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = types.get(i).equals(HfConfig.SLIDING_ATTENTION);
        }
        m.put(a + ".attention.sliding_window_pattern", GgufValue.boolArray(pattern));
    }

    /**
     * Gemma's query scale {@code query_pre_attn_scalar^-0.5} as llama.cpp's {@code attention.scale},
     * written when the scalar is not the head size (llama.cpp's Gemma loaders otherwise assume
     * {@code 1/sqrt(head_dim)}, or {@code 1/sqrt(hidden/heads)} for the 27B models).
     */
    private static void gemmaAttentionScale(HfConfig c, String a, Map<String, GgufValue> m) {
        OptionalDouble scalar = c.queryPreAttnScalar();
        if (scalar.isPresent() && scalar.getAsDouble() != c.headDim()) {
            m.put(a + ".attention.scale", GgufValue.float32((float) Math.pow(scalar.getAsDouble(), -0.5)));
        }
    }

    /**
     * llama.cpp's {@code rope_freqs} for llama3 rope scaling: per frequency pair, 1 for short
     * wavelengths, {@code factor} for long ones, a smooth blend between.
     */
    static float[] llama3RopeFactors(RopeParameters rope, int dim) {
        double base = rope.theta();
        float factor = (float) rope.factor().orElse(8.0);
        float low = (float) rope.lowFreqFactor().orElse(1.0);
        float high = (float) rope.highFreqFactor().orElse(4.0);
        float oldCtx = rope.originalMaxPositionEmbeddings().orElse(8192);
        float lowWavelen = oldCtx / low;
        float highWavelen = oldCtx / high;
        float[] out = new float[dim / 2];
        for (int i = 0; i < out.length; i++) {
            float freq = (float) (1.0 / (float) Math.pow(base, (float) (2 * i) / dim));
            float wavelen = (float) (2 * Math.PI / freq);
            if (wavelen < highWavelen) {
                out[i] = 1f;
            } else if (wavelen > lowWavelen) {
                out[i] = factor;
            } else {
                float smooth = (oldCtx / wavelen - low) / (high - low);
                out[i] = 1f / ((1f - smooth) / factor + smooth);
            }
        }
        return out;
    }

    private static void phi3RopeFactors(HfConfig c, RopeParameters rope, int ropeDims, Map<String, GgufValue> m,
                                        List<Planned> plan) {
        List<Double> lf = rope.longFactor();
        List<Double> sf = rope.shortFactor();
        if (lf.isEmpty()) {
            return;
        }
        int orig = rope.originalMaxPositionEmbeddings().orElseThrow(() -> new IllegalArgumentException(
                "phi3 long-context rope factors need original_max_position_embeddings"));
        double scale = (double) c.maxPositionEmbeddings() / orig;
        double attn;
        if (rope.ropeType().equals(RopeParameters.YARN)) {
            attn = scale > 1 ? 0.1 * Math.log(scale) + 1.0 : 1.0;
        } else {
            attn = scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1.0;
        }
        m.put("phi3.rope.scaling.attn_factor", GgufValue.float32((float) attn));
        if (lf.size() != sf.size() || lf.size() * 2 != ropeDims) {
            throw new IllegalArgumentException("phi3 rope long/short factors must have " + ropeDims / 2
                    + " entries each, got " + lf.size() + " and " + sf.size());
        }
        plan.add(new Planned("rope_factors_long.weight", GgmlType.F32, new long[] {lf.size()}, new Generated(floats(lf))));
        plan.add(new Planned("rope_factors_short.weight", GgmlType.F32, new long[] {sf.size()}, new Generated(floats(sf))));
    }

    private static float[] floats(List<Double> l) {
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = l.get(i).floatValue();
        }
        return f;
    }

    // ------------------------------------------------------------------------------------ weights

    private static void planWeights(Function<String, long[]> shapeOf, HfConfig c, Family family, ConvertType type,
                                    Map<String, String> byNormalName, List<Planned> plan) {
        List<String> order = new ArrayList<>();
        TensorNames names = family.names();
        order.add("model.embed_tokens.weight");
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (TensorNames.Entry e : names.layer()) {
                order.add("model.layers." + i + "." + e.hf());
            }
        }
        order.add("model.norm.weight");
        order.add("lm_head.weight");
        int nHead = c.numAttentionHeads();
        int nKv = c.numKeyValueHeads();
        for (String hf : order) {
            String original = byNormalName.get(hf);
            if (original == null) {
                continue;
            }
            long[] shape = shapeOf.apply(original);
            if (shape.length < 1 || shape.length > 4) {
                throw new IllegalArgumentException("tensor '" + original + "' has shape " + Arrays.toString(shape)
                        + " (1 to 4 dimensions expected)");
            }
            long[] ne = new long[shape.length];
            for (int i = 0; i < shape.length; i++) {
                ne[i] = shape[shape.length - 1 - i];
            }
            String gguf = names.toGguf(hf).orElseThrow();
            int permute = 0;
            if (family.permuteQk()) {
                if (hf.endsWith("self_attn.q_proj.weight") || hf.endsWith("self_attn.q_proj.bias")) {
                    permute = nHead;
                } else if (hf.endsWith("self_attn.k_proj.weight") || hf.endsWith("self_attn.k_proj.bias")) {
                    permute = nKv;
                }
            }
            boolean plusOne = family.normPlusOne() && hf.endsWith("norm.weight");
            GgmlType gt = type.typeFor(ne.length, ne[0], isOutput(gguf, byNormalName));
            plan.add(new Planned(gguf, gt, ne, new FromHf(original, permute, plusOne)));
        }
    }

    /** Writes a {@link Generated} tensor's data as F32. */
    static void writeGenerated(GgufWriter w, String name, Generated g) throws IOException {
        MemorySegment seg = MemorySegment.ofArray(new byte[g.data.length * 4]);
        for (int i = 0; i < g.data.length; i++) {
            seg.set(FLOAT_LE, 4L * i, g.data[i]);
        }
        w.writeTensorData(name, seg);
    }

    private static void write(GgufWriter w, SafetensorsModel st, Planned p, Map<String, String> byNormalName)
            throws IOException {
        if (p.source instanceof Generated g) {
            writeGenerated(w, p.name, g);
            return;
        }
        FromHf src = (FromHf) p.source;
        SafetensorsTensor t = st.tensor(src.hfName).orElseThrow();
        MemorySegment data = st.data(src.hfName);
        long rowLen = p.ne[0];
        long rows = 1;
        for (int i = 1; i < p.ne.length; i++) {
            rows *= p.ne[i];
        }
        // a 1-D tensor is one row, but a permuted bias permutes its elements: treat it as rows of 1
        if (p.ne.length == 1 && src.permuteHeads > 0) {
            rows = rowLen;
            rowLen = 1;
        }
        if (rowLen > CHUNK_FLOATS * 16L) {
            throw new IllegalArgumentException("tensor '" + src.hfName + "' has rows of " + rowLen + " elements; too long");
        }
        int esz = t.dtype().byteSize();
        int rowsPerChunk = (int) Math.max(1, Math.min(rows, CHUNK_FLOATS / Math.max(1, rowLen)));
        float[] buf = new float[(int) (rowsPerChunk * rowLen)];
        byte[] outBuf = new byte[(int) p.type.byteSize((long) rowsPerChunk * rowLen)];
        try (OutputStream os = w.openTensorData(p.name)) {
            for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                int nr = (int) Math.min(rowsPerChunk, rows - r0);
                for (int k = 0; k < nr; k++) {
                    long r = r0 + k;
                    long srcRow = src.permuteHeads > 0 ? Family.permutedRow(r, rows, src.permuteHeads) : r;
                    readRow(data, t.dtype(), srcRow * rowLen * esz, buf, (int) (k * rowLen), (int) rowLen);
                }
                int n = (int) (nr * rowLen);
                if (src.plusOne) {
                    for (int i = 0; i < n; i++) {
                        buf[i] += 1f;
                    }
                }
                int bytes = Quantize.quantize(p.type, buf, 0, n, outBuf, 0);
                os.write(outBuf, 0, bytes);
            }
        }
    }

    private static void readRow(MemorySegment data, SafetensorsDType dtype, long off, float[] dst, int dstOff, int n) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, FLOAT_LE, off, dst, dstOff, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = Float.float16ToFloat(data.get(SHORT_LE, off + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = Float.intBitsToFloat((data.get(SHORT_LE, off + 2L * i) & 0xFFFF) << 16);
                }
            }
            default -> throw new AssertionError(dtype);
        }
    }
}
