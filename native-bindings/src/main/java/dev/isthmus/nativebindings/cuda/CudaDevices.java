package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.NativeLibraryLoader;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static dev.isthmus.nativebindings.cuda.CudaRuntime.*;

/**
 * Probes the CUDA runtime and the devices it sees. Never throws: a missing library, driver or device
 * is an unavailable {@link CudaProbe} with the reason, logged once.
 */
public final class CudaDevices {
    private CudaDevices() {}

    private static final class Holder {
        static final CudaProbe PROBE = probeNow(CudaRuntimeLibrary.availability());
    }

    /**
     * The process-wide probe, computed once (it creates a context on each device to read its free
     * memory, and leaves device 0 current).
     */
    public static CudaProbe probe() {
        return Holder.PROBE;
    }

    /**
     * Probes with a given libcudart without touching the cached library result (for tests and tools):
     * loads {@code override} when present, otherwise searches as {@link CudaRuntimeLibrary} does, and
     * reports an unavailable probe naming the file when that fails. When it loads, the devices are
     * queried through the process-wide {@link CudaRuntime} binding (to bind a specific file for the
     * whole process, set {@code -Disthmus.cudart.path} at startup).
     */
    public static CudaProbe probe(java.util.Optional<java.nio.file.Path> override) {
        LibraryLoad load = CudaRuntimeLibrary.locate(override);
        if (!load.available()) {
            return new CudaProbe(load.availability(), 0, 0, List.of());
        }
        return probe();
    }

    private static CudaProbe probeNow(Availability library) {
        CudaProbe probe;
        try {
            probe = library.available() ? query() : new CudaProbe(library, 0, 0, List.of());
        } catch (CudaException e) {
            probe = new CudaProbe(Availability.no(e.errorName() + ": " + cudaGetErrorStringSafe(e)), 0, 0, List.of());
        } catch (RuntimeException | LinkageError e) {
            probe = new CudaProbe(Availability.no("CUDA probe failed: " + e), 0, 0, List.of());
        }
        NativeLibraryLoader.logUnavailable("CUDA", probe.availability());
        return probe;
    }

    private static String cudaGetErrorStringSafe(CudaException e) {
        try {
            return CudaRuntime.cudaGetErrorString(e.error());
        } catch (RuntimeException ex) {
            return e.getMessage();
        }
    }

    private static CudaProbe query() {
        int runtime = cudaRuntimeGetVersion();
        int driver = cudaDriverGetVersion();
        int count;
        try {
            count = cudaGetDeviceCount();
        } catch (CudaException e) {
            return new CudaProbe(Availability.no(e.errorName() + ": " + cudaGetErrorString(e.error())), runtime, driver, List.of());
        }
        if (count <= 0) {
            return new CudaProbe(Availability.no("no CUDA device"), runtime, driver, List.of());
        }
        List<CudaDeviceInfo> devices = new ArrayList<>();
        for (int d = 0; d < count; d++) {
            int memClock = cudaDeviceGetAttribute(cudaDevAttrMemoryClockRate, d);
            int bus = cudaDeviceGetAttribute(cudaDevAttrGlobalMemoryBusWidth, d);
            cudaSetDevice(d);
            long[] mem = cudaMemGetInfo();
            devices.add(new CudaDeviceInfo(d, deviceName(d),
                    cudaDeviceGetAttribute(cudaDevAttrComputeCapabilityMajor, d),
                    cudaDeviceGetAttribute(cudaDevAttrComputeCapabilityMinor, d),
                    cudaDeviceGetAttribute(cudaDevAttrMultiProcessorCount, d),
                    mem[1], mem[0], memClock, bus,
                    cudaDeviceGetAttribute(cudaDevAttrL2CacheSize, d),
                    cudaDeviceGetAttribute(cudaDevAttrClockRate, d),
                    CudaDeviceInfo.peakBandwidth(memClock, bus)));
        }
        cudaSetDevice(0);
        String what = devices.stream().map(CudaDeviceInfo::toString).collect(Collectors.joining("; "))
                + "; driver " + CudaProbe.versionString(driver) + ", runtime " + CudaProbe.versionString(runtime);
        return new CudaProbe(Availability.yes(what), runtime, driver, devices);
    }
}
