package dev.isthmus.kernels.gpu;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;

/**
 * The CUDA backend's entry in the probe. Its kernels are not part of this build yet, so it reports
 * itself unavailable with that reason; the probe still lists the GPUs it finds through cudart.
 */
public final class CudaBackendProvider implements BackendProvider {
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
        return Availability.no("no kernels: the CUDA backend is not implemented in this build yet");
    }
}
