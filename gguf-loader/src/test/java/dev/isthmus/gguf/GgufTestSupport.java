package dev.isthmus.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/** Shared helpers for the GGUF tests: the shared vocab folder, synthetic files, a raw byte builder. */
final class GgufTestSupport {
    private GgufTestSupport() {
    }

    /** The shared vocab folder, or null when absent. */
    static Path vocabDir() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("isthmus.shared");
        if (prop != null) {
            candidates.add(Path.of(prop, "vocab"));
        }
        String root = System.getProperty("isthmus.root");
        if (root != null) {
            candidates.add(Path.of(root).resolve("../shared/vocab"));
        }
        candidates.add(Path.of("../shared/vocab"));
        candidates.add(Path.of("../../shared/vocab"));
        for (Path p : candidates) {
            if (Files.isDirectory(p)) {
                return p.toAbsolutePath().normalize();
            }
        }
        return null;
    }

    /** Every *.gguf of the shared vocab folder, sorted by size (empty when the folder is absent). */
    static List<Path> vocabFiles() throws IOException {
        Path dir = vocabDir();
        if (dir == null) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted((a, b) -> {
                try {
                    return Long.compare(Files.size(a), Files.size(b));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }).toList();
        }
    }

    /** Metadata with every value type, nested arrays included. */
    static Map<String, GgufValue> allTypesMetadata() {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.architecture", GgufValue.string("llama"));
        m.put("general.name", GgufValue.string("synthetic ünïcødé 模型 🦙"));
        m.put("test.u8", GgufValue.uint8(255));
        m.put("test.i8", GgufValue.int8(-128));
        m.put("test.u16", GgufValue.uint16(65535));
        m.put("test.i16", GgufValue.int16(-32768));
        m.put("test.u32", GgufValue.uint32(0xFFFF_FFFFL));
        m.put("test.i32", GgufValue.int32(Integer.MIN_VALUE));
        m.put("test.f32", GgufValue.float32(3.25f));
        m.put("test.f32nan", GgufValue.float32(Float.NaN));
        m.put("test.bool", GgufValue.bool(true));
        m.put("test.string.empty", GgufValue.string(""));
        m.put("test.u64", GgufValue.uint64(-1L));
        m.put("test.i64", GgufValue.int64(Long.MIN_VALUE));
        m.put("test.f64", GgufValue.float64(-0.0));
        m.put("test.arr.u8", GgufValue.array(GgufValueType.UINT8, List.of(GgufValue.uint8(0), GgufValue.uint8(200))));
        m.put("test.arr.i8", GgufValue.array(GgufValueType.INT8, List.of(GgufValue.int8(-1))));
        m.put("test.arr.u16", GgufValue.array(GgufValueType.UINT16, List.of(GgufValue.uint16(40000))));
        m.put("test.arr.i16", GgufValue.array(GgufValueType.INT16, List.of(GgufValue.int16(-2), GgufValue.int16(7))));
        m.put("test.arr.u32", GgufValue.uint32Array(1, -1));
        m.put("test.arr.i32", GgufValue.int32Array(1, 2, 3, -4));
        m.put("test.arr.f32", GgufValue.float32Array(0.5f, -1e30f, Float.POSITIVE_INFINITY));
        m.put("test.arr.bool", GgufValue.boolArray(true, false, true));
        m.put("test.arr.str", GgufValue.stringArray(List.of("a", "", "ß", "<0x0A>")));
        m.put("test.arr.u64", GgufValue.array(GgufValueType.UINT64, List.of(GgufValue.uint64(Long.MIN_VALUE))));
        m.put("test.arr.i64", GgufValue.int64Array(Long.MAX_VALUE, 0));
        m.put("test.arr.f64", GgufValue.float64Array(Math.PI, Double.MIN_VALUE));
        m.put("test.arr.empty", GgufValue.int32Array());
        GgufValue inner1 = GgufValue.int32Array(1, 2);
        GgufValue inner2 = GgufValue.stringArray(List.of("x", "y"));
        GgufValue inner3 = GgufValue.array(GgufValueType.ARRAY, List.of(GgufValue.float32Array(1f)));
        m.put("test.arr.nested", GgufValue.array(GgufValueType.ARRAY, List.of(inner1, inner2, inner3)));
        return m;
    }

    /** Tensors of several types; each shape a whole number of blocks. */
    static List<GgufWriter.TensorSpec> mixedTensors() {
        return List.of(
                new GgufWriter.TensorSpec("token_embd.weight", GgmlType.F32, new long[] {8, 3}),
                new GgufWriter.TensorSpec("blk.0.attn_q.weight", GgmlType.F16, new long[] {5, 2}),
                new GgufWriter.TensorSpec("blk.0.ffn_up.weight", GgmlType.Q8_0, new long[] {64, 2}),
                new GgufWriter.TensorSpec("blk.0.ffn_down.weight", GgmlType.Q4_K, new long[] {256, 1, 1, 2}),
                new GgufWriter.TensorSpec("blk.0.ffn_gate.weight", GgmlType.Q6_K, new long[] {256}),
                new GgufWriter.TensorSpec("blk.0.bf16", GgmlType.BF16, new long[] {3, 1, 2}),
                new GgufWriter.TensorSpec("blk.0.mxfp4", GgmlType.MXFP4, new long[] {32}),
                new GgufWriter.TensorSpec("empty", GgmlType.F32, new long[] {0, 4}),
                new GgufWriter.TensorSpec("output_norm.weight", GgmlType.I8, new long[] {7}));
    }

    /** Writes a synthetic file with {@link #allTypesMetadata()} and {@link #mixedTensors()} filled with seeded random bytes. */
    static Path writeSynthetic(Path file) throws IOException {
        return writeSynthetic(file, allTypesMetadata(), mixedTensors());
    }

    static Path writeSynthetic(Path file, Map<String, GgufValue> meta, List<GgufWriter.TensorSpec> specs)
            throws IOException {
        Random rnd = new Random(42);
        try (GgufWriter w = GgufWriter.create(file, meta, specs); Arena arena = Arena.ofConfined()) {
            for (GgufTensorInfo t : w.tensorInfos()) {
                MemorySegment data = arena.allocate(Math.max(1, t.byteSize())).asSlice(0, t.byteSize());
                for (long i = 0; i < t.byteSize(); i++) {
                    data.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
                }
                w.writeTensorData(t.name(), data);
            }
        }
        return file;
    }

    /** Bytes a value takes in the file (without its type id). */
    static long encodedSize(GgufValue v) {
        return switch (v.type()) {
            case STRING -> 8 + v.asString().getBytes(StandardCharsets.UTF_8).length;
            case ARRAY -> {
                long n = 12;
                if (v.elementType().isFixedWidth()) {
                    n += v.length() * v.elementType().fixedWidth();
                } else {
                    for (long i = 0; i < v.length(); i++) {
                        n += encodedSize(v.get(i));
                    }
                }
                yield n;
            }
            default -> v.type().fixedWidth();
        };
    }

    /** The offset of the key-value pair for {@code key} (its key length field) in a file read as {@code f}. */
    static long kvOffset(GgufFile f, String key) {
        long off = 24;
        for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
            if (e.getKey().equals(key)) {
                return off;
            }
            off += 8 + e.getKey().getBytes(StandardCharsets.UTF_8).length + 4 + encodedSize(e.getValue());
        }
        throw new IllegalArgumentException(key);
    }

    /** The offset where the tensor infos start. */
    static long tensorInfosOffset(GgufFile f) {
        long off = 24;
        for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
            off += 8 + e.getKey().getBytes(StandardCharsets.UTF_8).length + 4 + encodedSize(e.getValue());
        }
        return off;
    }

    /** A little-endian byte builder for hand-made (often invalid) GGUF images. */
    static final class Raw {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw u8(int v) {
            out.write(v);
            return this;
        }

        Raw u32(long v) {
            for (int i = 0; i < 4; i++) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw u64(long v) {
            for (int i = 0; i < 8; i++) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return u64(b.length).bytes(b);
        }

        /** Magic, version, tensor count, kv count. */
        Raw header(int version, long tensors, long kvs) {
            return bytes("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(version).u64(tensors).u64(kvs);
        }

        Raw kvU32(String key, long v) {
            return str(key).u32(GgufValueType.UINT32.id()).u32(v);
        }

        Raw kvString(String key, String v) {
            return str(key).u32(GgufValueType.STRING.id()).str(v);
        }

        Raw tensor(String name, long[] shape, int type, long offset) {
            str(name).u32(shape.length);
            for (long d : shape) {
                u64(d);
            }
            return u32(type).u64(offset);
        }

        Raw padTo(int alignment) {
            while (out.size() % alignment != 0) {
                out.write(0);
            }
            return this;
        }

        Raw zeros(int n) {
            out.writeBytes(new byte[n]);
            return this;
        }

        int size() {
            return out.size();
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }
}
