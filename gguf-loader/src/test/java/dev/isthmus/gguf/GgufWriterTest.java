package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streaming writer: layout, chunked data, progress, and misuse. */
class GgufWriterTest {
    @TempDir
    Path tmp;

    private static Map<String, GgufValue> meta() {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.architecture", GgufValue.string("test"));
        return m;
    }

    private static final List<GgufWriter.TensorSpec> TWO = List.of(
            new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {3}),
            new GgufWriter.TensorSpec("b", GgmlType.Q8_0, new long[] {32, 2}));

    @Test
    void headerLayoutAndChunkedStream() throws IOException {
        Path file = tmp.resolve("w.gguf");
        List<Long> progress = new ArrayList<>();
        try (GgufWriter w = GgufWriter.create(file, meta(), TWO, progress::add)) {
            assertEquals(0, w.dataOffset() % 32);
            assertEquals("a", w.nextTensor());
            w.writeTensorData("a", MemorySegment.ofArray(new float[] {1, 2, 3}));
            assertEquals("b", w.nextTensor());
            try (OutputStream os = w.openTensorData("b")) {
                for (int i = 0; i < 68; i += 17) {
                    byte[] chunk = new byte[17];
                    java.util.Arrays.fill(chunk, (byte) i);
                    os.write(chunk);
                }
            }
            assertEquals(null, w.nextTensor());
        }
        byte[] b = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals('G', b[0]);
        assertEquals('F', b[3]);
        assertEquals(3, bb.getInt(4));
        assertEquals(2, bb.getLong(8));
        assertEquals(1, bb.getLong(16));
        assertEquals(b.length, progress.getLast());
        try (GgufFile f = GgufFile.open(file)) {
            GgufTensorInfo a = f.tensor("a").orElseThrow();
            GgufTensorInfo bt = f.tensor("b").orElseThrow();
            assertEquals(0, a.relativeOffset());
            assertEquals(32, bt.relativeOffset());
            assertEquals(3f, f.tensorData(a).getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 2));
            assertEquals(51, f.tensorData(bt).get(ValueLayout.JAVA_BYTE, 67));
            assertEquals(f.dataOffset() + 32 + 96, b.length); // 68 bytes padded to 96
            for (long i = a.absoluteEnd(); i < bt.absoluteOffset(); i++) {
                assertEquals(0, b[(int) i], "padding is zero");
            }
        }
    }

    @Test
    void skippingTheLastTensorStillGivesTheFullLength() throws IOException {
        Path file = tmp.resolve("skip.gguf");
        List<GgufWriter.TensorSpec> specs = List.of(
                new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {3}),
                new GgufWriter.TensorSpec("z", GgmlType.F32, new long[] {1 << 20}));
        try (GgufWriter w = GgufWriter.create(file, meta(), specs)) {
            w.writeTensorData("a", MemorySegment.ofArray(new float[] {1, 2, 3}));
            w.skipTensorData("z");
            assertEquals(w.tensorInfos().getLast().absoluteEnd(), w.bytesWritten());
        }
        try (GgufFile f = GgufFile.open(file)) {
            GgufTensorInfo z = f.tensor("z").orElseThrow();
            assertEquals(z.absoluteEnd(), f.fileSize(), "4 MiB is aligned: no padding, the file ends with z");
            assertEquals(0, f.tensorData(z).get(ValueLayout.JAVA_BYTE, z.byteSize() - 1));
            assertEquals(2f, f.tensorData("a").getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 1));
        }
    }

    @Test
    void misuseIsRejected() throws IOException {
        Path file = tmp.resolve("m.gguf");
        GgufWriter w = GgufWriter.create(file, meta(), TWO);
        assertThrowsExactly(IllegalStateException.class, () -> w.writeTensorData("b", MemorySegment.ofArray(new byte[68])));
        assertThrowsExactly(IllegalArgumentException.class, () -> w.writeTensorData("a", MemorySegment.ofArray(new byte[11])));
        w.writeTensorData("a", MemorySegment.ofArray(new byte[12]));
        OutputStream os = w.openTensorData("b");
        assertThrowsExactly(IllegalStateException.class, () -> w.skipTensorData("b"));
        os.write(new byte[60]);
        assertThrowsExactly(IllegalStateException.class, () -> os.write(new byte[9]));
        os.write(new byte[8]);
        assertThrowsExactly(IllegalStateException.class, () -> os.write(1));
        os.close();
        assertThrowsExactly(IllegalStateException.class, () -> w.writeTensorData("a", MemorySegment.ofArray(new byte[12])));
        w.close();
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(2, f.tensors().size());
        }
    }

    @Test
    void closingEarlyOrShortIsAnError() throws IOException {
        GgufWriter w = GgufWriter.create(tmp.resolve("e.gguf"), meta(), TWO);
        w.writeTensorData("a", MemorySegment.ofArray(new byte[12]));
        IllegalStateException e = assertThrowsExactly(IllegalStateException.class, w::close);
        assertTrue(e.getMessage().contains("'b'"), e.getMessage());
        w.close(); // idempotent
        assertThrowsExactly(IllegalStateException.class, () -> w.skipTensorData("b"));

        GgufWriter w2 = GgufWriter.create(tmp.resolve("s.gguf"), meta(), TWO);
        OutputStream os = w2.openTensorData("a");
        os.write(new byte[5]);
        assertThrowsExactly(IllegalStateException.class, os::close);
        assertThrowsExactly(IllegalStateException.class, () -> w2.skipTensorData("b"));
        assertThrowsExactly(IllegalStateException.class, w2::close);
    }

    @Test
    void invalidDeclarationsAreRejected() {
        Path file = tmp.resolve("x.gguf");
        List<List<GgufWriter.TensorSpec>> bad = List.of(
                List.of(new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {1}), new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {1})),
                List.of(new GgufWriter.TensorSpec("x".repeat(64), GgmlType.F32, new long[] {1})),
                List.of(new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {1, 1, 1, 1, 1})),
                List.of(new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {})),
                List.of(new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {-1})),
                List.of(new GgufWriter.TensorSpec("a", GgmlType.Q4_K, new long[] {128})),
                List.of(new GgufWriter.TensorSpec("a", GgmlType.F32, new long[] {1L << 40, 1L << 40})));
        for (List<GgufWriter.TensorSpec> specs : bad) {
            assertThrowsExactly(IllegalArgumentException.class, () -> GgufWriter.create(file, meta(), specs), specs.toString());
        }
        for (GgufValue align : List.of(GgufValue.uint32(0), GgufValue.uint32(3), GgufValue.uint64(32))) {
            Map<String, GgufValue> m = meta();
            m.put("general.alignment", align);
            assertThrowsExactly(IllegalArgumentException.class, () -> GgufWriter.create(file, m, List.of()));
        }
        GgufValue deep = GgufValue.int32Array(1);
        for (int i = 0; i < GgufFile.MAX_ARRAY_DEPTH; i++) {
            deep = GgufValue.array(GgufValueType.ARRAY, List.of(deep));
        }
        Map<String, GgufValue> m = meta();
        m.put("deep", deep);
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufWriter.create(file, m, List.of()));
        Map<String, GgufValue> s = meta();
        s.put("surrogate", GgufValue.string("a\uD800b"));
        assertThrowsExactly(IllegalArgumentException.class, () -> GgufWriter.create(file, s, List.of()));
    }
}
