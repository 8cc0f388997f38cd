package dev.isthmus.gguf;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.format.UnsupportedModelException;
import dev.isthmus.memory.MappedFile;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A GGUF file (versions 2 and 3, little-endian), mapped read-only once, with its metadata and its
 * tensor-info table parsed and validated, and its tensors' data available as zero-copy slices of
 * the mapping.
 *
 * <p>Opening reads only the header, the metadata and the tensor infos: it is O(metadata) and never
 * touches tensor bytes. The file is untrusted input: every structural problem — truncation, a bad
 * magic, an unsupported version, a count or length beyond the file, an unknown value or tensor
 * type, a duplicate key or tensor name, invalid UTF-8, an array nested deeper than
 * {@value #MAX_ARRAY_DEPTH}, an invalid {@code general.alignment}, a {@code general.architecture}
 * that is not a string, a bad shape, a misaligned,
 * overlapping or out-of-file tensor — is reported as a {@link ModelFormatException} naming the
 * file and the byte offset of the offending field. Before anything is allocated for N elements,
 * N times the smallest encoding of one element is checked against the bytes left in the file, so
 * a header claiming 2<sup>60</sup> entries fails at once; lists of strings, arrays and tensor infos
 * grow as they are parsed rather than being sized from the count. Primitive arrays are allocated at
 * their exact encoded size once their bytes are known to be present. Heap use is thus proportional
 * to the metadata actually present in the file (there is no separate cap on its total size).
 *
 * <p>Policies: strings (keys, values, tensor names) must be valid UTF-8 and are rejected
 * otherwise (replacing bad bytes would silently change tokenizer vocabularies); a single string
 * may not exceed {@value #MAX_STRING_BYTES} bytes; {@code general.alignment} must be a UINT32
 * non-zero power of two (default {@value #DEFAULT_ALIGNMENT}); tensors have 1 to
 * {@value #MAX_DIMS} dimensions, each non-negative (zero gives an empty tensor), {@code ne[0]} a
 * multiple of the type's block size; tensor offsets are multiples of the alignment, and tensors may
 * lie in the data section in any order but must not overlap. Booleans must be 0 or 1. A file with
 * no tensors may end before the padded start of its (empty) data section.
 *
 * <p>{@link #close()} unmaps the file; afterwards every segment obtained from it throws
 * {@link IllegalStateException} on access, and {@link #tensorData} throws it too.
 * Instances are safe for concurrent reads.
 */
public final class GgufFile implements AutoCloseable {
    /** "GGUF" read as a little-endian int. */
    public static final int MAGIC = 0x46554747;
    /** The alignment used when a file has no {@code general.alignment}. */
    public static final long DEFAULT_ALIGNMENT = 32;
    /** The metadata key that sets the alignment. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** The metadata key naming the model architecture; must be a string when present. */
    public static final String ARCHITECTURE_KEY = "general.architecture";
    /** The deepest nesting of arrays accepted (an array of scalars has depth 1). */
    public static final int MAX_ARRAY_DEPTH = 8;
    /** The most dimensions a tensor may have (ggml's GGML_MAX_DIMS). */
    public static final int MAX_DIMS = 4;
    /** The longest string accepted, in bytes. */
    public static final int MAX_STRING_BYTES = 256 << 20;

    private final Path path;
    private final MappedFile mapped; // null when parsed from a caller-owned segment
    private final MemorySegment segment;
    private final int version;
    private final long alignment;
    private final long dataOffset;
    private final Map<String, GgufValue> metadata;
    private final List<GgufTensorInfo> tensors;
    private final Map<String, GgufTensorInfo> byName;
    private final Map<String, Long> keyOffsets;
    private volatile boolean closed;

    private GgufFile(Path path, MappedFile mapped, MemorySegment segment, int version, long alignment,
                     long dataOffset, Map<String, GgufValue> metadata, List<GgufTensorInfo> tensors,
                     Map<String, Long> keyOffsets) {
        this.path = path;
        this.mapped = mapped;
        this.segment = segment;
        this.version = version;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.metadata = metadata;
        this.tensors = tensors;
        Map<String, GgufTensorInfo> m = HashMap.newHashMap(tensors.size());
        for (GgufTensorInfo t : tensors) {
            m.put(t.name(), t);
        }
        this.byName = m;
        this.keyOffsets = keyOffsets;
    }

    /**
     * Maps {@code path} read-only and parses it.
     *
     * @throws IOException          when the file cannot be read or mapped
     * @throws ModelFormatException when it is not a valid GGUF v2/v3 file
     */
    public static GgufFile open(Path path) throws IOException {
        MappedFile mf = MappedFile.open(path);
        try {
            return parse(path, mf, mf.segment());
        } catch (RuntimeException | Error e) {
            mf.close();
            throw e;
        }
    }

    /**
     * Parses a GGUF image held in memory (for example a heap segment, or a mapping the caller owns).
     * The returned file does not own {@code segment}: {@link #close()} only marks it closed.
     *
     * @param nameForErrors the name used in error messages (may be null)
     * @throws ModelFormatException when the bytes are not a valid GGUF v2/v3 file
     */
    public static GgufFile parse(MemorySegment segment, Path nameForErrors) {
        return parse(nameForErrors, null, Objects.requireNonNull(segment, "segment"));
    }

    private static GgufFile parse(Path path, MappedFile mapped, MemorySegment seg) {
        Parser p = new Parser(seg, path);
        p.parse();
        return new GgufFile(path, mapped, seg, p.version, p.alignment, p.dataOffset,
                Collections.unmodifiableMap(p.metadata), Collections.unmodifiableList(p.tensors), p.keyOffsets);
    }

    // ---------------------------------------------------------------- accessors

    /** The path given to {@link #open}, or the name given to {@link #parse} (may be null). */
    public Path path() {
        return path;
    }

    /** The GGUF version (2 or 3). */
    public int version() {
        return version;
    }

    /** The data section's alignment: {@code general.alignment} or {@value #DEFAULT_ALIGNMENT}. */
    public long alignment() {
        return alignment;
    }

    /** The absolute file offset where the data section starts (the end of the tensor infos, padded). */
    public long dataOffset() {
        return dataOffset;
    }

    /** The file's size in bytes. */
    public long fileSize() {
        return segment.byteSize();
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return !closed && segment.scope().isAlive();
    }

    /** All metadata in file order (unmodifiable). */
    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** The metadata value under {@code key}. */
    public Optional<GgufValue> get(String key) {
        return Optional.ofNullable(metadata.get(key));
    }

    /** The absolute file offset of the key-value pair {@code key} (where its key's length is stored). */
    public OptionalLong keyOffset(String key) {
        Long off = keyOffsets.get(key);
        return off == null ? OptionalLong.empty() : OptionalLong.of(off);
    }

    private ModelFormatException wrongType(String key, GgufValue v, String expected) {
        return new ModelFormatException(path, keyOffsets.get(key),
                "metadata key '" + key + "' has type " + v.type() + ", expected " + expected);
    }

    /**
     * The string under {@code key}; empty when absent.
     *
     * @throws ModelFormatException when the key holds another type (naming the key-value pair's offset)
     */
    public Optional<String> getString(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v.type() != GgufValueType.STRING) {
            throw wrongType(key, v, "STRING");
        }
        return Optional.of(v.asString());
    }

    /**
     * The integer (or boolean as 0/1) under {@code key}; empty when absent. UINT64 values are
     * returned as their bits.
     *
     * @throws ModelFormatException when the key holds another type (naming the key-value pair's offset)
     */
    public OptionalLong getLong(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) {
            return OptionalLong.empty();
        }
        if (!v.type().isInteger() && v.type() != GgufValueType.BOOL) {
            throw wrongType(key, v, "an integer");
        }
        return OptionalLong.of(v.asLong());
    }

    /** {@code general.architecture} (checked to be a string when the file was opened), or null when absent. */
    public String architecture() {
        return getString(ARCHITECTURE_KEY).orElse(null);
    }

    /** The tensor infos in file order (unmodifiable). */
    public List<GgufTensorInfo> tensors() {
        return tensors;
    }

    /**
     * Checks that Isthmus can compute with every tensor's type ({@link GgmlType#computable()}).
     * Inspecting a file never needs this; loading it for inference does.
     *
     * @throws UnsupportedModelException naming the first tensor whose type cannot be computed, its
     *                                   type, and how many tensors share the problem
     */
    public void requireComputable() {
        GgufTensorInfo first = null;
        int count = 0;
        java.util.Set<GgmlType> types = new java.util.TreeSet<>();
        for (GgufTensorInfo t : tensors) {
            if (!t.type().computable()) {
                if (first == null) {
                    first = t;
                }
                count++;
                types.add(t.type());
            }
        }
        if (first != null) {
            throw new UnsupportedModelException(path, first.absoluteOffset(), "tensor '" + first.name()
                    + "' has type " + first.type() + ", which Isthmus cannot compute with yet"
                    + (count > 1 ? " (" + count + " tensors of types " + types + " in all)" : ""));
        }
    }

    /** The tensor info named {@code name}. */
    public Optional<GgufTensorInfo> tensor(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * The tensor's data: a zero-copy, read-only slice of {@link #segment()}.
     *
     * @throws IllegalStateException    after {@link #close()}
     * @throws IllegalArgumentException when {@code info} is not one of this file's tensors
     */
    public MemorySegment tensorData(GgufTensorInfo info) {
        if (!isOpen()) {
            throw new IllegalStateException("GGUF file " + path + " is closed");
        }
        if (!info.equals(byName.get(info.name()))) {
            throw new IllegalArgumentException("tensor " + info.name() + " is not in " + path);
        }
        return segment.asSlice(info.absoluteOffset(), info.byteSize());
    }

    /** The tensor's data by name. @throws IllegalArgumentException when there is no such tensor */
    public MemorySegment tensorData(String name) {
        GgufTensorInfo info = byName.get(name);
        if (info == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        }
        return tensorData(info);
    }

    /** The whole file (read-only for mapped files). Inaccessible after {@link #close()} for opened files. */
    public MemorySegment segment() {
        return segment;
    }

    /** Unmaps the file (when opened from a path). Idempotent. */
    @Override
    public void close() {
        closed = true;
        if (mapped != null) {
            mapped.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors"
                + (isOpen() ? "" : ", closed") + "]";
    }

    // ---------------------------------------------------------------- parser

    /** Reads the header, metadata and tensor infos from a segment; every problem is a ModelFormatException. */
    private static final class Parser {
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        /** Smallest tensor info: name length, n_dims, one dimension, type, offset. */
        private static final long MIN_TENSOR_INFO = 8 + 4 + 8 + 4 + 8;
        /** Initial capacity of collections sized by a count read from the file. */
        private static final int PREALLOCATE = 1024;
        /** Smallest key-value pair: key length, value type, a one-byte value. */
        private static final long MIN_KV = 8 + 4 + 1;

        private final MemorySegment seg;
        private final long size;
        private final Path path;
        private long pos;
        private CharsetDecoder utf8;

        int version;
        long alignment = DEFAULT_ALIGNMENT;
        long dataOffset;
        final Map<String, GgufValue> metadata = new LinkedHashMap<>();
        final List<GgufTensorInfo> tensors = new ArrayList<>();
        final Map<String, Long> keyOffsets = new HashMap<>();

        Parser(MemorySegment seg, Path path) {
            this.seg = seg;
            this.size = seg.byteSize();
            this.path = path;
        }

        private ModelFormatException fail(long at, String reason) {
            return new ModelFormatException(path, at, reason);
        }

        private long remaining() {
            return size - pos;
        }

        private void need(long n, String what) {
            if (n > remaining()) {
                throw fail(pos, "truncated: " + what + " needs " + n + " bytes, " + remaining() + " left in the file");
            }
        }

        private int u8(String what) {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        private long u32(String what) {
            need(4, what);
            long v = seg.get(U32, pos) & 0xFFFF_FFFFL;
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /** Reads a count of elements that each take at least {@code minSize} bytes, checked against the file. */
        private int count(String what, long minSize) {
            long at = pos;
            long n = u64(what + " count");
            if (n < 0 || n > remaining() / minSize) {
                throw fail(at, what + " count " + Long.toUnsignedString(n) + " exceeds what the remaining "
                        + remaining() + " bytes can hold");
            }
            if (n > Integer.MAX_VALUE - 16) {
                throw fail(at, what + " count " + n + " is too large");
            }
            return (int) n;
        }

        private String string(String what) {
            long at = pos;
            long len = u64(what + " length");
            if (len < 0 || len > remaining()) {
                throw fail(at, what + " length " + Long.toUnsignedString(len) + " exceeds the remaining " + remaining() + " bytes");
            }
            if (len > MAX_STRING_BYTES) {
                throw fail(at, what + " length " + len + " exceeds the limit of " + MAX_STRING_BYTES + " bytes");
            }
            int n = (int) len;
            if (n == 0) {
                return "";
            }
            byte[] b = new byte[n];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, n);
            boolean ascii = true;
            for (byte x : b) {
                if (x < 0) {
                    ascii = false;
                    break;
                }
            }
            String s;
            if (ascii) {
                s = new String(b, StandardCharsets.ISO_8859_1);
            } else {
                if (utf8 == null) {
                    utf8 = StandardCharsets.UTF_8.newDecoder()
                            .onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT);
                }
                try {
                    s = utf8.reset().decode(ByteBuffer.wrap(b)).toString();
                } catch (CharacterCodingException e) {
                    throw fail(pos, what + " is not valid UTF-8");
                }
            }
            pos += n;
            return s;
        }

        void parse() {
            need(4, "magic");
            int magic = seg.get(U32, 0);
            if (magic != MAGIC) {
                throw fail(0, String.format("bad magic 0x%08x: not a GGUF file", Integer.reverseBytes(magic)));
            }
            pos = 4;
            long v = u32("version");
            if (Integer.reverseBytes((int) v) >= 1 && Integer.reverseBytes((int) v) <= 3) {
                throw fail(4, "big-endian GGUF files are not supported");
            }
            if (v == 1) {
                throw fail(4, "GGUF version 1 is not supported (only 2 and 3)");
            }
            if (v != 2 && v != 3) {
                throw fail(4, "unsupported GGUF version " + v + " (only 2 and 3)");
            }
            version = (int) v;
            long tcPos = pos;
            long tensorCount = u64("tensor count");
            long kvCount = count("metadata key-value", MIN_KV);
            if (tensorCount < 0 || tensorCount > remaining() / MIN_TENSOR_INFO || tensorCount > Integer.MAX_VALUE - 16) {
                throw fail(tcPos, "tensor count " + Long.toUnsignedString(tensorCount) + " exceeds what the remaining "
                        + remaining() + " bytes can hold");
            }

            for (long i = 0; i < kvCount; i++) {
                long keyPos = pos;
                String key = string("metadata key");
                if (metadata.containsKey(key)) {
                    throw fail(keyPos, "duplicate metadata key '" + abbreviate(key) + "'");
                }
                long typePos = pos;
                GgufValueType type = valueType("value type of '" + abbreviate(key) + "'");
                long valuePos = pos;
                GgufValue value = value(type, 0);
                if (key.equals(ALIGNMENT_KEY)) {
                    if (type != GgufValueType.UINT32) {
                        throw fail(typePos, ALIGNMENT_KEY + " has type " + type + ", expected UINT32");
                    }
                    long a = value.asLong();
                    if (a == 0 || Long.bitCount(a) != 1) {
                        throw fail(valuePos, ALIGNMENT_KEY + " " + a + " is not a non-zero power of two");
                    }
                    alignment = a;
                }
                if (key.equals(ARCHITECTURE_KEY) && type != GgufValueType.STRING) {
                    throw fail(typePos, ARCHITECTURE_KEY + " has type " + type + ", expected STRING");
                }
                metadata.put(key, value);
                keyOffsets.put(key, keyPos);
            }

            int n = (int) tensorCount; // bounded by the check above: file size / 32
            // Collections grow with what is actually parsed: a hostile count in a huge file
            // allocates nothing up front beyond a small initial capacity.
            long[] offsetPos = new long[Math.min(n, PREALLOCATE)];
            Map<String, Integer> names = HashMap.newHashMap(Math.min(n, PREALLOCATE));
            List<Object[]> raw = new ArrayList<>(Math.min(n, PREALLOCATE));
            for (int i = 0; i < n; i++) {
                long infoPos = pos;
                if (i == offsetPos.length) {
                    offsetPos = Arrays.copyOf(offsetPos, (int) Math.min(n, 2L * i));
                }
                String name = string("tensor name");
                if (names.putIfAbsent(name, i) != null) {
                    throw fail(infoPos, "duplicate tensor name '" + abbreviate(name) + "'");
                }
                long dimsPos = pos;
                long nDims = u32("dimension count of tensor '" + abbreviate(name) + "'");
                if (nDims < 1 || nDims > MAX_DIMS) {
                    throw fail(dimsPos, "tensor '" + abbreviate(name) + "' has " + nDims + " dimensions (1 to " + MAX_DIMS + " allowed)");
                }
                long[] shape = new long[(int) nDims];
                long elements = 1;
                boolean overflow = false;
                for (int d = 0; d < nDims; d++) {
                    long dPos = pos;
                    shape[d] = u64("dimension of tensor '" + abbreviate(name) + "'");
                    if (shape[d] < 0) {
                        throw fail(dPos, "tensor '" + abbreviate(name) + "' has negative dimension " + shape[d]);
                    }
                    if (!overflow) {
                        long hi = Math.multiplyHigh(elements, shape[d]);
                        long lo = elements * shape[d];
                        if (hi != 0 || lo < 0) {
                            overflow = true;
                        } else {
                            elements = lo;
                        }
                    }
                }
                if (overflow) {
                    throw fail(dimsPos + 4, "tensor '" + abbreviate(name) + "' shape " + Arrays.toString(shape)
                            + " has more elements than a 64-bit count holds");
                }
                long typePos = pos;
                long typeId = u32("type of tensor '" + abbreviate(name) + "'");
                GgmlType type = GgmlType.byId(typeId).orElseThrow(() -> fail(typePos,
                        "tensor '" + abbreviate(name) + "' has unknown ggml type id " + typeId));
                if (shape[0] % type.blockSize() != 0) {
                    throw fail(dimsPos + 4, "tensor '" + abbreviate(name) + "' has ne[0] = " + shape[0]
                            + ", not a multiple of the " + type + " block size " + type.blockSize());
                }
                long bytes = type.byteSize(elements);
                if (bytes < 0) {
                    throw fail(dimsPos + 4, "tensor '" + abbreviate(name) + "' byte size overflows");
                }
                offsetPos[i] = pos;
                long offset = u64("offset of tensor '" + abbreviate(name) + "'");
                if (offset < 0 || offset % alignment != 0) {
                    throw fail(offsetPos[i], "tensor '" + abbreviate(name) + "' offset " + Long.toUnsignedString(offset)
                            + " is not a multiple of the alignment " + alignment);
                }
                raw.add(new Object[] {name, shape, type, offset, bytes});
            }

            long infoEnd = pos;
            dataOffset = infoEnd + (alignment - infoEnd % alignment) % alignment;
            long dataSize = size - dataOffset;
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                Object[] r = raw.get(i);
                String name = (String) r[0];
                long offset = (long) r[3];
                long bytes = (long) r[4];
                if (dataSize < 0 || offset > dataSize || bytes > dataSize - offset) {
                    throw fail(offsetPos[i], "tensor '" + abbreviate(name) + "' data [" + offset + ", +" + bytes
                            + ") lies outside the data section, which has " + Math.max(0, dataSize)
                            + " bytes starting at " + dataOffset);
                }
                tensors.add(new GgufTensorInfo(name, (long[]) r[1], (GgmlType) r[2], offset, dataOffset + offset, bytes));
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> {
                int c = Long.compare(tensors.get(a).relativeOffset(), tensors.get(b).relativeOffset());
                return c != 0 ? c : Long.compare(tensors.get(a).byteSize(), tensors.get(b).byteSize());
            });
            for (int k = 1; k < n; k++) {
                GgufTensorInfo prev = tensors.get(order[k - 1]);
                GgufTensorInfo cur = tensors.get(order[k]);
                if (cur.relativeOffset() < prev.relativeOffset() + prev.byteSize()) {
                    throw fail(offsetPos[order[k]], "tensor '" + abbreviate(cur.name()) + "' at data offset "
                            + cur.relativeOffset() + " overlaps tensor '" + abbreviate(prev.name()) + "' ["
                            + prev.relativeOffset() + ", " + (prev.relativeOffset() + prev.byteSize()) + ")");
                }
            }
        }

        private GgufValueType valueType(String what) {
            long at = pos;
            long id = u32(what);
            return GgufValueType.byId(id).orElseThrow(() -> fail(at, "unknown " + what + " id " + id));
        }

        private GgufValue value(GgufValueType type, int depth) {
            return switch (type) {
                case STRING -> GgufValue.string(string("string value"));
                case ARRAY -> array(depth + 1);
                case BOOL -> {
                    long at = pos;
                    int b = u8("bool value");
                    if (b > 1) {
                        throw fail(at, "bool value " + b + " is neither 0 nor 1");
                    }
                    yield GgufValue.scalarFromBits(type, b);
                }
                default -> GgufValue.scalarFromBits(type, fixed(type));
            };
        }

        private long fixed(GgufValueType type) {
            String what = type + " value";
            return switch (type) {
                case UINT8 -> u8(what);
                case INT8 -> (byte) u8(what);
                case UINT16 -> {
                    need(2, what);
                    long v = seg.get(U16, pos) & 0xFFFFL;
                    pos += 2;
                    yield v;
                }
                case INT16 -> {
                    need(2, what);
                    long v = seg.get(U16, pos);
                    pos += 2;
                    yield v;
                }
                case UINT32, FLOAT32 -> u32(what);
                case INT32 -> (int) u32(what);
                case UINT64, INT64, FLOAT64 -> u64(what);
                default -> throw new AssertionError(type);
            };
        }

        private GgufValue array(int depth) {
            long at = pos;
            if (depth > MAX_ARRAY_DEPTH) {
                throw fail(at, "arrays nested deeper than " + MAX_ARRAY_DEPTH + " levels");
            }
            GgufValueType et = valueType("array element type");
            int n = count("array element", et.minEncodedSize());
            switch (et) {
                case STRING -> {
                    List<String> l = new ArrayList<>(Math.min(n, PREALLOCATE));
                    for (int i = 0; i < n; i++) {
                        l.add(string("string array element"));
                    }
                    return GgufValue.stringArrayOwned(Collections.unmodifiableList(l));
                }
                case ARRAY -> {
                    List<GgufValue> l = new ArrayList<>(Math.min(n, PREALLOCATE));
                    for (int i = 0; i < n; i++) {
                        l.add(array(depth + 1));
                    }
                    return GgufValue.nestedArrayOwned(Collections.unmodifiableList(l));
                }
                default -> {
                    Object rawData = GgufValue.newRaw(et, n);
                    switch (rawData) {
                        case byte[] a -> {
                            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, a, 0, n);
                            if (et == GgufValueType.BOOL) {
                                for (int i = 0; i < n; i++) {
                                    if (a[i] != 0 && a[i] != 1) {
                                        throw fail(pos + i, "bool array element " + (a[i] & 0xFF) + " is neither 0 nor 1");
                                    }
                                }
                            }
                        }
                        case short[] a -> MemorySegment.copy(seg, U16, pos, a, 0, n);
                        case int[] a -> MemorySegment.copy(seg, U32, pos, a, 0, n);
                        case long[] a -> MemorySegment.copy(seg, U64, pos, a, 0, n);
                        default -> throw new AssertionError(rawData);
                    }
                    pos += (long) n * et.fixedWidth();
                    return GgufValue.rawArray(et, rawData);
                }
            }
        }

        private static String abbreviate(String s) {
            return s.length() <= 96 ? s : s.substring(0, 96) + "...";
        }
    }
}
