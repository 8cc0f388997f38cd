package dev.isthmus.kernels.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.Tensor;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.nativebindings.cuda.CudaRuntime;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Device memory: round trips, and close() gives back every byte (cudaMemGetInfo returns to its start). GPU only. */
class CudaBackendMemoryTest {
    private static void assumeGpu() {
        CudaBackendProvider p = new CudaBackendProvider();
        assumeTrue(p.probe().available(), "CUDA backend unavailable, GPU test skipped: " + p.probe().reason());
    }

    /** Everything a backend allocates, once each: weights (more than one staging buffer), activations, a KV pool. */
    private static void exercise(CudaBackend b) {
        try (Arena arena = Arena.ofConfined()) {
            int rows = 4096;
            int cols = 4096;
            MemorySegment w = arena.allocate(2L * rows * cols); // 32 MiB of F16: three staging rounds
            for (long i = 0; i < (long) rows * cols; i++) {
                w.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16((i % 7) * 0.125f));
            }
            Tensor wt = b.weight(DType.F16, rows, cols, w);
            Tensor x = b.allocate(1, cols);
            Tensor y = b.allocate(1, rows);
            float[] ones = new float[cols];
            java.util.Arrays.fill(ones, 1f);
            b.write(ones, 0, x);
            b.matmul(x, wt, y);
            float[] out = new float[rows];
            b.read(y, out, 0);
            for (int r = 0; r < rows; r++) {
                double want = 0;
                for (int c = 0; c < cols; c++) {
                    want += (((long) r * cols + c) % 7) * 0.125;
                }
                assertEquals(want, out[r], 1e-3 * want + 1e-3, "row " + r);
            }
            KvBlockPool pool = b.newKvPool(KvCacheConfig.builder().type(KvType.F16).fullLayers(2, 2, 64).totalBlocks(100).build());
            try (KvSequence seq = pool.newSequence()) {
                seq.reserve(3);
                Tensor k = b.allocate(3, 128);
                b.storeKv(seq, 1, 0, k, k);
            }
        }
    }

    @Test
    void closeFreesEveryDeviceByte() {
        assumeGpu();
        try (CudaBackend warm = new CudaBackend()) {
            exercise(warm); // loads every module the test uses, so the measurement sees only our allocations
        }
        long start = CudaRuntime.cudaMemGetInfo()[0];
        CudaBackend b = new CudaBackend();
        exercise(b);
        long during = CudaRuntime.cudaMemGetInfo()[0];
        b.close();
        b.close();
        long end = CudaRuntime.cudaMemGetInfo()[0];
        assertEquals(start, end, "free device memory after close (was " + during + " while open)");
        assertThrows(IllegalStateException.class, () -> b.allocate(1, 1));
    }

    @Test
    void writeAndReadRoundTripIncludingRowSlices() {
        assumeGpu();
        try (CudaBackend b = new CudaBackend()) {
            Tensor t = b.allocate(3, 5);
            float[] in = new float[15];
            for (int i = 0; i < 15; i++) {
                in[i] = i * 1.5f - 3;
            }
            b.write(in, 0, t);
            float[] out = new float[15];
            b.read(t, out, 0);
            assertArrayEquals(in, out);
            float[] row = new float[5];
            b.read(t.rows(1, 1), row, 0);
            assertArrayEquals(java.util.Arrays.copyOfRange(in, 5, 10), row);
            b.write(new float[] {9, 9, 9, 9, 9, 7}, 1, t.rows(2, 1));
            b.read(t, out, 0);
            assertEquals(7f, out[14]);
            assertEquals(in[9], out[9]);
        }
    }
}
