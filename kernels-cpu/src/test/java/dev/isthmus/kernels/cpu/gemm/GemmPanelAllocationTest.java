package dev.isthmus.kernels.cpu.gemm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Steady-state allocation of the panel paths: once the workers' scratch buffers have grown to the
 * shape and C2 has compiled the decoders and the micro-kernel, a call allocates nothing on the
 * calling thread or on the workers. Runs in its own JVM (surefire {@code reuseForks=false}).
 */
class GemmPanelAllocationTest {

    @Test
    void allocatesNothingPerCallAfterWarmUp() throws Exception {
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocated = Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getThreadAllocatedBytes", long[].class);
        List<Gemm.Policy> policies = new ArrayList<>(List.of(Gemm.Policy.PANELS_VECTOR));
        if (Gemm.onednnAvailable()) {
            policies.add(Gemm.Policy.PANELS_ONEDNN);
        }
        StringBuilder report = new StringBuilder();
        for (Gemm.Policy policy : policies) {
            try (Gemm gemm = new Gemm(policy, null, 4, 2, 16 * 1024); Arena arena = Arena.ofShared()) {
                for (GgmlType type : List.of(GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.F16, GgmlType.Q5_1)) {
                    int m = 8;
                    int k = 512;
                    int n = 96;
                    SplittableRandom rnd = new SplittableRandom(type.ordinal());
                    byte[] wb = GemmPanelTest.weights(type, n, k, rnd);
                    MemorySegment w = arena.allocate(wb.length);
                    MemorySegment.copy(MemorySegment.ofArray(wb), 0, w, 0, wb.length);
                    MemorySegment x = arena.allocate(4L * m * k);
                    MemorySegment.copy(MemorySegment.ofArray(GemmPanelTest.floats(m * k, rnd)), 0, x, 0, 4L * m * k);
                    MemorySegment y = arena.allocate(4L * m * n);
                    for (int i = 0; i < 3000; i++) {   // warm up: C2 compiles the decoder and the kernel
                        gemm.gemm(type, w, m, k, n, x, y);
                    }
                    long[] ids = threads();
                    int calls = 500;
                    double perCall = Double.MAX_VALUE;
                    for (int round = 0; round < 6 && perCall >= 16; round++) {
                        long before = sum((long[]) allocated.invoke(mx, (Object) ids));
                        for (int i = 0; i < calls; i++) {
                            gemm.gemm(type, w, m, k, n, x, y);
                        }
                        long after = sum((long[]) allocated.invoke(mx, (Object) ids));
                        perCall = Math.min(perCall, (after - before) / (double) calls);
                    }
                    report.append(policy).append(' ').append(type).append('=').append(perCall).append(' ');
                    assertTrue(perCall < 16, policy + " " + type + " allocates " + perCall + " bytes per call; " + report);
                }
            }
        }
        System.out.println("panel gemm bytes allocated per call: " + report);
    }

    /** The calling thread and the live panel workers. */
    private static long[] threads() {
        List<Long> ids = new ArrayList<>();
        ids.add(Thread.currentThread().threadId());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("isthmus-gemm-") && t.isAlive()) {
                ids.add(t.threadId());
            }
        }
        assertTrue(ids.size() >= 3, "two workers running: " + ids);
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long a : v) {
            s += Math.max(0, a);
        }
        return s;
    }
}
