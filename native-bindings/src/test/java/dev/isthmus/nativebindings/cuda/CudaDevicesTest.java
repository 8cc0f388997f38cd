package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.Availability;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** CUDA probe tests that hold with or without a GPU. */
class CudaDevicesTest {
    @Test
    void probeNeverThrowsAndExplainsItself() {
        CudaProbe probe = CudaDevices.probe();
        assertNotNull(probe);
        assertSame(probe, CudaDevices.probe(), "cached");
        assertFalse(probe.availability().reason().isBlank());
        if (!probe.available()) {
            assertTrue(probe.devices().isEmpty());
        } else {
            assertFalse(probe.devices().isEmpty());
        }
        System.out.println("CUDA probe: " + probe.availability() + ", runtime "
                + CudaProbe.versionString(probe.runtimeVersion()) + ", driver " + CudaProbe.versionString(probe.driverVersion()));
    }

    @Test
    void withoutAUsableDriverTheReasonIsTheCudaError() {
        Availability lib = CudaRuntimeLibrary.availability();
        assumeTrue(lib.available(), "libcudart not found here: " + lib.reason());
        CudaProbe probe = CudaDevices.probe();
        assumeFalse(probe.available(), "a CUDA device is present; covered by CudaGpuTest");
        // e.g. "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"
        assertTrue(probe.availability().reason().matches("cudaError\\w+: .+"), probe.availability().reason());
        assertTrue(probe.runtimeVersion() >= 12000, "runtime " + probe.runtimeVersion());
    }

    @Test
    void callsWithoutADeviceThrowCudaExceptionNamingTheCall() {
        assumeTrue(CudaRuntimeLibrary.availability().available(), "libcudart not found");
        assumeFalse(CudaDevices.probe().available(), "a CUDA device is present");
        CudaException e = assertThrows(CudaException.class, () -> CudaRuntime.cudaMalloc(1 << 20));
        assertEquals("cudaMalloc", e.call());
        assertTrue(e.errorName().startsWith("cudaError"), e.errorName());
        assertTrue(e.getMessage().startsWith("cudaMalloc failed: cudaError"), e.getMessage());
    }

    @Test
    void errorNamesAndStrings() {
        assumeTrue(CudaRuntimeLibrary.availability().available(), "libcudart not found");
        assertEquals("cudaSuccess", CudaRuntime.cudaGetErrorName(CudaRuntime.cudaSuccess));
        assertEquals("cudaErrorInsufficientDriver", CudaRuntime.cudaGetErrorName(CudaRuntime.cudaErrorInsufficientDriver));
        assertEquals("cudaErrorNoDevice", CudaRuntime.cudaGetErrorName(CudaRuntime.cudaErrorNoDevice));
        assertEquals("cudaErrorMemoryAllocation", CudaRuntime.cudaGetErrorName(CudaRuntime.cudaErrorMemoryAllocation));
        assertFalse(CudaRuntime.cudaGetErrorString(CudaRuntime.cudaErrorNoDevice).isBlank());
        assertTrue(CudaRuntime.cudaRuntimeGetVersion() >= 12000);
    }

    @Test
    void overrideToAMissingFileIsUnavailableNamingIt() {
        Path missing = Path.of("/nonexistent/isthmus-test/libcudart.so.99");
        CudaProbe probe = CudaDevices.probe(Optional.of(missing));
        assertFalse(probe.available());
        assertTrue(probe.availability().reason().contains(missing.toString()), probe.availability().reason());
        assertTrue(probe.availability().reason().contains(CudaRuntimeLibrary.PATH_PROPERTY), probe.availability().reason());
    }

    @Test
    void overrideToANonLibraryIsUnavailable() throws Exception {
        Path bogus = Files.createTempFile("isthmus-not-a-library", ".so");
        try {
            Files.writeString(bogus, "not an ELF file");
            CudaProbe probe = CudaDevices.probe(Optional.of(bogus));
            assertFalse(probe.available());
            assertTrue(probe.availability().reason().contains(bogus.toString()), probe.availability().reason());
        } finally {
            Files.deleteIfExists(bogus);
        }
    }

    @Test
    void peakBandwidthFormula() {
        // H100 SXM: 2619 MHz HBM3, 5120-bit bus -> 2 * 2.619e9 * 640 B = 3.35 TB/s
        assertEquals(3_352_320_000_000L, CudaDeviceInfo.peakBandwidth(2_619_000, 5120));
        assertEquals("13.0", CudaProbe.versionString(13000));
        assertEquals("12.4", CudaProbe.versionString(12040));
    }
}
