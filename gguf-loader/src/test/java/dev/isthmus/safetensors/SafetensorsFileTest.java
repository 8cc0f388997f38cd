package dev.isthmus.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void readsShapesDtypesMetadataAndBytes() throws Exception {
        byte[] w = StBytes.f32(1f, 2f, 3f, 4f, 5f, 6f);
        byte[] b = StBytes.seq(4, 10);
        StBytes st = new StBytes().meta("format", "pt").meta("note", "héllo ✓")
                .tensor("layer.0.weight", "F32", new long[]{2, 3}, w)
                .tensor("layer.0.bias", "BF16", new long[]{2}, b)
                .tensor("scalar", "U8", new long[]{}, new byte[]{42})
                .tensor("empty", "F16", new long[]{0, 7}, new byte[0]);
        Path p = dir.resolve("m.safetensors");
        Files.write(p, st.build());

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(p, f.path());
            assertEquals(Map.of("format", "pt", "note", "héllo ✓"), f.metadata());
            assertEquals(List.of("format", "note"), List.copyOf(f.metadata().keySet()));
            assertEquals(st.header().getBytes(java.nio.charset.StandardCharsets.UTF_8).length, f.headerSize());
            assertEquals(8 + f.headerSize(), f.dataOffset());
            assertEquals(24 + 4 + 1, f.dataSize());
            assertEquals(0, f.unreferencedBytes());

            List<String> order = f.tensors().stream().map(SafetensorsTensor::name).toList();
            // sorted by offset, then name: layer.0.weight [0,24), layer.0.bias [24,28), scalar [28,29), empty [29,29)
            assertEquals(List.of("layer.0.weight", "layer.0.bias", "scalar", "empty"), order);

            SafetensorsTensor wt = f.tensor("layer.0.weight").orElseThrow();
            assertEquals(SafetensorsDType.F32, wt.dtype());
            assertArrayEquals(new long[]{2, 3}, wt.shape());
            assertEquals(6, wt.elementCount());
            assertEquals(24, wt.byteSize());
            assertEquals(0, wt.begin());
            assertEquals(f.dataOffset(), wt.absoluteOffset());
            MemorySegment ws = f.data(wt);
            assertEquals(24, ws.byteSize());
            for (int i = 0; i < 6; i++) {
                assertEquals(i + 1f, ws.getAtIndex(F32_LE, i));
            }
            assertTrue(ws.isReadOnly());

            SafetensorsTensor bt = f.tensor("layer.0.bias").orElseThrow();
            assertEquals(SafetensorsDType.BF16, bt.dtype());
            assertArrayEquals(b, f.data(bt).toArray(ValueLayout.JAVA_BYTE));
            assertEquals(42, f.data("scalar").get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(1, f.tensor("scalar").orElseThrow().elementCount());
            assertEquals(0, f.data("empty").byteSize());
            assertTrue(f.tensor("missing").isEmpty());
            assertThrows(IllegalArgumentException.class, () -> f.data("missing"));
        }
    }

    @Test
    void everyDtypeSizeAndSpelling() {
        for (SafetensorsDType t : SafetensorsDType.values()) {
            assertEquals(t, SafetensorsDType.fromFormatName(t.formatName()).orElseThrow());
            byte[] bytes = new StBytes().tensor("x", t.formatName(), new long[]{3}, new byte[3 * t.byteSize()]).build();
            try (SafetensorsFile f = SafetensorsFile.read(bytes, null)) {
                assertEquals(t, f.tensor("x").orElseThrow().dtype());
                assertEquals(3L * t.byteSize(), f.data("x").byteSize());
            }
        }
        assertEquals(1, SafetensorsDType.F8_E4M3.byteSize());
        assertEquals(8, SafetensorsDType.F64.byteSize());
        assertTrue(SafetensorsDType.fromFormatName("f32").isEmpty());
        assertTrue(SafetensorsDType.fromFormatName("F8_E4M3").isPresent());
    }

    @Test
    void zeroCopyAndCloseSemantics() throws Exception {
        Path p = dir.resolve("z.safetensors");
        Files.write(p, new StBytes().tensor("a", "U8", new long[]{4}, StBytes.seq(4, 1))
                .tensor("b", "I32", new long[]{2}, StBytes.seq(8, 100)).build());
        SafetensorsFile f = SafetensorsFile.open(p);
        SafetensorsTensor b = f.tensor("b").orElseThrow();
        MemorySegment seg = f.data(b);
        // Zero-copy: the slice is a view into the single mapping, at the tensor's absolute offset.
        MemorySegment a = f.data("a");
        assertTrue(seg.isMapped() && a.isMapped(), "views of the file mapping, not heap copies");
        assertFalse(seg.heapBase().isPresent());
        assertEquals(b.absoluteOffset() - f.tensor("a").orElseThrow().absoluteOffset(), seg.address() - a.address());
        assertEquals(100, seg.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalArgumentException.class, () -> seg.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        assertTrue(f.isOpen());
        f.close();
        f.close(); // idempotent
        assertFalse(f.isOpen());
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> a.get(ValueLayout.JAVA_BYTE, 3));
        assertThrows(IllegalStateException.class, () -> f.data(b));
        assertThrows(IllegalStateException.class, () -> f.data("a"));
        assertEquals(2, f.tensors().size(), "metadata stays readable after close");
    }

    @Test
    void sliceLiesInsideTheFileMapping() throws Exception {
        Path p = dir.resolve("in.safetensors");
        byte[] bytes = new StBytes().tensor("a", "F32", new long[]{2, 2}, StBytes.f32(1, 2, 3, 4)).build();
        Files.write(p, bytes);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment seg = f.data("a");
            // the bytes at the tensor's absolute file offset are exactly the slice's bytes
            byte[] expect = java.util.Arrays.copyOfRange(bytes, (int) f.tensor("a").orElseThrow().absoluteOffset(), bytes.length);
            assertArrayEquals(expect, seg.toArray(ValueLayout.JAVA_BYTE));
            assertEquals(f.tensor("a").orElseThrow().absoluteOffset() + 16, f.fileSize());
        }
    }

    @Test
    void gapsAndTrailingBytesAreAllowedAndCounted() {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}";
        try (SafetensorsFile f = SafetensorsFile.read(StBytes.raw(h, StBytes.seq(12, 0)), Path.of("gap"))) {
            assertEquals(8, f.unreferencedBytes());
            assertEquals(6, f.data("b").get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void headerPaddedWithSpacesAndUnknownFieldsAccepted() {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":{\"x\":[1,2]}}}     ";
        try (SafetensorsFile f = SafetensorsFile.read(StBytes.raw(h, new byte[]{7}), null)) {
            assertEquals(7, f.data("a").get(ValueLayout.JAVA_BYTE, 0));
            assertTrue(f.metadata().isEmpty());
        }
    }

    @Test
    void tensorRecordEqualityOverArrays() {
        var a = new SafetensorsTensor("t", SafetensorsDType.F16, new long[]{2, 3}, 0, 12, 100);
        var b = new SafetensorsTensor("t", SafetensorsDType.F16, new long[]{2, 3}, 0, 12, 100);
        var c = new SafetensorsTensor("t", SafetensorsDType.F16, new long[]{3, 2}, 0, 12, 100);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, c);
        long[] s = a.shape();
        s[0] = 99;
        assertArrayEquals(new long[]{2, 3}, a.shape(), "shape is defensively copied");
        assertEquals(2, a.rank());
        assertTrue(a.toString().contains("[2, 3]"));
    }
}
