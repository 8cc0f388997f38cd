package dev.isthmus.nativebindings.cuda;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Tests that need a CUDA device; each is skipped, with the probe's reason, where there is none. */
class CudaGpuTest {
    private static final long MB = 1 << 20;

    @BeforeEach
    void needsDevice() {
        CudaProbe probe = CudaDevices.probe();
        assumeTrue(probe.available(), "skipped, no usable CUDA device: " + probe.availability().reason());
        CudaRuntime.cudaSetDevice(0);
    }

    @Test
    void deviceInfoIsSane() {
        CudaProbe probe = CudaDevices.probe();
        assertEquals(CudaRuntime.cudaGetDeviceCount(), probe.devices().size());
        assertTrue(probe.driverVersion() >= probe.runtimeVersion() || probe.driverVersion() >= 12000,
                "driver " + probe.driverVersion() + " runtime " + probe.runtimeVersion());
        for (CudaDeviceInfo d : probe.devices()) {
            System.out.println("CUDA device " + d + ", l2 " + d.l2CacheBytes() + " B, mem clock " + d.memoryClockKHz()
                    + " kHz, bus " + d.busWidthBits() + " bits");
            assertFalse(d.name().isBlank());
            assertTrue(d.computeMajor() >= 3 && d.computeMajor() <= 20, d.toString());
            assertTrue(d.computeMinor() >= 0 && d.computeMinor() <= 9, d.toString());
            assertTrue(d.smCount() > 0, d.toString());
            assertTrue(d.totalMemoryBytes() >= 1L << 30, d.toString());
            assertTrue(d.freeMemoryBytes() > 0 && d.freeMemoryBytes() <= d.totalMemoryBytes(), d.toString());
            assertTrue(d.busWidthBits() >= 32, d.toString());
            assertTrue(d.memoryClockKHz() > 100_000, d.toString());
            assertTrue(d.peakBandwidthBytesPerSec() > 10e9, d.toString());
            assertTrue(d.l2CacheBytes() > 0 && d.clockKHz() > 0, d.toString());
        }
    }

    @Test
    void mallocMemcpyRoundTrip() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(MB);
            for (long i = 0; i < MB / 4; i++) host.setAtIndex(JAVA_INT, i, (int) (i * 2654435761L));
            MemorySegment back = arena.allocate(MB);
            MemorySegment dev = CudaRuntime.cudaMalloc(MB);
            MemorySegment dev2 = CudaRuntime.cudaMalloc(MB);
            try {
                CudaRuntime.cudaMemcpy(dev, host, MB, CudaRuntime.cudaMemcpyHostToDevice);
                CudaRuntime.cudaMemcpy(dev2, dev, MB, CudaRuntime.cudaMemcpyDeviceToDevice);
                CudaRuntime.cudaMemcpy(back, dev2, MB, CudaRuntime.cudaMemcpyDeviceToHost);
                assertArrayEquals(host.toArray(JAVA_BYTE), back.toArray(JAVA_BYTE));
            } finally {
                CudaRuntime.cudaFree(dev);
                CudaRuntime.cudaFree(dev2);
            }
        }
    }

    @Test
    void pinnedAsyncCopiesOnAStreamAndEventsTimeThem() {
        long size = 64 * MB;
        MemorySegment pinned = CudaRuntime.cudaMallocHost(size);
        MemorySegment pinnedBack = CudaRuntime.cudaMallocHost(size);
        MemorySegment dev = CudaRuntime.cudaMalloc(size);
        MemorySegment stream = CudaRuntime.cudaStreamCreate();
        MemorySegment start = CudaRuntime.cudaEventCreate();
        MemorySegment end = CudaRuntime.cudaEventCreate();
        try {
            assertEquals(size, pinned.byteSize());
            pinned.fill((byte) 0x5A);
            pinnedBack.fill((byte) 0);
            CudaRuntime.cudaEventRecord(start, stream);
            CudaRuntime.cudaMemcpyAsync(dev, pinned, size, CudaRuntime.cudaMemcpyHostToDevice, stream);
            CudaRuntime.cudaMemcpyAsync(pinnedBack, dev, size, CudaRuntime.cudaMemcpyDeviceToHost, stream);
            CudaRuntime.cudaEventRecord(end, stream);
            CudaRuntime.cudaEventSynchronize(end);
            CudaRuntime.cudaStreamSynchronize(stream);
            float ms = CudaRuntime.cudaEventElapsedTime(start, end);
            System.out.printf("128 MiB over PCIe/NVLink-C2C round trip: %.3f ms (%.1f GB/s)%n", ms, 2 * size / (ms * 1e6));
            assertTrue(ms > 0 && ms < 10_000, "elapsed " + ms);
            assertEquals((byte) 0x5A, pinnedBack.get(JAVA_BYTE, 0));
            assertEquals((byte) 0x5A, pinnedBack.get(JAVA_BYTE, size - 1));
            CudaRuntime.cudaDeviceSynchronize();
            assertEquals(CudaRuntime.cudaSuccess, CudaRuntime.cudaGetLastError());
        } finally {
            CudaRuntime.cudaEventDestroy(start);
            CudaRuntime.cudaEventDestroy(end);
            CudaRuntime.cudaStreamDestroy(stream);
            CudaRuntime.cudaFree(dev);
            CudaRuntime.cudaFreeHost(pinned);
            CudaRuntime.cudaFreeHost(pinnedBack);
        }
    }

    @Test
    void memGetInfoReturnsToItsStartAfterFree() {
        CudaRuntime.cudaFree(MemorySegment.NULL); // make sure the context exists before the first reading
        long[] before = CudaRuntime.cudaMemGetInfo();
        long size = 256 * MB;
        MemorySegment dev = CudaRuntime.cudaMalloc(size);
        long[] during = CudaRuntime.cudaMemGetInfo();
        CudaRuntime.cudaFree(dev);
        long[] after = CudaRuntime.cudaMemGetInfo();
        assertEquals(before[1], during[1]);
        assertTrue(before[0] - during[0] >= size, "free " + before[0] + " -> " + during[0]);
        assertEquals(before[0], after[0], "free memory after cudaFree");
    }

    @Test
    void errorsBecomeCudaExceptions() {
        CudaException e = org.junit.jupiter.api.Assertions.assertThrows(CudaException.class,
                () -> CudaRuntime.cudaSetDevice(CudaRuntime.cudaGetDeviceCount() + 7));
        assertEquals("cudaSetDevice", e.call());
        assertEquals("cudaErrorInvalidDevice", e.errorName());
        CudaRuntime.cudaGetLastError(); // clear it
    }
}
