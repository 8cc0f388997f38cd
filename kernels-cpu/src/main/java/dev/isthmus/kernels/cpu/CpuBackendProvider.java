package dev.isthmus.kernels.cpu;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.dnnl.Dnnl;
import dev.isthmus.nativebindings.dnnl.DnnlLibrary;
import jdk.incubator.vector.FloatVector;

/**
 * The CPU backend's entry in the probe. The CPU is always available (it is the floor every
 * other backend falls back to); what it reports is what it will compute with: oneDNN (with its
 * effective ISA) when the library loads, and the Vector API's SIMD width.
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
        String vec = "Java Vector API (" + preferredVectorBits() + "-bit)";
        Availability dnnl = DnnlLibrary.availability();
        String threads = Runtime.getRuntime().availableProcessors() + " hardware threads";
        if (!dnnl.available()) {
            return Availability.yes(vec + " only, " + threads + "; oneDNN unavailable: " + dnnl.reason());
        }
        String isa;
        try {
            isa = Dnnl.version() + ", ISA " + Dnnl.effectiveCpuIsaName();
        } catch (RuntimeException | LinkageError e) {
            return Availability.yes(vec + " only, " + threads + "; oneDNN loaded but failed: " + e);
        }
        return Availability.yes("oneDNN " + isa + " and " + vec + ", " + threads);
    }

    @Override
    public long memoryBytes() {
        return Runtime.getRuntime().maxMemory();
    }

    @Override
    public dev.isthmus.memory.backend.Backend open(int threads) {
        return new CpuBackend(threads);
    }

    /** Bit width of the Vector API's preferred float species on this CPU (e.g. 256 for AVX2). */
    public static int preferredVectorBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
