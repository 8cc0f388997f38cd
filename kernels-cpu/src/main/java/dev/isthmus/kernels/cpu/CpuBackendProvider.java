package dev.isthmus.kernels.cpu;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;
import jdk.incubator.vector.FloatVector;

/**
 * The CPU backend's entry in the probe. The CPU is always available (it is the floor every
 * other backend falls back to); what it reports is the SIMD width the Vector API will use.
 */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Availability probe() {
        return Availability.yes("Java Vector API, " + preferredVectorBits() + "-bit vectors, "
                + Runtime.getRuntime().availableProcessors() + " hardware threads");
    }

    @Override
    public long memoryBytes() {
        return Runtime.getRuntime().maxMemory();
    }

    /** Bit width of the Vector API's preferred float species on this CPU (e.g. 256 for AVX2). */
    public static int preferredVectorBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
