package dev.isthmus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CpuInfoTest {
    private static String proc(int physicalId, int core, String flags) {
        return "processor\t: 0\nmodel name\t: Test CPU 9000\nphysical id\t: " + physicalId
                + "\ncore id\t\t: " + core + "\nflags\t\t: " + flags + "\n\n";
    }

    @Test
    void countsDistinctPhysicalCoresAndNamesTheIsa() {
        String text = proc(0, 0, "fpu sse avx2 fma f16c") + proc(0, 0, "fpu sse avx2 fma f16c")
                + proc(0, 1, "fpu sse avx2 fma f16c") + proc(0, 1, "fpu sse avx2 fma f16c");
        CpuInfo c = CpuInfo.parse(text, 4, "amd64");
        assertEquals("Test CPU 9000", c.model());
        assertEquals(2, c.physicalCores());
        assertEquals(4, c.logicalCpus());
        assertEquals(List.of("AVX2", "FMA", "F16C"), c.isa());
    }

    @Test
    void avx512AndAmxAreReported() {
        CpuInfo c = CpuInfo.parse(proc(0, 0, "avx2 avx512f avx512_bf16 amx_tile amx_bf16"), 1, "amd64");
        assertTrue(c.isa().containsAll(List.of("AVX512F", "AVX512_BF16", "AMX")));
    }

    @Test
    void containerLimitsCapTheCoreCount() {
        String text = proc(0, 0, "avx2") + proc(0, 1, "avx2") + proc(0, 2, "avx2") + proc(0, 3, "avx2");
        assertEquals(2, CpuInfo.parse(text, 2, "amd64").physicalCores());
    }

    @Test
    void armWithoutFlagsStillHasNeon() {
        CpuInfo c = CpuInfo.parse("processor : 0\nBogoMIPS : 50\n", 8, "aarch64");
        assertEquals(List.of("NEON"), c.isa());
        assertEquals("unknown", c.model());
    }

    @Test
    void detectNeverThrowsAndIsConsistent() {
        CpuInfo c = CpuInfo.detect();
        assertTrue(c.physicalCores() >= 1 && c.physicalCores() <= c.logicalCpus());
    }
}
