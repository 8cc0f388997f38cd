package dev.isthmus.kernels.gpu;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.cuda.CudaDeviceInfo;
import dev.isthmus.nativebindings.cuda.CudaDevices;
import dev.isthmus.nativebindings.cuda.CudaProbe;
import dev.isthmus.nativebindings.cuda.IsthmusCudaLibrary;
import java.util.stream.Collectors;

/**
 * The CUDA backend's entry in the probe and its factory. Available when the CUDA runtime finds a
 * device of compute capability 8.0 or newer (the kernels are built for sm_80 and sm_90, with PTX for
 * newer GPUs) and our kernel library loads; otherwise unavailable with the reason (no library, no
 * driver, no GPU, an old GPU, or {@code no kernels (built without nvcc)}).
 */
public final class CudaBackendProvider implements BackendProvider {
    /** The oldest compute capability the kernels are built for, as major*10 + minor. */
    static final int MIN_COMPUTE = 80;

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return 10;
    }

    @Override
    public Availability probe() {
        return Probe.RESULT;
    }

    private static final class Probe {
        static final Availability RESULT = compute();
    }

    private static Availability compute() {
        try {
            CudaProbe p = CudaDevices.probe();
            if (!p.available()) {
                return Availability.no(p.availability().reason());
            }
            String gpus = p.devices().stream().map(CudaDeviceInfo::toString).collect(Collectors.joining(", "));
            CudaDeviceInfo first = p.devices().getFirst();
            if (first.computeMajor() * 10 + first.computeMinor() < MIN_COMPUTE) {
                return Availability.no("device 0 has compute capability " + first.computeMajor() + "." + first.computeMinor()
                        + "; the kernels need 8.0 or newer (found " + gpus + ")");
            }
            Availability kernels = IsthmusCudaLibrary.availability();
            if (!kernels.available()) {
                return Availability.no(kernels.reason() + " (found " + gpus + ")");
            }
            return Availability.yes(gpus + "; kernels " + kernels.reason());
        } catch (RuntimeException | LinkageError e) {
            return Availability.no("CUDA probe failed: " + e);
        }
    }

    @Override
    public long memoryBytes() {
        return CudaDevices.probe().devices().stream().mapToLong(CudaDeviceInfo::freeMemoryBytes).max().orElse(-1);
    }

    /**
     * Opens a {@link CudaBackend} on device 0.
     *
     * @param threads ignored (the device does the work)
     * @throws UnsupportedOperationException with the probe's reason when CUDA cannot compute here
     */
    @Override
    public Backend open(int threads) {
        Availability a = probe();
        if (!a.available()) {
            throw new UnsupportedOperationException("backend cuda cannot compute: " + a.reason());
        }
        return new CudaBackend();
    }
}
