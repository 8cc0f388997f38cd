package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.gguf.GgufTestSupport.Raw;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Corrupted and hostile files: each gives exactly a ModelFormatException naming the file and an offset. */
class GgufCorruptionTest {
    @TempDir
    Path tmp;
    private int counter;

    /** Writes {@code bytes} to a temp file, opens it and expects a ModelFormatException whose reason contains {@code fragment}. */
    private ModelFormatException expectFailure(byte[] bytes, String fragment) throws IOException {
        Path file = tmp.resolve("bad-" + (counter++) + ".gguf");
        Files.write(file, bytes);
        ModelFormatException e = assertThrowsExactly(ModelFormatException.class, () -> {
            try (GgufFile f = GgufFile.open(file)) {
                f.metadata();
            }
        });
        assertTrue(e.getMessage().contains(file.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains("at byte " + e.offset()), "message names the offset: " + e.getMessage());
        assertTrue(e.offset() >= 0 && e.offset() <= bytes.length, "offset within the file: " + e.getMessage());
        assertTrue(e.reason().contains(fragment), "reason '" + e.reason() + "' should contain '" + fragment + "'");
        assertEquals(file, e.file());
        // the in-memory parser reports the same
        ModelFormatException e2 = assertThrowsExactly(ModelFormatException.class,
                () -> GgufFile.parse(MemorySegment.ofArray(bytes), file));
        assertEquals(e.getMessage(), e2.getMessage());
        return e;
    }

    private static Raw header(long tensors, long kvs) {
        return new Raw().header(3, tensors, kvs).kvString("general.architecture", "llama");
    }

    /** A valid two-tensor file: F32[8] at 0 and Q8_0[32] at 32. */
    private static byte[] valid(long offA, long offB, int typeB) {
        Raw r = header(2, 1);
        r.tensor("a", new long[] {8}, GgmlType.F32.id(), offA);
        r.tensor("b", new long[] {32}, typeB, offB);
        r.padTo(32).zeros(128);
        return r.toBytes();
    }

    @Test
    void theBaseFileIsValid() {
        try (GgufFile f = GgufFile.parse(MemorySegment.ofArray(valid(0, 32, GgmlType.Q8_0.id())), Path.of("base"))) {
            assertEquals(2, f.tensors().size());
            assertEquals(34, f.tensor("b").orElseThrow().byteSize());
        }
    }

    @Test
    void truncationAtEveryOffsetOfASyntheticFile() throws IOException {
        Path file = GgufTestSupport.writeSynthetic(tmp.resolve("s.gguf"));
        byte[] all = Files.readAllBytes(file);
        long lastEnd;
        try (GgufFile f = GgufFile.open(file)) {
            lastEnd = f.tensors().stream().mapToLong(GgufTensorInfo::absoluteEnd).max().orElseThrow();
        }
        for (int n = 0; n < all.length; n++) {
            MemorySegment cut = MemorySegment.ofArray(all).asSlice(0, n);
            if (n < lastEnd) {
                ModelFormatException e = assertThrowsExactly(ModelFormatException.class,
                        () -> GgufFile.parse(cut, file), "truncated at " + n);
                assertTrue(e.offset() >= 0 && e.offset() <= n, e.getMessage());
                assertTrue(e.getMessage().contains(file.toString() + ": at byte "), e.getMessage());
            } else {
                GgufFile.parse(cut, file).close(); // only the last tensor's padding is missing: still valid
            }
        }
        for (int n : new int[] {0, 3, 4, 7, 8, 23, 24, 100, (int) lastEnd - 1}) {
            expectFailure(java.util.Arrays.copyOf(all, n), "");
        }
    }

    @Test
    void truncationOfAVocabFile() throws IOException {
        List<Path> files = GgufTestSupport.vocabFiles();
        Assumptions.assumeTrue(!files.isEmpty(), "shared vocab folder not found: skipping");
        Path file = files.get(0);
        byte[] all = Files.readAllBytes(file);
        long metaEnd;
        try (GgufFile f = GgufFile.open(file)) {
            metaEnd = f.tensors().isEmpty() ? GgufTestSupport.tensorInfosOffset(f)
                    : f.tensors().stream().mapToLong(GgufTensorInfo::absoluteEnd).max().orElseThrow();
        }
        for (int i = 0; i < 400; i++) {
            int n = (int) (i < 200 ? i * 7L : metaEnd * (i - 200) / 200);
            MemorySegment cut = MemorySegment.ofArray(all).asSlice(0, n);
            ModelFormatException e = assertThrowsExactly(ModelFormatException.class,
                    () -> GgufFile.parse(cut, file), "truncated at " + n);
            assertTrue(e.getMessage().startsWith(file + ": at byte "), e.getMessage());
        }
        expectFailure(java.util.Arrays.copyOf(all, (int) metaEnd - 1), "truncated");
        expectFailure(java.util.Arrays.copyOf(all, (int) metaEnd / 2), "");
    }

    private static byte[] patchU64(byte[] b, long at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong((int) at, v);
        return c;
    }

    @Test
    void hostileCountsAndLengthsInAVocabFile() throws IOException {
        List<Path> files = GgufTestSupport.vocabFiles();
        Assumptions.assumeTrue(!files.isEmpty(), "shared vocab folder not found: skipping");
        Path file = files.get(0);
        byte[] all = Files.readAllBytes(file);
        long tokensKv;
        String tokensKey = "tokenizer.ggml.tokens";
        try (GgufFile f = GgufFile.open(file)) {
            tokensKv = GgufTestSupport.kvOffset(f, tokensKey);
        }
        long countAt = tokensKv + 8 + tokensKey.length() + 4 + 4;
        assertEquals(countAt, expectFailure(patchU64(all, countAt, 1L << 60), "count").offset());
        assertEquals(countAt, expectFailure(patchU64(all, countAt, -1L), "count").offset());
        assertEquals(24, expectFailure(patchU64(all, 24, 1L << 60), "length").offset());
        assertEquals(8, expectFailure(patchU64(all, 8, 1L << 60), "tensor count").offset());
        assertEquals(16, expectFailure(patchU64(all, 16, 1L << 60), "count").offset());
        assertEquals(16, expectFailure(patchU64(all, 16, 1_000_000), "count").offset());
        byte[] badMagic = all.clone();
        badMagic[0] = 'X';
        assertEquals(0, expectFailure(badMagic, "magic").offset());
        // a string element of the token array with a huge length
        long firstElement = countAt + 8;
        assertEquals(firstElement, expectFailure(patchU64(all, firstElement, 1L << 60), "length").offset());
    }

    @Test
    void wrongMagicAndVersions() throws IOException {
        byte[] b = valid(0, 32, GgmlType.Q8_0.id());
        byte[] m = b.clone();
        m[3] = 'G';
        expectFailure(m, "magic");
        expectFailure(new byte[] {'G', 'G'}, "truncated");
        expectFailure(new byte[0], "truncated");
        byte[] v1 = b.clone();
        v1[4] = 1;
        expectFailure(v1, "version 1");
        byte[] v4 = b.clone();
        v4[4] = 4;
        expectFailure(v4, "version 4");
        byte[] be = b.clone();
        be[4] = 0;
        be[7] = 3;
        expectFailure(be, "big-endian");
    }

    @Test
    void tensorPlacement() throws IOException {
        expectFailure(valid(0, 4096, GgmlType.Q8_0.id()), "outside the data section");
        expectFailure(valid(0, 1L << 62, GgmlType.Q8_0.id()), "outside the data section");
        expectFailure(valid(0, -32, GgmlType.Q8_0.id()), "alignment");
        expectFailure(valid(0, 0, GgmlType.Q8_0.id()), "overlaps");
        expectFailure(valid(32, 0, GgmlType.Q8_0.id()), "overlaps"); // b [0,34) overlaps a [32,64)
        expectFailure(valid(0, 16, GgmlType.Q8_0.id()), "alignment");
        expectFailure(valid(0, 96, GgmlType.Q8_0.id()), "outside the data section"); // ends at 130 > 128
        // a file with a tensor but no data section at all
        Raw r = header(1, 1).tensor("a", new long[] {8}, 0, 0);
        expectFailure(r.toBytes(), "outside the data section");
    }

    @Test
    void typesAndShapes() throws IOException {
        expectFailure(valid(0, 32, 31), "unknown ggml type id 31");
        expectFailure(valid(0, 32, 200), "unknown ggml type id 200");
        expectFailure(valid(0, 32, -1), "unknown ggml type id");
        expectFailure(header(1, 1).tensor("a", new long[] {1, 1, 1, 1, 1}, 0, 0).padTo(32).zeros(32).toBytes(),
                "5 dimensions");
        expectFailure(header(1, 1).tensor("a", new long[] {}, 0, 0).padTo(32).zeros(32).toBytes(), "0 dimensions");
        expectFailure(header(1, 1).tensor("a", new long[] {1L << 32, 1L << 32}, 0, 0).padTo(32).zeros(32).toBytes(),
                "more elements");
        expectFailure(header(1, 1).tensor("a", new long[] {1L << 40, 1L << 30, 1L << 20, 2}, 0, 0).padTo(32).toBytes(),
                "more elements");
        expectFailure(header(1, 1).tensor("a", new long[] {1L << 61}, 0, 0).padTo(32).toBytes(), "overflows");
        expectFailure(header(1, 1).tensor("a", new long[] {4, -1}, 0, 0).padTo(32).zeros(32).toBytes(), "negative");
        expectFailure(header(1, 1).tensor("a", new long[] {33}, GgmlType.Q8_0.id(), 0).padTo(32).zeros(64).toBytes(),
                "block size");
        expectFailure(header(2, 1).tensor("a", new long[] {8}, 0, 0).tensor("a", new long[] {8}, 0, 32)
                .padTo(32).zeros(64).toBytes(), "duplicate tensor name");
    }

    @Test
    void metadataProblems() throws IOException {
        expectFailure(header(0, 2).kvString("general.architecture", "x").toBytes(), "duplicate metadata key");
        expectFailure(header(0, 2).kvU32("general.alignment", 0).toBytes(), "power of two");
        expectFailure(header(0, 2).kvU32("general.alignment", 3).toBytes(), "power of two");
        expectFailure(header(0, 2).str("general.alignment").u32(GgufValueType.UINT64.id()).u64(32).toBytes(),
                "expected UINT32");
        expectFailure(header(0, 2).str("k").u32(13).u32(0).toBytes(), "unknown value type");
        expectFailure(new Raw().header(3, 0, 1).str("general.architecture").u32(GgufValueType.INT64.id()).u64(1).toBytes(),
                "expected STRING");
        expectFailure(header(0, 2).str("k").u32(GgufValueType.ARRAY.id()).u32(99).u64(0).toBytes(), "unknown array element type");
        expectFailure(header(0, 2).str("k").u32(GgufValueType.BOOL.id()).u8(2).toBytes(), "neither 0 nor 1");
        expectFailure(header(0, 2).str("k").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.BOOL.id()).u64(2).u8(1).u8(7)
                .toBytes(), "neither 0 nor 1");
        expectFailure(header(0, 2).u64(2).bytes(new byte[] {(byte) 0xC3, 0x28}).u32(GgufValueType.UINT8.id()).u8(0)
                .toBytes(), "UTF-8");
        expectFailure(header(0, 2).str("k").u32(GgufValueType.STRING.id()).u64(1).u8(0xFF).toBytes(), "UTF-8");
        // arrays nested 9 deep
        Raw deep = header(0, 2).str("k").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 9; i++) {
            deep.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        deep.u32(GgufValueType.UINT8.id()).u64(0);
        expectFailure(deep.toBytes(), "nested deeper");
        // an array of 2^60 arrays, strings or u64
        for (GgufValueType t : new GgufValueType[] {GgufValueType.ARRAY, GgufValueType.STRING, GgufValueType.UINT64, GgufValueType.UINT8}) {
            expectFailure(header(0, 2).str("k").u32(GgufValueType.ARRAY.id()).u32(t.id()).u64(1L << 60).zeros(64).toBytes(),
                    "count");
        }
    }

    @Test
    void wrongTypeLookupsNameTheKeyOffset() {
        byte[] b = header(0, 2).kvU32("n", 7).toBytes();
        try (GgufFile f = GgufFile.parse(MemorySegment.ofArray(b), Path.of("x.gguf"))) {
            long at = f.keyOffset("n").orElseThrow();
            assertEquals(b.length - 8 - 1 - 4 - 4, at);
            assertEquals(24, f.keyOffset("general.architecture").orElseThrow());
            assertEquals(7, f.getLong("n").orElseThrow());
            assertEquals(at, assertThrowsExactly(ModelFormatException.class, () -> f.getString("n")).offset());
            assertEquals(24, assertThrowsExactly(ModelFormatException.class, () -> f.getLong("general.architecture")).offset());
            assertTrue(f.getString("absent").isEmpty());
        }
    }

    @Test
    void alignmentAndNestingWithinBoundsAreAccepted() {
        Raw deep = header(0, 3).kvU32("general.alignment", 64).str("k").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 7; i++) {
            deep.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        deep.u32(GgufValueType.UINT8.id()).u64(1).u8(9);
        try (GgufFile f = GgufFile.parse(MemorySegment.ofArray(deep.toBytes()), null)) {
            assertEquals(64, f.alignment());
            GgufValue v = f.get("k").orElseThrow();
            for (int i = 0; i < 7; i++) {
                v = v.get(0);
            }
            assertEquals(9, v.get(0).asLong());
        }
    }
}
