package dev.isthmus.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.format.ModelFormatException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufValueType;
import dev.isthmus.hf.HfConfig;
import dev.isthmus.safetensors.SafetensorsFile;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A format-neutral description of a model file — what {@code isthmus inspect} prints. Built from
 * the file's header only: tensor data are never read.
 *
 * @param path         the file or folder inspected
 * @param format       {@code gguf}, {@code safetensors} or {@code hf} (a Hugging Face folder)
 * @param version      the format version (GGUF 2 or 3), or null where the format has none
 * @param architecture {@code general.architecture} (GGUF) or {@code model_type} (HF), or null
 * @param metadata     key → JSON-ready value (String, Number, Boolean, List, Map); arrays longer
 *                     than {@value #ARRAY_PREVIEW} elements are replaced by {@code {"array_of": TYPE, "length": N}}
 * @param tensors      the tensor table in file order
 * @param tokenizer    a one-line tokenizer summary, or null when the file has none
 * @param details      format-specific header facts (alignment, data offset, shard count, ...)
 */
public record ModelInspection(Path path, String format, Integer version, String architecture,
                              Map<String, Object> metadata, List<Tensor> tensors, String tokenizer,
                              Map<String, Object> details) {

    /** Arrays longer than this are summarised instead of listed. */
    public static final int ARRAY_PREVIEW = 16;

    /**
     * One row of the tensor table.
     *
     * @param name   tensor name
     * @param type   ggml type name (GGUF) or safetensors dtype
     * @param shape  dimensions in the file's own order (GGUF innermost first, safetensors outermost first)
     * @param offset absolute byte offset of the first byte in {@code file}
     * @param bytes  bytes of data
     * @param params number of elements
     * @param file   the file holding it (differs between shards of an HF folder)
     */
    public record Tensor(String name, String type, long[] shape, long offset, long bytes, long params, Path file) {
    }

    /** Inspects a GGUF file, a safetensors file or an HF folder, choosing by content. */
    public static ModelInspection of(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            return ofHfFolder(path);
        }
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(path)) {
            n = in.readNBytes(head, 0, 4);
        }
        if (n == 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F') {
            return ofGguf(path);
        }
        if (path.getFileName().toString().endsWith(".safetensors") || looksLikeSafetensors(path)) {
            return ofSafetensors(path);
        }
        throw new ModelFormatException(path, 0, "not a GGUF file (no GGUF magic) and not a safetensors file");
    }

    private static boolean looksLikeSafetensors(Path path) throws IOException {
        byte[] head = new byte[9];
        try (InputStream in = Files.newInputStream(path)) {
            return in.readNBytes(head, 0, 9) == 9 && head[8] == '{';
        }
    }

    static ModelInspection ofGguf(Path path) throws IOException {
        try (GgufFile g = GgufFile.open(path)) {
            Map<String, Object> meta = new LinkedHashMap<>();
            g.metadata().forEach((k, v) -> meta.put(k, ggufJson(v)));
            List<Tensor> tensors = new ArrayList<>();
            for (GgufTensorInfo t : g.tensors()) {
                tensors.add(new Tensor(t.name(), t.type().name(), t.shape().clone(), t.absoluteOffset(),
                        t.byteSize(), t.elementCount(), path));
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("file_bytes", g.fileSize());
            details.put("alignment", g.alignment());
            details.put("data_offset", g.dataOffset());
            return new ModelInspection(path, "gguf", g.version(), g.architecture(), meta, tensors,
                    ggufTokenizer(g), details);
        }
    }

    static ModelInspection ofSafetensors(Path path) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            Map<String, Object> meta = new LinkedHashMap<>(f.metadata());
            List<Tensor> tensors = new ArrayList<>();
            for (SafetensorsTensor t : f.tensors()) {
                tensors.add(new Tensor(t.name(), t.dtype().name(), t.shape().clone(), t.absoluteOffset(),
                        t.byteSize(), t.elementCount(), path));
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("file_bytes", Files.size(path));
            details.put("header_bytes", f.headerSize());
            details.put("data_offset", f.dataOffset());
            return new ModelInspection(path, "safetensors", null, null, meta, tensors, null, details);
        }
    }

    static ModelInspection ofHfFolder(Path dir) throws IOException {
        Path configPath = dir.resolve("config.json");
        if (!Files.isRegularFile(configPath)) {
            throw new ModelFormatException(dir, -1, "not a Hugging Face model folder: no config.json");
        }
        HfConfig config = HfConfig.read(configPath);
        Map<String, Object> meta = new LinkedHashMap<>();
        JsonNode root = new ObjectMapper().readTree(configPath.toFile());
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            meta.put(e.getKey(), jsonValue(e.getValue()));
        }
        List<Tensor> tensors = new ArrayList<>();
        Map<String, Object> details = new LinkedHashMap<>();
        try (SafetensorsModel model = SafetensorsModel.open(dir)) {
            for (SafetensorsFile shard : model.shards()) {
                for (SafetensorsTensor t : shard.tensors()) {
                    tensors.add(new Tensor(t.name(), t.dtype().name(), t.shape().clone(), t.absoluteOffset(),
                            t.byteSize(), t.elementCount(), shard.path()));
                }
            }
            details.put("shards", model.shards().size());
        }
        return new ModelInspection(dir, "hf", null, config.modelType(), meta, tensors, hfTokenizer(dir), details);
    }

    // ---------------------------------------------------------------- metadata → JSON-ready values

    private static Object ggufJson(GgufValue v) {
        GgufValueType t = v.type();
        if (t == GgufValueType.ARRAY) {
            if (v.length() > ARRAY_PREVIEW) {
                Map<String, Object> summary = new LinkedHashMap<>();
                summary.put("array_of", v.elementType().name());
                summary.put("length", v.length());
                return summary;
            }
            List<Object> list = new ArrayList<>();
            for (long i = 0; i < v.length(); i++) {
                list.add(ggufJson(v.get(i)));
            }
            return list;
        }
        return switch (t) {
            case STRING -> v.asString();
            case BOOL -> v.asBoolean();
            case FLOAT32 -> finite((float) v.asDouble());
            case FLOAT64 -> finite(v.asDouble());
            case UINT64 -> v.asLong() >= 0 ? (Object) v.asLong()
                    : new BigInteger(Long.toUnsignedString(v.asLong()));
            default -> v.asLong();
        };
    }

    /**
     * A float32 as the double whose shortest decimal is the float's own (1e-5f prints as 1.0E-5, not
     * as the widened 9.99999974737875E-6); non-finite values as strings, since JSON has none.
     */
    private static Object finite(float f) {
        return Float.isFinite(f) ? (Object) Double.parseDouble(Float.toString(f)) : Float.toString(f);
    }

    private static Object finite(double d) {
        return Double.isFinite(d) ? (Object) d : Double.toString(d);
    }

    private static Object jsonValue(JsonNode n) {
        if (n.isArray()) {
            if (n.size() > ARRAY_PREVIEW) {
                Map<String, Object> summary = new LinkedHashMap<>();
                String type = n.size() == 0 ? "null" : n.get(0).getNodeType().name().toLowerCase(Locale.ROOT);
                summary.put("array_of", type);
                summary.put("length", n.size());
                return summary;
            }
            List<Object> list = new ArrayList<>();
            n.forEach(x -> list.add(jsonValue(x)));
            return list;
        }
        if (n.isObject()) {
            Map<String, Object> m = new LinkedHashMap<>();
            n.properties().forEach(e -> m.put(e.getKey(), jsonValue(e.getValue())));
            return m;
        }
        if (n.isNumber()) {
            return n.numberValue();
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        return n.isNull() ? null : n.asText();
    }

    // ---------------------------------------------------------------- tokenizer summaries

    private static String ggufTokenizer(GgufFile g) {
        String model = g.getString("tokenizer.ggml.model").orElse(null);
        if (model == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(model);
        g.getString("tokenizer.ggml.pre").ifPresent(p -> sb.append(" (pre: ").append(p).append(')'));
        g.get("tokenizer.ggml.tokens").ifPresent(v -> sb.append(", ").append(v.length()).append(" tokens"));
        g.get("tokenizer.ggml.merges").ifPresent(v -> sb.append(", ").append(v.length()).append(" merges"));
        g.getLong("tokenizer.ggml.bos_token_id").ifPresent(v -> sb.append(", bos ").append(v));
        g.getLong("tokenizer.ggml.eos_token_id").ifPresent(v -> sb.append(", eos ").append(v));
        g.get("tokenizer.ggml.add_bos_token").ifPresent(v -> sb.append(", add_bos ").append(v.asBoolean()));
        if (g.get("tokenizer.chat_template").isPresent()) {
            sb.append(", chat template");
        }
        return sb.toString();
    }

    private static String hfTokenizer(Path dir) throws IOException {
        Path tok = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok)) {
            return null;
        }
        try {
            JsonNode root = new ObjectMapper().readTree(tok.toFile());
            JsonNode model = root.path("model");
            StringBuilder sb = new StringBuilder("tokenizer.json: ").append(model.path("type").asText("unknown"));
            JsonNode vocab = model.path("vocab");
            if (vocab.isObject() || vocab.isArray()) {
                sb.append(", ").append(vocab.size()).append(" tokens");
            }
            if (model.path("merges").isArray()) {
                sb.append(", ").append(model.path("merges").size()).append(" merges");
            }
            if (root.path("added_tokens").isArray()) {
                sb.append(", ").append(root.path("added_tokens").size()).append(" added tokens");
            }
            return sb.toString();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new ModelFormatException(tok, e.getLocation() == null ? -1 : e.getLocation().getByteOffset(),
                    "tokenizer.json is not valid JSON: " + e.getOriginalMessage());
        }
    }

    // ---------------------------------------------------------------- output

    /** The JSON object that {@code inspect --json} prints (the documented keys first). */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("format", format);
        out.put("version", version);
        out.put("architecture", architecture);
        out.put("metadata", metadata);
        List<Map<String, Object>> list = new ArrayList<>();
        boolean sharded = tensors.stream().map(Tensor::file).distinct().count() > 1;
        for (Tensor t : tensors) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", t.name());
            m.put("type", t.type());
            m.put("shape", t.shape());
            m.put("offset", t.offset());
            m.put("bytes", t.bytes());
            if (sharded) {
                m.put("file", t.file().getFileName().toString());
            }
            list.add(m);
        }
        out.put("tensors", list);
        out.put("tokenizer", tokenizer);
        out.putAll(details);
        return out;
    }

    /** Human-readable report. */
    public void printText(PrintWriter out) {
        out.printf("file:          %s%n", path);
        out.printf("format:        %s%s%n", format.toUpperCase(Locale.ROOT), version == null ? "" : " v" + version);
        details.forEach((k, v) -> out.printf("%-14s %s%n", k.replace('_', ' ') + ":", v));
        out.printf("architecture:  %s%n", architecture == null ? "(none)" : architecture);
        out.printf("tokenizer:     %s%n", tokenizer == null ? "(none)" : tokenizer);
        out.printf("%nmetadata (%d keys):%n", metadata.size());
        metadata.forEach((k, v) -> out.printf("  %s = %s%n", k, preview(v)));
        out.printf("%ntensors (%d):%n", tensors.size());
        int w = Math.max(4, tensors.stream().mapToInt(t -> t.name().length()).max().orElse(4));
        out.printf("  %-" + w + "s  %-7s  %-22s  %14s  %14s%n", "name", "type", "shape", "offset", "bytes");
        Map<String, long[]> byType = new TreeMap<>();
        long totalBytes = 0;
        long totalParams = 0;
        for (Tensor t : tensors) {
            out.printf("  %-" + w + "s  %-7s  %-22s  %14d  %14d%n", t.name(), t.type(), shape(t.shape()), t.offset(), t.bytes());
            long[] acc = byType.computeIfAbsent(t.type(), k -> new long[3]);
            acc[0]++;
            acc[1] += t.params();
            acc[2] += t.bytes();
            totalBytes += t.bytes();
            totalParams += t.params();
        }
        out.printf("%nby type:%n");
        byType.forEach((type, acc) -> out.printf("  %-7s  %6d tensors  %16s params  %12s%n",
                type, acc[0], String.format(Locale.ROOT, "%,d", acc[1]), human(acc[2])));
        out.printf("%ntotal: %d tensors, %s parameters, %s of tensor data%n", tensors.size(),
                String.format(Locale.ROOT, "%,d", totalParams), human(totalBytes));
    }

    private static String shape(long[] s) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(s[i]);
        }
        return sb.append(']').toString();
    }

    private static String preview(Object v) {
        String s = v instanceof Map<?, ?> m && m.containsKey("array_of")
                ? "[" + m.get("array_of") + " × " + m.get("length") + "]"
                : String.valueOf(v);
        s = s.replace("\n", "\\n");
        return s.length() > 120 ? s.substring(0, 117) + "..." : s;
    }

    /** Bytes in binary units, e.g. {@code 1.50 GiB}. */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
