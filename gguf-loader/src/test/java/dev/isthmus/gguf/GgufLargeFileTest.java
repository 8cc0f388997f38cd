package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sparse file over 4 GiB with a tensor over 2 GiB and one beyond 4 GiB: long offsets everywhere, O(metadata) open. */
class GgufLargeFileTest {
    @TempDir
    Path tmp;

    /**
     * com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes, reached reflectively: the test
     * sources compile inside the module, which does not read jdk.management (tests run on the class path).
     */
    private static long allocatedBytes() {
        try {
            Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            Method m = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
            return (long) m.invoke(mx);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void sparseFileBeyondFourGigabytes() throws IOException {
        Path file = tmp.resolve("large.gguf");
        try {
            Map<String, GgufValue> meta = new LinkedHashMap<>();
            meta.put("general.architecture", GgufValue.string("large"));
            List<GgufWriter.TensorSpec> specs = List.of(
                    new GgufWriter.TensorSpec("big", GgmlType.I8, new long[] {3L << 30}),       // 3 GiB
                    new GgufWriter.TensorSpec("mid", GgmlType.Q8_0, new long[] {1L << 25, 32}), // 1.06 GiB
                    new GgufWriter.TensorSpec("tail", GgmlType.F32, new long[] {12}));         // beyond 4 GiB
            List<Long> progress = new ArrayList<>();
            try (GgufWriter w = GgufWriter.create(file, meta, specs, progress::add)) {
                w.skipTensorData("big");
                w.skipTensorData("mid");
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment tail = arena.allocate(48);
                    for (int i = 0; i < 12; i++) {
                        tail.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, i + 0.5f);
                    }
                    w.writeTensorData("tail", tail);
                }
            }
            assertTrue(progress.getLast() > 4L << 30, "progress reports the total");
            for (int i = 1; i < progress.size(); i++) {
                assertTrue(progress.get(i) >= progress.get(i - 1));
            }

            long before = allocatedBytes();
            GgufFile f = GgufFile.open(file);
            long allocated = allocatedBytes() - before;
            try (f) {
                assertTrue(allocated < 4L << 20, "opening allocated " + allocated + " bytes of heap");
                assertTrue(f.fileSize() > 4L << 30);
                assertEquals(Files.size(file), f.fileSize());
                GgufTensorInfo big = f.tensor("big").orElseThrow();
                GgufTensorInfo mid = f.tensor("mid").orElseThrow();
                GgufTensorInfo tail = f.tensor("tail").orElseThrow();
                assertEquals(3L << 30, big.byteSize());
                assertTrue(big.byteSize() > Integer.MAX_VALUE);
                assertEquals((1L << 25) * 34, mid.byteSize());
                assertEquals(0, big.relativeOffset());
                assertEquals(3L << 30, mid.relativeOffset());
                assertEquals((3L << 30) + (1L << 25) * 34, tail.relativeOffset());
                assertTrue(tail.absoluteOffset() > 4L << 30);
                assertEquals(f.dataOffset() + tail.relativeOffset(), tail.absoluteOffset());
                MemorySegment bigData = f.tensorData(big);
                assertEquals(3L << 30, bigData.byteSize());
                assertEquals(0, bigData.get(ValueLayout.JAVA_BYTE, bigData.byteSize() - 1));
                MemorySegment tailData = f.tensorData(tail);
                assertEquals(11.5f, tailData.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 11));
                assertEquals(0x41, tailData.get(ValueLayout.JAVA_BYTE, 47)); // 11.5f = 0x41380000
                assertEquals(tail.absoluteEnd() + 16, f.fileSize(), "last tensor padded");
                assertEquals(0, f.segment().get(ValueLayout.JAVA_BYTE, f.fileSize() - 1)); // the last byte: padding
                assertEquals(0, f.fileSize() % 32);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
