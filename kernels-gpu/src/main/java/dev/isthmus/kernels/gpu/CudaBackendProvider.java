package dev.isthmus.kernels.gpu;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.cuda.CudaDeviceInfo;
import dev.isthmus.nativebindings.cuda.CudaDevices;
import dev.isthmus.nativebindings.cuda.CudaProbe;
import java.util.stream.Collectors;

/**
 * The CUDA backend's entry in the probe. It asks the CUDA runtime for devices (no library, no
 * driver or no GPU is an unavailable backend with that reason). The backend's kernels are not part
 * of this build yet, so even with a GPU present it reports itself unavailable, naming the GPUs it
 * found.
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
        CudaProbe p = CudaDevices.probe();
        if (!p.available()) {
            return Availability.no(p.availability().reason());
        }
        String gpus = p.devices().stream().map(CudaDeviceInfo::toString).collect(Collectors.joining(", "));
        return Availability.no("no kernels: the CUDA backend is not implemented in this build yet (found " + gpus + ")");
    }

    @Override
    public long memoryBytes() {
        return CudaDevices.probe().devices().stream().mapToLong(CudaDeviceInfo::freeMemoryBytes).max().orElse(-1);
    }
}
