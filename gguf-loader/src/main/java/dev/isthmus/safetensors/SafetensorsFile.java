package dev.isthmus.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.isthmus.format.ModelFormatException;
import dev.isthmus.memory.MappedFile;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A safetensors file, mapped once, with zero-copy read-only views of its tensors.
 *
 * <h2>Format</h2>
 * An 8-byte little-endian unsigned header length {@code N}, then {@code N} bytes of UTF-8 JSON
 * (an object whose keys are tensor names, each mapping to
 * {@code {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}}, plus an optional
 * {@code "__metadata__"} object of string to string), then the data buffer. {@code data_offsets}
 * are relative to the start of the data buffer, i.e. to {@link #dataOffset()}.
 *
 * <h2>Validation</h2>
 * The file is untrusted. Every structural problem is a {@link ModelFormatException} naming the
 * file, a byte offset (the offending header entry where there is one) and the reason: a file
 * shorter than 8 bytes; a header length beyond the file or above {@value #MAX_HEADER_SIZE} bytes
 * (the reference implementation's cap); a header that is not valid UTF-8, does not start with
 * {@code '{'}, is not one JSON object or has trailing content (space padding is allowed);
 * duplicate keys at any level; an unknown dtype; a shape that is not an array of non-negative
 * integers, has more than {@value #MAX_RANK} dimensions or whose element count or byte size
 * overflows a {@code long}; {@code data_offsets} that are not two non-negative integers with
 * {@code begin <= end}; an {@code end} beyond the data buffer; a byte size other than
 * elements &times; dtype size; two tensors whose (non-empty) byte ranges overlap; a
 * {@code __metadata__} that is not an object of strings. Unknown fields inside a tensor entry are
 * ignored, as the reference implementation does.
 *
 * <p><b>Gaps are allowed.</b> The reference implementation also requires the tensors to cover
 * the data buffer exactly, with no holes and no trailing bytes. This reader deliberately accepts
 * unreferenced bytes between tensors and after the last one (they are never read): alignment
 * padding written by other tools is harmless, and rejecting it buys no safety because every
 * tensor is still bounds- and overlap-checked. {@link #unreferencedBytes()} reports how many
 * bytes of the buffer no tensor covers. Zero-byte tensors may sit at any offset within the buffer.
 *
 * <h2>Lifetime</h2>
 * {@link #close()} unmaps the file. Afterwards {@link #data} throws {@link IllegalStateException},
 * and so does any access through a segment obtained earlier: never a crash.
 * Instances are safe to share between threads.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest accepted header, in bytes (the reference implementation's limit). */
    public static final long MAX_HEADER_SIZE = 100L * 1000 * 1000;
    /** Largest accepted number of dimensions of one tensor. */
    public static final int MAX_RANK = 64;
    /** Key of the free-form string metadata in the header. */
    public static final String METADATA_KEY = "__metadata__";

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(64)
                    .maxStringLength((int) MAX_HEADER_SIZE)
                    .maxNumberLength(64)
                    .build())
            .build();
    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final MemorySegment whole;
    private final AutoCloseable owner;
    private final long headerSize;
    private final Map<String, String> metadata;
    private final List<SafetensorsTensor> tensors;
    private final Map<String, SafetensorsTensor> byName;
    private final long unreferenced;
    private volatile boolean closed;

    private SafetensorsFile(Path path, MemorySegment whole, AutoCloseable owner, Header h) {
        this.path = path;
        this.whole = whole;
        this.owner = owner;
        this.headerSize = h.headerSize;
        this.metadata = h.metadata;
        this.tensors = h.tensors;
        this.byName = h.byName;
        this.unreferenced = h.unreferenced;
    }

    /**
     * Maps and validates the safetensors file at {@code path}.
     *
     * @throws IOException          when the file cannot be opened or mapped
     * @throws ModelFormatException when the file is not a valid safetensors file
     */
    public static SafetensorsFile open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        MappedFile mf = MappedFile.open(path);
        try {
            Header h = parseHeader(mf.segment(), path);
            return new SafetensorsFile(path, mf.segment(), mf, h);
        } catch (RuntimeException e) {
            mf.close();
            throw e;
        }
    }

    /**
     * Validates an in-memory safetensors image. The bytes are copied into off-heap memory owned
     * by the returned instance (freed by {@link #close()}); {@code nameForErrors} (may be null)
     * names the input in exceptions and is returned by {@link #path()}.
     *
     * @throws ModelFormatException when the bytes are not a valid safetensors file
     */
    public static SafetensorsFile read(byte[] bytes, Path nameForErrors) {
        Objects.requireNonNull(bytes, "bytes");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg = arena.allocate(Math.max(1, bytes.length)).asSlice(0, bytes.length);
            MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length);
            MemorySegment ro = seg.asReadOnly();
            Header h = parseHeader(ro, nameForErrors);
            return new SafetensorsFile(nameForErrors, ro, arena, h);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The file's path (for {@link #read(byte[], Path)}: the name given, possibly null). */
    public Path path() {
        return path;
    }

    /** Total size of the file in bytes. */
    public long fileSize() {
        return whole.byteSize();
    }

    /** Length {@code N} of the JSON header in bytes (excluding the 8-byte length prefix). */
    public long headerSize() {
        return headerSize;
    }

    /** File offset of the data buffer: {@code 8 + headerSize()}. */
    public long dataOffset() {
        return 8 + headerSize;
    }

    /** Size of the data buffer: everything after the header. */
    public long dataSize() {
        return whole.byteSize() - dataOffset();
    }

    /** Bytes of the data buffer that no tensor covers (gaps and trailing bytes; see the class doc). */
    public long unreferencedBytes() {
        return unreferenced;
    }

    /** The header's {@code __metadata__} (empty when absent), unmodifiable, in header order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** All tensors, sorted by data offset, then name; unmodifiable. */
    public List<SafetensorsTensor> tensors() {
        return tensors;
    }

    /** The tensor named {@code name}, if present. */
    public Optional<SafetensorsTensor> tensor(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * A zero-copy, read-only view of {@code tensor}'s bytes.
     *
     * @throws IllegalStateException    after {@link #close()}
     * @throws IllegalArgumentException when {@code tensor} is not one of this file's tensors
     */
    public MemorySegment data(SafetensorsTensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        ensureOpen();
        if (!tensor.equals(byName.get(tensor.name()))) {
            throw new IllegalArgumentException("not a tensor of " + path + ": " + tensor);
        }
        return whole.asSlice(tensor.absoluteOffset(), tensor.byteSize());
    }

    /**
     * A zero-copy, read-only view of the bytes of the tensor named {@code name}.
     *
     * @throws IllegalStateException    after {@link #close()}
     * @throws IllegalArgumentException when there is no such tensor
     */
    public MemorySegment data(String name) {
        SafetensorsTensor t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        }
        return data(t);
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return !closed;
    }

    /** Unmaps (or frees) the file's memory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            owner.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + path, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors" + (closed ? ", closed" : "") + "]";
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("safetensors file is closed: " + path);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Header parsing

    private record Header(long headerSize, Map<String, String> metadata, List<SafetensorsTensor> tensors,
                          Map<String, SafetensorsTensor> byName, long unreferenced) {
    }

    private static Header parseHeader(MemorySegment file, Path path) {
        long size = file.byteSize();
        if (size < 8) {
            throw new ModelFormatException(path, 0, "file is " + size
                    + " bytes, shorter than the 8-byte header length");
        }
        long n = file.get(U64_LE, 0);
        if (n < 0 || n > MAX_HEADER_SIZE) {
            throw new ModelFormatException(path, 0, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_SIZE + " bytes");
        }
        if (n > size - 8) {
            throw new ModelFormatException(path, 0, "header length " + n + " extends beyond the end of the "
                    + size + "-byte file");
        }
        if (n < 2) {
            throw new ModelFormatException(path, 8, "header of " + n + " bytes is too short to be a JSON object");
        }
        byte[] json = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        if (json[0] != '{') {
            throw new ModelFormatException(path, 8, "header does not start with '{'");
        }
        int bad = Utf8.firstInvalid(json);
        if (bad >= 0) {
            throw new ModelFormatException(path, 8 + bad, "header is not valid UTF-8");
        }
        long dataOffset = 8 + n;
        long dataSize = size - dataOffset;
        HeaderReader r = new HeaderReader(path, dataOffset, dataSize);
        try (JsonParser p = JSON.createParser(json)) {
            r.read(p);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            long off = loc != null && loc.getByteOffset() >= 0 ? 8 + loc.getByteOffset() : 8;
            throw new ModelFormatException(path, off, "header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException(path, 8, "header could not be read: " + e.getMessage(), e);
        }
        return r.finish(n);
    }

    /** Streams the header JSON (Jackson's parser does the JSON; this class only checks the schema). */
    private static final class HeaderReader {
        private final Path path;
        private final long dataOffset;
        private final long dataSize;
        private final Map<String, String> metadata = new LinkedHashMap<>();
        private final List<SafetensorsTensor> tensors = new ArrayList<>();
        private final Map<SafetensorsTensor, Long> entryOffsets = new HashMap<>();
        private boolean sawMetadata;

        HeaderReader(Path path, long dataOffset, long dataSize) {
            this.path = path;
            this.dataOffset = dataOffset;
            this.dataSize = dataSize;
        }

        private long where(JsonParser p) {
            long b = p.currentTokenLocation().getByteOffset();
            return b >= 0 ? 8 + b : 8;
        }

        private ModelFormatException fail(long offset, String reason) {
            return new ModelFormatException(path, offset, reason);
        }

        void read(JsonParser p) throws IOException {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw fail(8, "header is not a JSON object");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                long at = where(p);
                JsonToken v = p.nextToken();
                if (METADATA_KEY.equals(key)) {
                    sawMetadata = true;
                    readMetadata(p, v, at);
                } else {
                    readTensor(p, v, key, at);
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw fail(where(p), "header is not a JSON object");
            }
            if (p.nextToken() != null) {
                throw fail(where(p), "trailing content after the header's JSON object");
            }
        }

        private void readMetadata(JsonParser p, JsonToken v, long at) throws IOException {
            if (v == JsonToken.VALUE_NULL) {
                return;
            }
            if (v != JsonToken.START_OBJECT) {
                throw fail(at, "__metadata__ is not an object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String k = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_STRING) {
                    throw fail(where(p), "__metadata__ value for '" + k + "' is not a string");
                }
                metadata.put(k, p.getText());
            }
        }

        private void readTensor(JsonParser p, JsonToken v, String name, long at) throws IOException {
            if (v != JsonToken.START_OBJECT) {
                throw fail(at, "entry for tensor '" + name + "' is not an object");
            }
            String dtypeName = null;
            long[] shape = null;
            long[] offsets = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken ft = p.nextToken();
                switch (field) {
                    case "dtype" -> {
                        if (ft != JsonToken.VALUE_STRING) {
                            throw fail(where(p), "tensor '" + name + "': dtype is not a string");
                        }
                        dtypeName = p.getText();
                    }
                    case "shape" -> shape = readLongs(p, ft, name, "shape", MAX_RANK);
                    case "data_offsets" -> offsets = readLongs(p, ft, name, "data_offsets", 2);
                    default -> p.skipChildren();
                }
            }
            if (dtypeName == null) {
                throw fail(at, "tensor '" + name + "' has no dtype");
            }
            if (shape == null) {
                throw fail(at, "tensor '" + name + "' has no shape");
            }
            if (offsets == null) {
                throw fail(at, "tensor '" + name + "' has no data_offsets");
            }
            String dn = dtypeName;
            SafetensorsDType dtype = SafetensorsDType.fromFormatName(dtypeName)
                    .orElseThrow(() -> fail(at, "tensor '" + name + "' has unknown dtype '" + dn + "'"));
            if (offsets.length != 2) {
                throw fail(at, "tensor '" + name + "': data_offsets must be [begin, end]");
            }
            long begin = offsets[0];
            long end = offsets[1];
            if (begin > end) {
                throw fail(at, "tensor '" + name + "': data_offsets begin " + begin + " > end " + end);
            }
            if (end > dataSize) {
                throw fail(at, "tensor '" + name + "': data_offsets end " + end
                        + " is beyond the data buffer of " + dataSize + " bytes");
            }
            long elements = 1;
            long bytes;
            try {
                for (long d : shape) {
                    elements = Math.multiplyExact(elements, d);
                }
                bytes = Math.multiplyExact(elements, (long) dtype.byteSize());
            } catch (ArithmeticException e) {
                throw fail(at, "tensor '" + name + "': element count of shape overflows");
            }
            if (bytes != end - begin) {
                throw fail(at, "tensor '" + name + "': " + elements + " elements of " + dtype + " need "
                        + bytes + " bytes but data_offsets span " + (end - begin));
            }
            SafetensorsTensor tensor = new SafetensorsTensor(name, dtype, shape, begin, end, dataOffset + begin);
            tensors.add(tensor);
            entryOffsets.put(tensor, at);
        }

        private long[] readLongs(JsonParser p, JsonToken t, String name, String field, int max) throws IOException {
            if (t != JsonToken.START_ARRAY) {
                throw fail(where(p), "tensor '" + name + "': " + field + " is not an array");
            }
            long[] out = new long[Math.min(max, 8)];
            int n = 0;
            JsonToken e;
            while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
                if (e != JsonToken.VALUE_NUMBER_INT) {
                    throw fail(where(p), "tensor '" + name + "': " + field + " holds a non-integer");
                }
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    throw fail(where(p), "tensor '" + name + "': " + field + " value " + p.getText() + " is too large");
                }
                long value = p.getLongValue();
                if (value < 0) {
                    throw fail(where(p), "tensor '" + name + "': " + field + " holds negative value " + value);
                }
                if (n == max) {
                    throw fail(where(p), "tensor '" + name + "': " + field + " has more than " + max + " entries");
                }
                if (n == out.length) {
                    out = java.util.Arrays.copyOf(out, Math.min(max, out.length * 2));
                }
                out[n++] = value;
            }
            return java.util.Arrays.copyOf(out, n);
        }

        Header finish(long headerSize) {
            tensors.sort(Comparator.comparingLong(SafetensorsTensor::begin).thenComparing(SafetensorsTensor::name));
            Map<String, SafetensorsTensor> byName = new HashMap<>(tensors.size() * 2);
            long covered = 0;
            SafetensorsTensor prev = null;
            for (SafetensorsTensor t : tensors) {
                byName.put(t.name(), t);
                if (t.byteSize() == 0) {
                    continue;
                }
                if (prev != null && t.begin() < prev.end()) {
                    throw fail(entryOffsets.get(t), "tensor '" + t.name() + "' [" + t.begin() + ", " + t.end()
                            + ") overlaps tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + ")");
                }
                covered += t.byteSize();
                prev = t;
            }
            return new Header(headerSize, Collections.unmodifiableMap(metadata), List.copyOf(tensors),
                    byName, dataSize - covered);
        }
    }

    /** Strict UTF-8 validation without allocating (no overlongs, no surrogates, at most U+10FFFF). */
    static final class Utf8 {
        private Utf8() {
        }

        /** Index of the first byte of the first invalid sequence, or -1 when {@code b} is valid UTF-8. */
        static int firstInvalid(byte[] b) {
            int i = 0;
            int n = b.length;
            while (i < n) {
                int c = b[i] & 0xFF;
                if (c < 0x80) {
                    i++;
                    continue;
                }
                int len;
                int min;
                if (c >= 0xC2 && c <= 0xDF) {
                    len = 2;
                    min = 0x80;
                } else if (c >= 0xE0 && c <= 0xEF) {
                    len = 3;
                    min = 0x800;
                } else if (c >= 0xF0 && c <= 0xF4) {
                    len = 4;
                    min = 0x10000;
                } else {
                    return i;
                }
                if (i + len > n) {
                    return i;
                }
                int cp = c & (0xFF >> (len + 1));
                for (int k = 1; k < len; k++) {
                    int cc = b[i + k] & 0xFF;
                    if ((cc & 0xC0) != 0x80) {
                        return i;
                    }
                    cp = (cp << 6) | (cc & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    return i;
                }
                i += len;
            }
            return -1;
        }
    }
}
