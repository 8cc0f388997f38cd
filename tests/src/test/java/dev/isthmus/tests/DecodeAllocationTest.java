package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.kernels.cpu.CpuBackend;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.model.DenseModel;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The decode loop does not allocate on the heap: after warm-up, one-token steps of {@link DenseModel}
 * on the CPU backend allocate (almost) nothing on the calling thread. A few bytes a step are
 * tolerated for the KV cache's block tables, which grow once per 16-token block.
 */
class DecodeAllocationTest {
    @Test
    void decodeStepsAllocateAlmostNothing() throws Exception {
        var threadBean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        for (String family : new String[] {"llama3", "gemma3", "qwen2"}) {
            try (CpuBackend backend = new CpuBackend(1);
                 DenseModel m = DenseModel.load(FixtureIntegrityTest.root().resolve(family), backend)) {
                // warm-up until the JIT has compiled the kernels (interpreted Vector API code boxes):
                // at least 2,500 steps and 4 s, then the best of several measurements
                long until = System.nanoTime() + 4_000_000_000L;
                for (int w = 0; w < 25 || System.nanoTime() < until; w++) {
                    try (DenseModel.Session s = m.newSession(100, KvType.F16)) {
                        int[] step = {1};
                        for (int i = 0; i < 100; i++) {
                            step[0] = s.next(step);
                        }
                    }
                }
                long best = Long.MAX_VALUE;
                for (int round = 0; round < 10 && best >= 256; round++) {
                    best = Math.min(best, measure(m, threadBean, tid));
                }
                System.out.printf("%-8s decode step allocates %d bytes%n", family, best);
                assertTrue(best < 256, family + ": " + best + " bytes allocated per decode step");
            }
        }
    }

    private static long measure(DenseModel m, com.sun.management.ThreadMXBean threadBean, long tid) {
        {
            try (DenseModel.Session s = m.newSession(120, KvType.F16)) {
                int[] step = {1};
                for (int i = 0; i < 40; i++) {
                    step[0] = s.next(step);
                }
                int steps = 64;
                long before = threadBean.getThreadAllocatedBytes(tid);
                for (int i = 0; i < steps; i++) {
                    step[0] = s.next(step);
                }
                return (threadBean.getThreadAllocatedBytes(tid) - before) / steps;
            }
        }
    }
}
