package dev.isthmus.gguf;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * Writes a GGUF version 3 file, streaming: the header, metadata and tensor infos are written by
 * {@link #create}, from the tensors' declared types and shapes; then each tensor's data is given in
 * declared order, through {@link #writeTensorData}, {@link #openTensorData} (an
 * {@link OutputStream} for chunked producers) or {@link #skipTensorData}. The whole file is never
 * buffered: the writer holds one small I/O buffer.
 *
 * <p>The layout is the one llama.cpp writes and reads: magic, version 3, tensor and key-value
 * counts, the key-value pairs in the map's iteration order, the tensor infos, zero padding up to the
 * alignment ({@code general.alignment} from the metadata, which must then be a UINT32 non-zero
 * power of two, else {@value GgufFile#DEFAULT_ALIGNMENT}), then the data section: each tensor at an
 * offset (relative to the data section) that is a multiple of the alignment, in declared order,
 * each followed by zero padding up to the alignment.
 *
 * <p>The writer validates what llama.cpp would reject: tensor names of 64 UTF-8 bytes or more,
 * duplicate names, 0 or more than {@value GgufFile#MAX_DIMS} dimensions, negative dimensions,
 * {@code ne[0]} not a multiple of the block size, overflowing shapes, arrays nested deeper than
 * {@value GgufFile#MAX_ARRAY_DEPTH}, strings that are not encodable as UTF-8 (unpaired
 * surrogates); these give {@link IllegalArgumentException}. Giving data out of order, of the wrong
 * size, or closing before every tensor was given gives {@link IllegalStateException}.
 *
 * <p>{@link #skipTensorData} declares a tensor's data as all zeros without writing them: the writer
 * seeks past them, so on file systems with sparse files they take no disk space (used to build
 * multi-gigabyte test files cheaply). The file is extended to its full length on {@link #close()}.
 *
 * <p>Not thread-safe.
 */
public final class GgufWriter implements AutoCloseable {
    /** The longest tensor name llama.cpp accepts is this many bytes minus one (GGML_MAX_NAME). */
    public static final int MAX_TENSOR_NAME_BYTES = 63;
    private static final int BUFFER_SIZE = 1 << 20;

    /**
     * A tensor to declare: name, element type and shape in {@code ne} order (innermost first).
     *
     * @param name  the tensor's name
     * @param type  its element type
     * @param shape its dimensions (copied)
     */
    public record TensorSpec(String name, GgmlType type, long[] shape) {
        /** Copies {@code shape}. */
        public TensorSpec {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(type, "type");
            shape = shape.clone();
        }

        /** The declaration of an existing tensor. */
        public static TensorSpec of(GgufTensorInfo info) {
            return new TensorSpec(info.name(), info.type(), info.shape());
        }

        /** The dimensions (a copy). */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorSpec t && name.equals(t.name) && type == t.type && Arrays.equals(shape, t.shape);
        }

        @Override
        public int hashCode() {
            return (name.hashCode() * 31 + type.hashCode()) * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return "TensorSpec[" + name + ", " + type + " " + Arrays.toString(shape) + "]";
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
    private final LongConsumer progress;
    private final CharsetEncoder utf8 = StandardCharsets.UTF_8.newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private final long alignment;
    private final List<GgufTensorInfo> infos;
    private final long dataOffset;
    /** Logical position: bytes written or skipped so far (the position in the file). */
    private long pos;
    private int next;
    private TensorStream openStream;
    private boolean closed;
    /** Set when a tensor stream was closed short: the file cannot be completed. */
    private String failure;

    private GgufWriter(Path path, FileChannel channel, Map<String, GgufValue> metadata, List<TensorSpec> specs,
                       long alignment, LongConsumer progress) throws IOException {
        this.path = path;
        this.channel = channel;
        this.progress = progress;
        this.alignment = alignment;
        // header
        buf.putInt(GgufFile.MAGIC).putInt(3).putLong(specs.size()).putLong(metadata.size());
        pos = 24;
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            putString(e.getKey());
            putU32(e.getValue().type().id());
            putValue(e.getValue());
        }
        List<GgufTensorInfo> list = new ArrayList<>(specs.size());
        long rel = 0;
        for (TensorSpec s : specs) {
            long bytes = s.type().byteSize(elementCount(s));
            putString(s.name());
            putU32(s.shape.length);
            for (long d : s.shape) {
                putU64(d);
            }
            putU32(s.type().id());
            putU64(rel);
            list.add(new GgufTensorInfo(s.name(), s.shape, s.type(), rel, -1, bytes));
            rel = alignUp(rel + bytes, alignment);
        }
        putZeros(alignUp(pos, alignment) - pos);
        flush();
        this.dataOffset = pos;
        List<GgufTensorInfo> abs = new ArrayList<>(list.size());
        for (GgufTensorInfo t : list) {
            abs.add(new GgufTensorInfo(t.name(), t.shape(), t.type(), t.relativeOffset(),
                    dataOffset + t.relativeOffset(), t.byteSize()));
        }
        this.infos = Collections.unmodifiableList(abs);
    }

    /** {@link #create(Path, Map, List, LongConsumer)} without a progress callback. */
    public static GgufWriter create(Path path, Map<String, GgufValue> metadata, List<TensorSpec> tensors)
            throws IOException {
        return create(path, metadata, tensors, null);
    }

    /**
     * Creates (or truncates) {@code path} and writes the header, metadata and tensor infos.
     *
     * @param metadata the key-value pairs, written in iteration order
     * @param tensors  the tensors, whose data must then be given in this order
     * @param progress called with the total bytes written (or skipped) so far after each write; may be null
     * @throws IllegalArgumentException when the metadata or a tensor is invalid (see the class comment)
     * @throws IOException              on I/O errors
     */
    public static GgufWriter create(Path path, Map<String, GgufValue> metadata, List<TensorSpec> tensors,
                                    LongConsumer progress) throws IOException {
        Objects.requireNonNull(path, "path");
        long alignment = validate(metadata, tensors);
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        try {
            return new GgufWriter(path, ch, metadata, List.copyOf(tensors), alignment, progress);
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    private static long validate(Map<String, GgufValue> metadata, List<TensorSpec> tensors) {
        long alignment = GgufFile.DEFAULT_ALIGNMENT;
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            Objects.requireNonNull(e.getKey(), "metadata key");
            GgufValue v = Objects.requireNonNull(e.getValue(), "metadata value");
            checkDepth(e.getKey(), v, 0);
            if (e.getKey().equals(GgufFile.ALIGNMENT_KEY)) {
                if (v.type() != GgufValueType.UINT32 || v.asLong() == 0 || Long.bitCount(v.asLong()) != 1) {
                    throw new IllegalArgumentException(GgufFile.ALIGNMENT_KEY + " must be a UINT32 non-zero power of two, got " + v.type() + " " + v);
                }
                alignment = v.asLong();
            }
        }
        Set<String> names = new HashSet<>();
        for (TensorSpec s : tensors) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + s.name() + "'");
            }
            if (s.name().getBytes(StandardCharsets.UTF_8).length > MAX_TENSOR_NAME_BYTES) {
                throw new IllegalArgumentException("tensor name '" + s.name() + "' is longer than " + MAX_TENSOR_NAME_BYTES + " UTF-8 bytes");
            }
            if (s.shape.length < 1 || s.shape.length > GgufFile.MAX_DIMS) {
                throw new IllegalArgumentException("tensor '" + s.name() + "' has " + s.shape.length + " dimensions (1 to " + GgufFile.MAX_DIMS + " allowed)");
            }
            for (long d : s.shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + s.name() + "' has a negative dimension: " + Arrays.toString(s.shape));
                }
            }
            if (s.shape[0] % s.type().blockSize() != 0) {
                throw new IllegalArgumentException("tensor '" + s.name() + "': ne[0] = " + s.shape[0] + " is not a multiple of the " + s.type() + " block size " + s.type().blockSize());
            }
            long n = elementCount(s);
            if (n < 0 || s.type().byteSize(n) < 0) {
                throw new IllegalArgumentException("tensor '" + s.name() + "' shape " + Arrays.toString(s.shape) + " overflows");
            }
        }
        return alignment;
    }

    private static void checkDepth(String key, GgufValue v, int depth) {
        if (!v.isArray()) {
            return;
        }
        if (depth + 1 > GgufFile.MAX_ARRAY_DEPTH) {
            throw new IllegalArgumentException("metadata '" + key + "' nests arrays deeper than " + GgufFile.MAX_ARRAY_DEPTH);
        }
        if (v.elementType() == GgufValueType.ARRAY) {
            for (GgufValue e : v.elements()) {
                checkDepth(key, e, depth + 1);
            }
        }
    }

    private static long elementCount(TensorSpec s) {
        long n = 1;
        for (long d : s.shape) {
            if (d != 0 && n > Long.MAX_VALUE / d) {
                return -1;
            }
            n *= d;
        }
        return n;
    }

    private static long alignUp(long x, long a) {
        return x + (a - x % a) % a;
    }

    /**
     * Copies {@code src} to {@code dst}: the same metadata (keys, types, values, order), the same
     * tensors (names, types, shapes, data) in the same order, laid out as this writer lays out files.
     */
    public static void copy(GgufFile src, Path dst) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (GgufTensorInfo t : src.tensors()) {
            specs.add(TensorSpec.of(t));
        }
        try (GgufWriter w = create(dst, new LinkedHashMap<>(src.metadata()), specs)) {
            for (GgufTensorInfo t : src.tensors()) {
                w.writeTensorData(t.name(), src.tensorData(t));
            }
        }
    }

    // ---------------------------------------------------------------- layout

    /** The file being written. */
    public Path path() {
        return path;
    }

    /** The tensors' infos as laid out in the file being written (absolute offsets included). */
    public List<GgufTensorInfo> tensorInfos() {
        return infos;
    }

    /** The absolute offset of the data section. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The data section's alignment. */
    public long alignment() {
        return alignment;
    }

    /** The name of the tensor whose data comes next, or null when all were given. */
    public String nextTensor() {
        return next < infos.size() ? infos.get(next).name() : null;
    }

    /** Bytes written (or skipped) so far. */
    public long bytesWritten() {
        return pos;
    }

    // ---------------------------------------------------------------- tensor data

    private GgufTensorInfo begin(String name) throws IOException {
        if (closed) {
            throw new IllegalStateException("writer for " + path + " is closed");
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        if (openStream != null) {
            throw new IllegalStateException("the data stream of tensor '" + openStream.info.name() + "' is still open");
        }
        if (next >= infos.size()) {
            throw new IllegalStateException("all " + infos.size() + " tensors were already written; got '" + name + "'");
        }
        GgufTensorInfo t = infos.get(next);
        if (!t.name().equals(name)) {
            throw new IllegalStateException("tensor data out of order: expected '" + t.name() + "', got '" + name + "'");
        }
        // pad from the end of the previous tensor up to this one's offset
        if (pos > t.absoluteOffset()) {
            throw new AssertionError("position " + pos + " beyond tensor offset " + t.absoluteOffset());
        }
        putZeros(t.absoluteOffset() - pos);
        return t;
    }

    /**
     * Writes the next tensor's data.
     *
     * @throws IllegalStateException    when {@code name} is not the next tensor, or the writer is closed
     * @throws IllegalArgumentException when {@code data} does not have the declared byte size
     */
    public void writeTensorData(String name, MemorySegment data) throws IOException {
        GgufTensorInfo t = begin(name);
        if (data.byteSize() != t.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + t.byteSize() + " bytes, got " + data.byteSize());
        }
        putSegment(data);
        next++;
        flush();
    }

    /**
     * Opens a stream for the next tensor's data; exactly its byte size must be written before the
     * stream is closed (writing more throws at once; closing early throws).
     *
     * @throws IllegalStateException when {@code name} is not the next tensor, or the writer is closed
     */
    public OutputStream openTensorData(String name) throws IOException {
        GgufTensorInfo t = begin(name);
        openStream = new TensorStream(t);
        return openStream;
    }

    /**
     * Declares the next tensor's data to be all zeros without writing them: the writer seeks past
     * them, leaving a hole (sparse on file systems that support it).
     *
     * @throws IllegalStateException when {@code name} is not the next tensor, or the writer is closed
     */
    public void skipTensorData(String name) throws IOException {
        GgufTensorInfo t = begin(name);
        flush();
        pos += t.byteSize();
        channel.position(pos);
        next++;
        report();
    }

    /**
     * Finishes the file: pads the last tensor to the alignment and closes it.
     *
     * @throws IllegalStateException when not every declared tensor's data was given (the file is
     *                               closed anyway, and is incomplete)
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (channel) {
            if (openStream != null) {
                throw new IllegalStateException("the data stream of tensor '" + openStream.info.name() + "' was not closed");
            }
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
            if (next < infos.size()) {
                throw new IllegalStateException("closed after " + next + " of " + infos.size()
                        + " tensors; missing data for '" + infos.get(next).name() + "'");
            }
            long end = alignUp(pos, alignment);
            putZeros(end - pos);
            flush();
            if (channel.size() < pos) {
                // the file ends in a skipped tensor: extend it with its last (zero) byte
                channel.write(ByteBuffer.allocate(1), pos - 1);
            }
            report();
        }
    }

    // ---------------------------------------------------------------- encoding

    private void report() {
        if (progress != null) {
            progress.accept(pos);
        }
    }

    private void flush() throws IOException {
        buf.flip();
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
        buf.clear();
        report();
    }

    private void ensure(int n) throws IOException {
        if (buf.remaining() < n) {
            flush();
        }
    }

    private void putU32(long v) throws IOException {
        ensure(4);
        buf.putInt((int) v);
        pos += 4;
    }

    private void putU64(long v) throws IOException {
        ensure(8);
        buf.putLong(v);
        pos += 8;
    }

    private void putZeros(long n) throws IOException {
        while (n > 0) {
            ensure(1);
            int k = (int) Math.min(n, buf.remaining());
            bufSeg.asSlice(buf.position(), k).fill((byte) 0);
            buf.position(buf.position() + k);
            pos += k;
            n -= k;
        }
    }

    private void putBytes(byte[] b) throws IOException {
        int off = 0;
        while (off < b.length) {
            ensure(1);
            int k = Math.min(b.length - off, buf.remaining());
            buf.put(b, off, k);
            off += k;
            pos += k;
        }
    }

    private void putSegment(MemorySegment data) throws IOException {
        long off = 0;
        long n = data.byteSize();
        while (off < n) {
            ensure(1);
            int k = (int) Math.min(n - off, buf.remaining());
            MemorySegment.copy(data, off, bufSeg, buf.position(), k);
            buf.position(buf.position() + k);
            off += k;
            pos += k;
        }
    }

    private byte[] utf8(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isSurrogate(s.charAt(i))) {
                try {
                    ByteBuffer bb = utf8.reset().encode(CharBuffer.wrap(s));
                    byte[] out = new byte[bb.remaining()];
                    bb.get(out);
                    return out;
                } catch (CharacterCodingException e) {
                    throw new IllegalArgumentException("string is not encodable as UTF-8 (unpaired surrogate): "
                            + s.substring(0, Math.min(s.length(), 64)));
                }
            }
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void putString(String s) throws IOException {
        byte[] b = utf8(s);
        putU64(b.length);
        putBytes(b);
    }

    private void putFixed(GgufValueType type, long bits) throws IOException {
        int w = type.fixedWidth();
        ensure(w);
        switch (w) {
            case 1 -> buf.put((byte) bits);
            case 2 -> buf.putShort((short) bits);
            case 4 -> buf.putInt((int) bits);
            case 8 -> buf.putLong(bits);
            default -> throw new AssertionError(type);
        }
        pos += w;
    }

    private void putValue(GgufValue v) throws IOException {
        switch (v.type()) {
            case STRING -> putString(v.asString());
            case ARRAY -> putArray(v);
            default -> putFixed(v.type(), v.rawBits());
        }
    }

    private void putArray(GgufValue v) throws IOException {
        GgufValueType et = v.elementType();
        putU32(et.id());
        putU64(v.length());
        switch (v.rawArrayData()) {
            case byte[] a -> putBytes(a);
            case short[] a -> {
                for (short x : a) {
                    ensure(2);
                    buf.putShort(x);
                }
                pos += 2L * a.length;
            }
            case int[] a -> {
                for (int x : a) {
                    ensure(4);
                    buf.putInt(x);
                }
                pos += 4L * a.length;
            }
            case long[] a -> {
                for (long x : a) {
                    ensure(8);
                    buf.putLong(x);
                }
                pos += 8L * a.length;
            }
            case List<?> l -> {
                for (Object o : l) {
                    if (o instanceof String s) {
                        putString(s);
                    } else {
                        putArray((GgufValue) o);
                    }
                }
            }
            default -> throw new AssertionError(v);
        }
    }

    /** The chunked data stream of one tensor. */
    private final class TensorStream extends OutputStream {
        final GgufTensorInfo info;
        long remaining;
        boolean done;

        TensorStream(GgufTensorInfo info) {
            this.info = info;
            this.remaining = info.byteSize();
        }

        private void check(int n) {
            if (done) {
                throw new IllegalStateException("the data stream of tensor '" + info.name() + "' is closed");
            }
            if (n > remaining) {
                throw new IllegalStateException("tensor '" + info.name() + "' has " + info.byteSize()
                        + " bytes; writing " + n + " more would exceed it by " + (n - remaining));
            }
        }

        @Override
        public void write(int b) throws IOException {
            check(1);
            ensure(1);
            buf.put((byte) b);
            pos++;
            remaining--;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            check(len);
            putSegment(MemorySegment.ofArray(b).asSlice(off, len));
            remaining -= len;
        }

        @Override
        public void close() throws IOException {
            if (done) {
                return;
            }
            done = true;
            openStream = null;
            if (remaining != 0) {
                failure = "tensor '" + info.name() + "' has " + info.byteSize() + " bytes; only "
                        + (info.byteSize() - remaining) + " were written";
                throw new IllegalStateException(failure);
            }
            next++;
            flush();
        }
    }
}
