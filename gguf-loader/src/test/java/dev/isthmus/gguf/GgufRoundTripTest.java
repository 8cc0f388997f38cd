package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Read → write → read gives identical metadata, tensor infos and tensor bytes. */
class GgufRoundTripTest {
    @TempDir
    Path tmp;

    static Stream<Path> vocabFiles() throws IOException {
        List<Path> files = GgufTestSupport.vocabFiles();
        // a single placeholder keeps the parameterized test from failing when the folder is absent
        return files.isEmpty() ? Stream.of((Path) null) : files.stream();
    }

    static void assertSameContent(GgufFile a, GgufFile b) {
        assertEquals(a.version() == 2 ? 3 : a.version(), b.version());
        assertEquals(new ArrayList<>(a.metadata().keySet()), new ArrayList<>(b.metadata().keySet()), "key order");
        for (Map.Entry<String, GgufValue> e : a.metadata().entrySet()) {
            GgufValue bv = b.metadata().get(e.getKey());
            assertEquals(e.getValue().type(), bv.type(), e.getKey());
            assertEquals(e.getValue(), bv, e.getKey());
        }
        assertEquals(a.metadata(), b.metadata());
        assertEquals(a.alignment(), b.alignment());
        assertEquals(a.tensors().size(), b.tensors().size());
        for (int i = 0; i < a.tensors().size(); i++) {
            GgufTensorInfo ta = a.tensors().get(i);
            GgufTensorInfo tb = b.tensors().get(i);
            assertEquals(ta.name(), tb.name());
            assertEquals(ta.type(), tb.type());
            assertArrayEquals(ta.shape(), tb.shape());
            assertEquals(ta.byteSize(), tb.byteSize());
            assertEquals(-1, a.tensorData(ta).mismatch(b.tensorData(tb)), "bytes of " + ta.name());
        }
    }

    @ParameterizedTest
    @MethodSource("vocabFiles")
    void vocabFileRoundTrips(Path file) throws IOException {
        Assumptions.assumeTrue(file != null,
                "shared vocab folder not found (set -Disthmus.shared or place it at ../shared/vocab): skipping");
        Path copy = tmp.resolve("copy.gguf");
        try (GgufFile src = GgufFile.open(file)) {
            assertNotNull(src.architecture(), "general.architecture");
            assertTrue(src.metadata().size() > 5);
            GgufWriter.copy(src, copy);
            try (GgufFile dst = GgufFile.open(copy)) {
                assertSameContent(src, dst);
                assertEquals(dst.tensors(), src.tensors().isEmpty() ? List.of() : dst.tensors());
                // llama.cpp-written files come back byte-identical, except that gguf-py omits the
                // trailing alignment padding of a file without tensors, which this writer adds
                long m = Files.mismatch(file, copy);
                assertTrue(m == -1 || m == src.fileSize(), "first differing byte " + m + " of " + file);
                MemorySegment tail = dst.segment().asSlice(src.fileSize());
                assertTrue(tail.byteSize() < src.alignment());
                assertEquals(-1, tail.mismatch(MemorySegment.ofArray(new byte[(int) tail.byteSize()])));
                // a second copy of our own output is byte-identical
                Path copy2 = tmp.resolve("copy2.gguf");
                GgufWriter.copy(dst, copy2);
                assertEquals(-1, Files.mismatch(copy, copy2));
            }
        }
    }

    @Test
    void syntheticFileWithAllValueTypesAndSeveralTensorTypesRoundTrips() throws IOException {
        Path file = GgufTestSupport.writeSynthetic(tmp.resolve("synthetic.gguf"));
        Path copy = tmp.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(3, f.version());
            assertEquals(32, f.alignment());
            assertEquals(GgufTestSupport.allTypesMetadata(), f.metadata());
            assertEquals(new ArrayList<>(GgufTestSupport.allTypesMetadata().keySet()), new ArrayList<>(f.metadata().keySet()));
            assertEquals("llama", f.architecture());
            List<GgufWriter.TensorSpec> specs = GgufTestSupport.mixedTensors();
            assertEquals(specs.size(), f.tensors().size());
            long expectedRel = 0;
            for (int i = 0; i < specs.size(); i++) {
                GgufTensorInfo t = f.tensors().get(i);
                assertEquals(specs.get(i), GgufWriter.TensorSpec.of(t));
                assertEquals(expectedRel, t.relativeOffset());
                assertEquals(f.dataOffset() + t.relativeOffset(), t.absoluteOffset());
                assertEquals(t.type().byteSize(t.elementCount()), t.byteSize());
                assertEquals(0, t.absoluteOffset() % 32);
                expectedRel = (expectedRel + t.byteSize() + 31) / 32 * 32;
            }
            assertEquals(f.dataOffset() + expectedRel, f.fileSize(), "last tensor padded to the alignment");
            assertEquals(4 * 34, f.tensor("blk.0.ffn_up.weight").orElseThrow().byteSize());
            assertEquals(2 * 144, f.tensor("blk.0.ffn_down.weight").orElseThrow().byteSize());
            assertEquals(0, f.tensor("empty").orElseThrow().byteSize());
            assertTrue(f.tensor("nope").isEmpty());
            GgufWriter.copy(f, copy);
            try (GgufFile g = GgufFile.open(copy)) {
                assertSameContent(f, g);
                assertEquals(f.tensors(), g.tensors());
            }
        }
        assertEquals(-1, Files.mismatch(file, copy), "copy of a writer-made file is byte-identical");
    }

    @Test
    void customAlignmentAndVersion2AreRead() throws IOException {
        var meta = new java.util.LinkedHashMap<String, GgufValue>();
        meta.put("general.alignment", GgufValue.uint32(64));
        meta.put("general.architecture", GgufValue.string("x"));
        Path file = GgufTestSupport.writeSynthetic(tmp.resolve("a64.gguf"), meta, GgufTestSupport.mixedTensors());
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataOffset() % 64);
            for (GgufTensorInfo t : f.tensors()) {
                assertEquals(0, t.relativeOffset() % 64);
            }
        }
        byte[] b = Files.readAllBytes(file);
        b[4] = 2; // version 2 has the same layout
        try (GgufFile f = GgufFile.parse(MemorySegment.ofArray(b), file)) {
            assertEquals(2, f.version());
            assertFalse(f.tensors().isEmpty());
        }
    }
}
