package dev.isthmus.kernels.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.memory.backend.RopeSpec;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.nativebindings.cuda.CudaRuntime;
import dev.isthmus.nativebindings.cuda.IsthmusCuda;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The pinned staging ring that carries the small per-op uploads without synchronising: wrap-around
 * while the device is behind (the host must wait for a segment's event, and no staged byte may be
 * overwritten before its copy ran), uploads larger than the ring (it grows), and the backend's
 * uploads through it (writes, repeated positions, per-model constants). GPU only.
 */
class StagingRingTest {
    private static void assumeGpu() {
        CudaBackendProvider p = new CudaBackendProvider();
        assumeTrue(p.probe().available(), "CUDA backend unavailable, GPU test skipped: " + p.probe().reason());
    }

    /**
     * Uploads of many sizes through a small ring, each copied on the stream (device to device) to its own
     * place in a result buffer, while a large fill keeps the device busy: every value arrives intact, and
     * the ring had to wait for its own events.
     */
    @Test
    void wrapsAroundWhileTheDeviceIsBehindWithoutLosingAByte() {
        assumeGpu();
        CudaRuntime.cudaSetDevice(0);
        MemorySegment stream = CudaRuntime.cudaStreamCreate();
        long busyBytes = 1L << 30;
        MemorySegment busy = CudaRuntime.cudaMalloc(busyBytes);
        int uploads = 400;
        int maxInts = 700;
        MemorySegment results = CudaRuntime.cudaMalloc(4L * uploads * maxInts);
        try (StagingRing ring = new StagingRing(stream, 16 * 1024); Arena arena = Arena.ofConfined()) {
            assertEquals(16 * 1024, ring.capacity());
            for (int k = 0; k < 16; k++) {
                IsthmusCuda.fillZero(stream, busy, busyBytes);   // milliseconds of device work queued first
            }
            SplittableRandom r = new SplittableRandom(7);
            int[][] sent = new int[uploads][];
            for (int u = 0; u < uploads; u++) {
                int n = 1 + r.nextInt(maxInts);
                int[] v = new int[n];
                for (int i = 0; i < n; i++) {
                    v[i] = r.nextInt();
                }
                sent[u] = v;
                long off = ring.reserve(4L * n);
                assertEquals(0, off % StagingRing.ALIGN, "aligned reservation");
                assertTrue(off + 4L * n <= ring.capacity(), "inside the ring");
                MemorySegment.copy(v, 0, ring.host(), ValueLayout.JAVA_INT, off, n);
                ring.copy(off, 4L * n, null);
                CudaRuntime.cudaMemcpyAsync(results.address() + 4L * u * maxInts, ring.device(off).address(), 4L * n,
                        CudaRuntime.cudaMemcpyDeviceToDevice, stream);
            }
            assertTrue(ring.waits() > 0, "a 16 KiB ring behind a busy device must have waited for its events");
            CudaRuntime.cudaStreamSynchronize(stream);
            MemorySegment back = arena.allocate(4L * uploads * maxInts);
            CudaRuntime.cudaMemcpy(back, results, back.byteSize(), CudaRuntime.cudaMemcpyDeviceToHost);
            for (int u = 0; u < uploads; u++) {
                int[] got = new int[sent[u].length];
                MemorySegment.copy(back, ValueLayout.JAVA_INT, 4L * u * maxInts, got, 0, got.length);
                assertArrayEquals(sent[u], got, "upload " + u);
            }
        } finally {
            CudaRuntime.cudaFree(results);
            CudaRuntime.cudaFree(busy);
            CudaRuntime.cudaStreamDestroy(stream);
        }
    }

    /** An upload larger than the ring grows it (new generation), and both old and new data arrive. */
    @Test
    void anUploadLargerThanTheRingGrowsIt() {
        assumeGpu();
        CudaRuntime.cudaSetDevice(0);
        MemorySegment stream = CudaRuntime.cudaStreamCreate();
        int big = 100_000;
        MemorySegment results = CudaRuntime.cudaMalloc(4L * (big + 10));
        try (StagingRing ring = new StagingRing(stream, 4096); Arena arena = Arena.ofConfined()) {
            int gen = ring.generation();
            int[] small = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            long off = ring.reserve(40);
            MemorySegment.copy(small, 0, ring.host(), ValueLayout.JAVA_INT, off, 10);
            ring.copy(off, 40, MemorySegment.ofAddress(results.address() + 4L * big));
            int[] v = new int[big];
            for (int i = 0; i < big; i++) {
                v[i] = i * 31 + 5;
            }
            off = ring.reserve(4L * big);
            assertNotEquals(gen, ring.generation(), "the ring grew");
            assertTrue(ring.capacity() >= 4L * big);
            MemorySegment.copy(v, 0, ring.host(), ValueLayout.JAVA_INT, off, big);
            ring.copy(off, 4L * big, results);
            CudaRuntime.cudaStreamSynchronize(stream);
            MemorySegment back = arena.allocate(4L * (big + 10));
            CudaRuntime.cudaMemcpy(back, results, back.byteSize(), CudaRuntime.cudaMemcpyDeviceToHost);
            assertArrayEquals(v, back.asSlice(0, 4L * big).toArray(ValueLayout.JAVA_INT));
            assertArrayEquals(small, back.asSlice(4L * big, 40).toArray(ValueLayout.JAVA_INT));
            assertThrows(IllegalArgumentException.class, () -> ring.reserve(0));
            assertThrows(IndexOutOfBoundsException.class, () -> ring.copy(ring.capacity() - 4, 8, null));
        } finally {
            CudaRuntime.cudaFree(results);
            CudaRuntime.cudaStreamDestroy(stream);
        }
    }

    /**
     * The backend's own uploads: many small writes (more than the ring holds) land intact; RoPE with the
     * same spec twice caches its inverse frequencies once, and changing the array's contents in place is
     * seen by the next call.
     */
    @Test
    void theBackendsUploadsGoThroughTheRingAndConstantsFollowTheirArrays() {
        assumeGpu();
        try (CudaBackend b = new CudaBackend()) {
            int count = 3000;   // 3000 writes of 100 floats (512-byte slots) wrap the 1 MiB ring
            Tensor t = b.allocate(count, 100);
            float[] all = new float[count * 100];
            for (int i = 0; i < all.length; i++) {
                all[i] = i * 0.5f;
            }
            for (int row = 0; row < count; row++) {
                b.write(all, row * 100, t.rows(row, 1));
            }
            float[] back = new float[all.length];
            b.read(t, back, 0);
            assertArrayEquals(all, back);

            float[] inv = {1f, 0.1f, 0.01f, 0.001f};
            RopeSpec spec = new RopeSpec(inv, 1f, 8, RopeLayout.NEOX);
            Tensor x = b.allocate(2, 8);
            float[] ones = new float[16];
            java.util.Arrays.fill(ones, 1f);
            int before = b.cachedConstants();
            b.write(ones, 0, x);
            b.rope(x, 1, 8, new int[] {3, 5}, spec);
            float[] first = new float[16];
            b.read(x, first, 0);
            b.write(ones, 0, x);
            b.rope(x, 1, 8, new int[] {3, 5}, spec);
            float[] again = new float[16];
            b.read(x, again, 0);
            assertArrayEquals(first, again);
            assertEquals(before + 1, b.cachedConstants(), "one cached constant for one spec");
            // position 3, pair 0: (1·cos 3 − 1·sin 3) in NEOX layout
            assertEquals((float) (Math.cos(3) - Math.sin(3)), first[0], 1e-5f);

            inv[0] = 2f;   // the same array, new contents
            b.write(ones, 0, x);
            b.rope(x, 1, 8, new int[] {3, 5}, spec);
            float[] changed = new float[16];
            b.read(x, changed, 0);
            assertEquals((float) (Math.cos(6) - Math.sin(6)), changed[0], 1e-5f);
            assertEquals(first[1], changed[1], "the other pairs are unchanged");
            assertEquals(before + 1, b.cachedConstants());
        }
    }
}
