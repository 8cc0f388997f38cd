package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.Availability;

import java.util.List;
import java.util.Objects;

/**
 * The result of probing the CUDA runtime and its devices.
 *
 * @param availability   available when at least one device can be used; otherwise why not (for a
 *                       failing call: {@code "<cudaGetErrorName>: <cudaGetErrorString>"})
 * @param runtimeVersion {@code cudaRuntimeGetVersion}, e.g. 13000; 0 when libcudart did not load
 * @param driverVersion  {@code cudaDriverGetVersion}, e.g. 13000; 0 when there is no driver
 * @param devices        the devices, empty when unavailable
 */
public record CudaProbe(Availability availability, int runtimeVersion, int driverVersion, List<CudaDeviceInfo> devices) {
    public CudaProbe {
        Objects.requireNonNull(availability, "availability");
        devices = List.copyOf(devices);
    }

    /** Whether CUDA can be used. */
    public boolean available() {
        return availability.available();
    }

    /** A CUDA version number such as 12040 as {@code 12.4}. */
    public static String versionString(int version) {
        return version <= 0 ? "none" : (version / 1000) + "." + (version % 1000) / 10;
    }
}
