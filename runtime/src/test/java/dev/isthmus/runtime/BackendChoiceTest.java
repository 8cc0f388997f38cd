package dev.isthmus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackendChoiceTest {
    record Fake(String name, int priority, Availability probe, long memoryBytes) implements BackendProvider {
    }

    static final Fake CPU = new Fake("cpu", 0, Availability.yes("Vector API 256-bit"), 1L << 34);
    static final Fake GPU_OK = new Fake("cuda", 10, Availability.yes("H100, sm_90"), 80L << 30);
    static final Fake GPU_MISSING = new Fake("cuda", 10, Availability.no("no libcudart found"), -1);

    @Test
    void prefersTheHighestPriorityAvailableBackend() {
        BackendChoice c = BackendChoice.choose(List.of(CPU, GPU_OK), null, -1);
        assertEquals("cuda", c.backend());
        assertEquals("cuda", c.statuses().get(0).name());
    }

    @Test
    void fallsBackWithTheReasonWhenAGpuIsMissing() {
        BackendChoice c = BackendChoice.choose(List.of(CPU, GPU_MISSING), null, -1);
        assertEquals("cpu", c.backend());
        assertTrue(c.reason().contains("cuda unavailable (no libcudart found)"), c.reason());
    }

    @Test
    void skipsAGpuThatCannotHoldTheModel() {
        BackendChoice c = BackendChoice.choose(List.of(CPU, GPU_OK), null, 100L << 30);
        assertEquals("cpu", c.backend());
        assertTrue(c.reason().contains("cuda too small"), c.reason());
    }

    @Test
    void overrideForcesAChoiceAndRefusesAnUnavailableOne() {
        assertEquals("cpu", BackendChoice.choose(List.of(CPU, GPU_OK), "CPU", -1).backend());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> BackendChoice.choose(List.of(CPU, GPU_MISSING), "cuda", -1));
        assertTrue(e.getMessage().contains("no libcudart found"));
        assertThrows(IllegalArgumentException.class, () -> BackendChoice.choose(List.of(CPU), "tpu", -1));
    }

    @Test
    void aThrowingProbeIsAnUnavailableBackendNotACrash() {
        BackendProvider throwing = new BackendProvider() {
            public String name() { return "cuda"; }
            public int priority() { return 10; }
            public Availability probe() { throw new UnsatisfiedLinkError("libcuda.so.1"); }
        };
        BackendChoice c = BackendChoice.choose(List.of(CPU, throwing), null, -1);
        assertEquals("cpu", c.backend());
        assertTrue(c.reason().contains("probe failed"), c.reason());
    }

    @Test
    void theRealProvidersAreFoundAndTheCpuIsChosenOnAMachineWithoutGpu() {
        List<BackendProvider> real = BackendChoice.providers();
        assertTrue(real.stream().anyMatch(p -> p.name().equals("cpu")), "cpu provider via ServiceLoader");
        assertTrue(real.stream().anyMatch(p -> p.name().equals("cuda")), "cuda provider via ServiceLoader");
    }
}
