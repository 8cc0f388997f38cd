package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tensor data are zero-copy slices of the one mapping; closing unmaps and later access throws. */
class GgufLifetimeTest {
    @TempDir
    Path tmp;

    @Test
    void tensorDataIsASliceOfTheMapping() throws IOException {
        Path file = GgufTestSupport.writeSynthetic(tmp.resolve("s.gguf"));
        byte[] bytes = Files.readAllBytes(file);
        try (GgufFile f = GgufFile.open(file)) {
            MemorySegment whole = f.segment();
            assertTrue(whole.isNative() && whole.isMapped() && whole.isReadOnly());
            assertEquals(bytes.length, f.fileSize());
            for (GgufTensorInfo t : f.tensors()) {
                MemorySegment d = f.tensorData(t);
                assertEquals(whole.address() + t.absoluteOffset(), d.address(), t.name());
                assertEquals(t.byteSize(), d.byteSize());
                assertTrue(d.isReadOnly());
                assertEquals(whole.scope(), d.scope(), "same lifetime as the mapping");
                assertTrue(whole.asOverlappingSlice(d).isPresent() || d.byteSize() == 0);
                if (t.byteSize() > 0) {
                    assertEquals(bytes[(int) t.absoluteOffset()], d.get(ValueLayout.JAVA_BYTE, 0));
                    assertEquals(bytes[(int) t.absoluteEnd() - 1], d.get(ValueLayout.JAVA_BYTE, t.byteSize() - 1));
                }
            }
            assertThrows(IllegalArgumentException.class, () -> whole.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
            assertEquals(f.tensorData("blk.0.ffn_up.weight").address(),
                    f.tensorData(f.tensor("blk.0.ffn_up.weight").orElseThrow()).address());
            GgufTensorInfo foreign = new GgufTensorInfo("blk.0.ffn_up.weight", new long[] {32}, GgmlType.Q8_0, 0, 1L << 40, 34);
            assertThrowsExactly(IllegalArgumentException.class, () -> f.tensorData(foreign));
            assertThrowsExactly(IllegalArgumentException.class, () -> f.tensorData("nope"));
        }
    }

    @Test
    void accessAfterCloseThrowsIllegalStateException() throws IOException {
        Path file = GgufTestSupport.writeSynthetic(tmp.resolve("s.gguf"));
        GgufFile f = GgufFile.open(file);
        GgufTensorInfo t = f.tensors().getFirst();
        MemorySegment data = f.tensorData(t);
        MemorySegment whole = f.segment();
        assertTrue(f.isOpen());
        f.close();
        assertFalse(f.isOpen());
        f.close(); // idempotent
        assertThrowsExactly(IllegalStateException.class, () -> data.get(ValueLayout.JAVA_BYTE, 0));
        assertThrowsExactly(IllegalStateException.class, () -> whole.get(ValueLayout.JAVA_BYTE, 0));
        assertThrowsExactly(IllegalStateException.class, () -> f.tensorData(t));
        // metadata stays readable: it lives on the heap
        assertEquals("llama", f.architecture());
    }

    @Test
    void parsedFromMemoryDoesNotOwnTheSegment() throws IOException {
        byte[] bytes = Files.readAllBytes(GgufTestSupport.writeSynthetic(tmp.resolve("s.gguf")));
        MemorySegment seg = MemorySegment.ofArray(bytes);
        GgufFile f = GgufFile.parse(seg, Path.of("in-memory"));
        assertEquals(Path.of("in-memory"), f.path());
        f.close();
        assertFalse(f.isOpen());
        assertThrowsExactly(IllegalStateException.class, () -> f.tensorData(f.tensors().getFirst()));
        assertEquals(bytes[0], seg.get(ValueLayout.JAVA_BYTE, 0));
    }
}
