package dev.isthmus.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class MemoryBandwidthTest {
    @Test
    void sumCoversEveryVectorIncludingTheTail() {
        try (Arena arena = Arena.ofConfined()) {
            int vec = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
            int n = vec * 4 * 3 + vec * 3; // main loop plus a tail of three vectors
            MemorySegment seg = arena.allocate((long) n * 4, 64);
            for (int i = 0; i < n; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 7);
            }
            float expected = 0;
            for (int i = 0; i < n; i++) {
                expected += i % 7;
            }
            assertEquals(expected, MemoryBandwidth.sum(seg), 1e-3f);
        }
    }

    @Test
    void measuresAPlausibleRate() {
        MemoryBandwidth.Result r = MemoryBandwidth.measure(2, 64L << 20, 2);
        assertEquals(2, r.threads());
        assertTrue(r.bufferBytes() <= 64L << 20 && r.bufferBytes() > 63L << 20);
        // Any machine that runs this reads faster than 100 MB/s and slower than 100 TB/s.
        assertTrue(r.gigabytesPerSecond() > 0.1 && r.gigabytesPerSecond() < 100_000, "rate " + r.gigabytesPerSecond());
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(0, 1 << 20, 1));
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(2, 1 << 20, 0));
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(4, 8, 1));
    }
}
