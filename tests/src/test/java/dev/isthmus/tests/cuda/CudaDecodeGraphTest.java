package dev.isthmus.tests.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.kernels.gpu.CudaBackend;
import dev.isthmus.kernels.gpu.CudaBackendProvider;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.model.DenseModel;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decode steps replayed from CUDA graphs give exactly the results of the same ops launched one by
 * one: two sessions interleaved step by step (so each has its own recording), with logits read
 * (one key) and argmax only (another), on fixtures with sliding windows and RoPE variants. Runs on a
 * GPU machine; skipped elsewhere with the probe's reason.
 */
class CudaDecodeGraphTest {

    private static CudaBackend open(boolean graphs) {
        String old = System.getProperty("isthmus.cuda.graphs");
        System.setProperty("isthmus.cuda.graphs", Boolean.toString(graphs));
        try {
            return new CudaBackend();
        } finally {
            if (old == null) {
                System.clearProperty("isthmus.cuda.graphs");
            } else {
                System.setProperty("isthmus.cuda.graphs", old);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "gemma3", "qwen3", "olmo3"})
    void replayedStepsEqualDirectOnes(String name) throws Exception {
        var probe = new CudaBackendProvider().probe();
        assumeTrue(probe.available(), "CudaDecodeGraphTest skipped: " + probe.reason());
        Path dir = Path.of(CudaDecodeGraphTest.class.getResource("/fixtures").toURI()).resolve(name);
        int steps = 24;
        int[][] tokens = new int[2][];
        float[][][] logits = new float[2][][];
        long[] replays = new long[2];
        for (int mode = 0; mode < 2; mode++) {
            try (CudaBackend backend = open(mode == 1); DenseModel m = DenseModel.load(dir, backend, 4)) {
                int vocab = m.spec().vocab();
                try (DenseModel.Session a = m.newSession(64, KvType.F16);
                        DenseModel.Session b = m.newSession(64, KvType.F32)) {
                    int ta = a.next(new int[] {1, 5, 9, 2, 7});
                    int tb = b.next(new int[] {3});
                    int[] out = new int[2 * steps];
                    float[][] seen = new float[steps][];
                    for (int i = 0; i < steps; i++) {
                        float[] l = new float[vocab];
                        ta = a.next(new int[] {ta}, l);   // logits read: one recording
                        tb = b.next(new int[] {tb});      // argmax only: another
                        out[2 * i] = ta;
                        out[2 * i + 1] = tb;
                        seen[i] = l;
                    }
                    tokens[mode] = out;
                    logits[mode] = seen;
                }
                replays[mode] = backend.graphReplays();
                if (mode == 1) {
                    // a: the prompt's last chunk (argmax only) and the logits steps; b: its argmax steps
                    assertEquals(3, backend.graphCaptures(), name + ": one capture per session and kind of step");
                }
            }
        }
        assertEquals(0, replays[0], "graphs off: nothing replayed");
        assertTrue(replays[1] >= 2L * steps - 4, name + ": replays " + replays[1]);
        assertArrayEquals(tokens[0], tokens[1], name + ": tokens with and without graphs");
        for (int i = 0; i < steps; i++) {
            assertArrayEquals(logits[0][i], logits[1][i], name + ": logits of step " + i);
        }
    }
}
