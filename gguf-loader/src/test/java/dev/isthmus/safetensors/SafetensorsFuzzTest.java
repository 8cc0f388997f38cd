package dev.isthmus.safetensors;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.isthmus.format.ModelFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the safetensors header parser and tensor views with arbitrary bytes.
 *
 * <p>Only {@link ModelFormatException} may escape the parser; a file that parses must have every
 * tensor readable at its first and last byte, inside the data buffer, and unreadable after close.
 * In a normal build the committed inputs under {@code SafetensorsFuzzTestInputs/} are replayed;
 * {@code JAZZER_FUZZ=1} runs a fuzzing campaign (see {@code docs/FUZZING.md}).
 */
class SafetensorsFuzzTest {
    private static final Path NAME = Path.of("fuzz.safetensors");

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] input) {
        SafetensorsFile f;
        try {
            f = SafetensorsFile.read(input, NAME);
        } catch (ModelFormatException expected) {
            assertEquals(NAME, expected.file());
            return;
        }
        MemorySegment first = null;
        try (f) {
            assertTrue(f.dataOffset() + f.dataSize() == input.length);
            long covered = 0;
            for (SafetensorsTensor t : f.tensors()) {
                assertTrue(t.absoluteOffset() >= f.dataOffset() && t.absoluteOffset() + t.byteSize() <= input.length);
                assertEquals(t.elementCount() * t.dtype().byteSize(), t.byteSize());
                assertEquals(t, f.tensor(t.name()).orElseThrow());
                MemorySegment s = f.data(t);
                assertEquals(t.byteSize(), s.byteSize());
                if (s.byteSize() > 0) {
                    int off = (int) t.absoluteOffset();
                    assertEquals(input[off], s.get(ValueLayout.JAVA_BYTE, 0));
                    assertEquals(input[off + (int) s.byteSize() - 1], s.get(ValueLayout.JAVA_BYTE, s.byteSize() - 1));
                    if (first == null) {
                        first = s;
                    }
                }
                covered += t.byteSize();
            }
            assertEquals(f.dataSize() - covered, f.unreferencedBytes());
            f.metadata().forEach((k, v) -> assertTrue(k != null && v != null));
        }
        if (first != null) {
            MemorySegment gone = first;
            assertThrows(IllegalStateException.class, () -> gone.get(ValueLayout.JAVA_BYTE, 0));
        }
    }
}
