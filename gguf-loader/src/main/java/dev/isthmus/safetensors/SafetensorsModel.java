package dev.isthmus.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.format.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The safetensors weights of a model: one file, or a folder of shards described by an index.
 *
 * <h2>What {@link #open(Path)} accepts</h2>
 * <ul>
 *   <li>a {@code *.safetensors} file;</li>
 *   <li>a {@code *.safetensors.index.json} file: {@code {"metadata": {...}, "weight_map":
 *       {tensor: shard-file}}}, shards resolved against the index's folder;</li>
 *   <li>a folder, looked up in this order: {@code model.safetensors.index.json},
 *       {@code model.safetensors}, the only {@code *.safetensors.index.json}, the only
 *       {@code *.safetensors}. Anything else (none, or several candidates) is an error.</li>
 * </ul>
 *
 * <h2>Sharded models</h2>
 * Every distinct shard is mapped once. The {@code weight_map} is authoritative: {@link #tensors()}
 * lists exactly its tensors, and each must exist in the shard it names (else
 * {@link ModelFormatException}). Shard names must be relative paths that stay inside the index's
 * folder (no absolute paths, no {@code ..}); a shard that does not exist is a clear error. The
 * index's {@code metadata} values are exposed as strings (numbers such as {@code total_size} are
 * rendered as JSON text).
 *
 * <p>{@link #close()} unmaps every shard; later {@link #data} calls throw
 * {@link IllegalStateException}.
 */
public final class SafetensorsModel implements AutoCloseable {
    /** The conventional index name in a Hugging Face model folder. */
    public static final String INDEX_NAME = "model.safetensors.index.json";
    /** The conventional single-file name in a Hugging Face model folder. */
    public static final String SINGLE_NAME = "model.safetensors";
    private static final long MAX_INDEX_SIZE = 64L * 1024 * 1024;

    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path source;
    private final Map<String, String> metadata;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> shardOf;
    private final List<SafetensorsTensor> tensors;

    private SafetensorsModel(Path source, Map<String, String> metadata, List<SafetensorsFile> shards,
                             Map<String, SafetensorsFile> shardOf, List<SafetensorsTensor> tensors) {
        this.source = source;
        this.metadata = metadata;
        this.shards = shards;
        this.shardOf = shardOf;
        this.tensors = tensors;
    }

    /**
     * Opens a model from a folder, an index file or a single safetensors file (see the class doc).
     *
     * @throws IOException          when a file cannot be read or mapped
     * @throws ModelFormatException when the folder, index or a shard is malformed
     */
    public static SafetensorsModel open(Path dirOrFile) throws IOException {
        Objects.requireNonNull(dirOrFile, "dirOrFile");
        if (Files.isDirectory(dirOrFile)) {
            Path index = dirOrFile.resolve(INDEX_NAME);
            if (Files.isRegularFile(index)) {
                return openIndex(index);
            }
            Path single = dirOrFile.resolve(SINGLE_NAME);
            if (Files.isRegularFile(single)) {
                return openSingle(single);
            }
            List<Path> indexes = list(dirOrFile, "*.safetensors.index.json");
            if (indexes.size() == 1) {
                return openIndex(indexes.getFirst());
            }
            if (indexes.size() > 1) {
                throw new ModelFormatException(dirOrFile, -1, "several *.safetensors.index.json files and no "
                        + INDEX_NAME + ": " + names(indexes));
            }
            List<Path> files = list(dirOrFile, "*.safetensors");
            if (files.size() == 1) {
                return openSingle(files.getFirst());
            }
            throw new ModelFormatException(dirOrFile, -1, files.isEmpty()
                    ? "no safetensors weights in folder (no " + INDEX_NAME + ", " + SINGLE_NAME + " or *.safetensors)"
                    : "several *.safetensors files and no index: " + names(files));
        }
        String name = dirOrFile.getFileName() == null ? "" : dirOrFile.getFileName().toString();
        return name.endsWith(".index.json") ? openIndex(dirOrFile) : openSingle(dirOrFile);
    }

    private static List<Path> list(Path dir, String glob) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) {
                if (Files.isRegularFile(p)) {
                    out.add(p);
                }
            }
        }
        Collections.sort(out);
        return out;
    }

    private static String names(List<Path> paths) {
        return paths.stream().map(p -> p.getFileName().toString()).toList().toString();
    }

    private static SafetensorsModel openSingle(Path file) throws IOException {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        for (SafetensorsTensor t : f.tensors()) {
            shardOf.put(t.name(), f);
        }
        return new SafetensorsModel(file, f.metadata(), List.of(f), shardOf, f.tensors());
    }

    private static SafetensorsModel openIndex(Path index) throws IOException {
        long size = Files.size(index);
        if (size > MAX_INDEX_SIZE) {
            throw new ModelFormatException(index, -1, "index is " + size + " bytes, above the limit of " + MAX_INDEX_SIZE);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(Files.readAllBytes(index));
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            throw new ModelFormatException(index, loc == null ? -1 : loc.getByteOffset(),
                    "index is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(index, 0, "index is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode md = root.get("metadata");
        if (md != null && !md.isNull()) {
            if (!md.isObject()) {
                throw new ModelFormatException(index, -1, "index 'metadata' is not an object");
            }
            for (Map.Entry<String, JsonNode> e : md.properties()) {
                JsonNode v = e.getValue();
                metadata.put(e.getKey(), v.isTextual() ? v.textValue() : v.toString());
            }
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new ModelFormatException(index, -1, "index has no 'weight_map' object");
        }
        Path dir = index.toAbsolutePath().normalize().getParent();
        Map<Path, SafetensorsFile> byShardName = new LinkedHashMap<>(); // keyed by resolved path: each file once
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        boolean ok = false;
        try {
            for (Map.Entry<String, JsonNode> e : wm.properties()) {
                String tensor = e.getKey();
                JsonNode v = e.getValue();
                if (!v.isTextual()) {
                    throw new ModelFormatException(index, -1, "weight_map entry for '" + tensor + "' is not a string");
                }
                String shardName = v.textValue();
                Path p = resolveShard(index, dir, shardName, tensor);
                SafetensorsFile shard = byShardName.get(p);
                if (shard == null) {
                    shard = SafetensorsFile.open(p);
                    byShardName.put(p, shard);
                }
                if (shard.tensor(tensor).isEmpty()) {
                    throw new ModelFormatException(index, -1, "weight_map says tensor '" + tensor + "' is in shard '"
                            + shardName + "', but that shard has no such tensor");
                }
                shardOf.put(tensor, shard);
            }
            List<SafetensorsTensor> tensors = new ArrayList<>(shardOf.size());
            for (SafetensorsFile shard : byShardName.values()) {
                for (SafetensorsTensor t : shard.tensors()) {
                    if (shardOf.get(t.name()) == shard) {
                        tensors.add(t);
                    }
                }
            }
            SafetensorsModel m = new SafetensorsModel(index, Collections.unmodifiableMap(metadata),
                    List.copyOf(byShardName.values()), Collections.unmodifiableMap(shardOf), List.copyOf(tensors));
            ok = true;
            return m;
        } finally {
            if (!ok) {
                byShardName.values().forEach(SafetensorsFile::close);
            }
        }
    }

    private static Path resolveShard(Path index, Path dir, String shardName, String tensor) {
        String why = null;
        Path p = null;
        if (shardName.isEmpty()) {
            why = "is empty";
        } else if (shardName.startsWith("/") || shardName.startsWith("\\") || shardName.contains(":")) {
            why = "is absolute";
        } else {
            for (String part : shardName.split("[/\\\\]")) {
                if (part.equals("..")) {
                    why = "contains '..'";
                    break;
                }
            }
        }
        if (why == null) {
            try {
                Path rel = Path.of(shardName);
                p = dir.resolve(rel).normalize();
                if (rel.isAbsolute() || !p.startsWith(dir)) {
                    why = "escapes the model folder";
                }
            } catch (InvalidPathException e) {
                why = "is not a valid path";
            }
        }
        if (why != null) {
            throw new ModelFormatException(index, -1, "shard name '" + shardName + "' for tensor '" + tensor + "' " + why);
        }
        if (!Files.isRegularFile(p)) {
            throw new ModelFormatException(index, -1, "shard '" + shardName + "' named for tensor '" + tensor
                    + "' does not exist: " + p);
        }
        return p;
    }

    /** What was opened: the index file or the single safetensors file. */
    public Path source() {
        return source;
    }

    /** The index's {@code metadata} (or the single file's {@code __metadata__}); unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The mapped shards, each once, in first-use order. */
    public List<SafetensorsFile> shards() {
        return shards;
    }

    /** All tensors, grouped by shard (in {@link #shards()} order), each shard's sorted by offset. */
    public List<SafetensorsTensor> tensors() {
        return tensors;
    }

    /** The tensor named {@code name}, if present. */
    public Optional<SafetensorsTensor> tensor(String name) {
        SafetensorsFile f = shardOf.get(name);
        return f == null ? Optional.empty() : f.tensor(name);
    }

    /** The shard holding the tensor named {@code name}, if present. */
    public Optional<SafetensorsFile> shardOf(String name) {
        return Optional.ofNullable(shardOf.get(name));
    }

    /**
     * A zero-copy, read-only view of the bytes of the tensor named {@code name}.
     *
     * @throws IllegalArgumentException when there is no such tensor
     * @throws IllegalStateException    after {@link #close()}
     */
    public MemorySegment data(String name) {
        SafetensorsFile f = shardOf.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + source);
        }
        return f.data(name);
    }

    /** Unmaps every shard. Idempotent. */
    @Override
    public void close() {
        for (SafetensorsFile f : shards) {
            f.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsModel[" + source + ", " + shards.size() + " shard(s), " + tensors.size() + " tensors]";
    }
}
