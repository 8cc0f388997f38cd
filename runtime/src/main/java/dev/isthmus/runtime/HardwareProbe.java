package dev.isthmus.runtime;

import com.sun.management.OperatingSystemMXBean;
import dev.isthmus.kernels.cpu.CpuBackendProvider;
import dev.isthmus.kernels.cpu.MemoryBandwidth;
import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.cuda.CudaDevices;
import dev.isthmus.nativebindings.cuda.CudaProbe;
import dev.isthmus.nativebindings.dnnl.Dnnl;
import dev.isthmus.nativebindings.dnnl.DnnlLibrary;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What this machine offers for inference, and which backend Isthmus chooses on it. Probed once
 * per process ({@link #get()}); every native part reports its own unavailability instead of
 * throwing, so the probe itself never fails. The memory bandwidth is measured separately
 * ({@link #measureBandwidth()}), since it takes about a second.
 *
 * @param cpu              the CPU
 * @param vectorBits       the Vector API's preferred vector width in bits
 * @param totalMemoryBytes physical memory, or -1 when unknown
 * @param onednn           whether oneDNN loaded, with its version and ISA when it did
 * @param cuda             the CUDA runtime, driver and devices
 * @param choice           the backend Isthmus would choose, and why
 */
public record HardwareProbe(CpuInfo cpu, int vectorBits, long totalMemoryBytes, OneDnn onednn, CudaProbe cuda,
                            BackendChoice choice) {

    /**
     * oneDNN as the probe saw it.
     *
     * @param availability loaded or not, and why
     * @param version      e.g. {@code 3.13.0 (hash, cpu runtime OMP)}, or null
     * @param isa          the effective CPU ISA oneDNN dispatches to, e.g. {@code AVX2}, or null
     */
    public record OneDnn(Availability availability, String version, String isa) {
    }

    private static volatile HardwareProbe cached;

    /** The probe of this machine, made on first use and then reused. */
    public static HardwareProbe get() {
        HardwareProbe p = cached;
        if (p == null) {
            synchronized (HardwareProbe.class) {
                if (cached == null) {
                    cached = detect();
                }
                p = cached;
            }
        }
        return p;
    }

    /** Probes afresh (the backend choice honours {@code -Disthmus.backend}). */
    public static HardwareProbe detect() {
        CpuInfo cpu = CpuInfo.detect();
        long mem = -1;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            mem = os.getTotalMemorySize();
        }
        return new HardwareProbe(cpu, CpuBackendProvider.preferredVectorBits(), mem, probeOneDnn(), CudaDevices.probe(),
                BackendChoice.choose());
    }

    private static OneDnn probeOneDnn() {
        Availability a = DnnlLibrary.availability();
        if (!a.available()) {
            return new OneDnn(a, null, null);
        }
        try {
            return new OneDnn(a, Dnnl.version().toString(), Dnnl.effectiveCpuIsaName());
        } catch (RuntimeException | LinkageError e) {
            return new OneDnn(Availability.no("loaded, but querying it failed: " + e), null, null);
        }
    }

    /** Measures read bandwidth with one thread per physical core over 512 MiB (about a second). */
    public MemoryBandwidth.Result measureBandwidth() {
        long bytes = 512L << 20;
        if (totalMemoryBytes > 0) {
            bytes = Math.min(bytes, totalMemoryBytes / 8);
        }
        return MemoryBandwidth.measure(cpu.physicalCores(), bytes, 3);
    }

    /** The probe as a JSON-ready map (what {@code isthmus probe --json} prints, without bandwidth). */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model", cpu.model());
        c.put("arch", cpu.arch());
        c.put("physical_cores", cpu.physicalCores());
        c.put("logical_cpus", cpu.logicalCpus());
        c.put("isa", cpu.isa());
        c.put("vector_bits", vectorBits);
        out.put("cpu", c);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("total_bytes", totalMemoryBytes);
        out.put("memory", m);
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("available", onednn.availability().available());
        d.put("reason", onednn.availability().reason());
        d.put("version", onednn.version());
        d.put("isa", onednn.isa());
        out.put("onednn", d);
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("available", cuda.available());
        g.put("reason", cuda.availability().reason());
        g.put("driver_version", cuda.driverVersion() > 0 ? CudaProbe.versionString(cuda.driverVersion()) : null);
        g.put("runtime_version", cuda.runtimeVersion() > 0 ? CudaProbe.versionString(cuda.runtimeVersion()) : null);
        g.put("devices", cuda.devices().stream().map(x -> {
            Map<String, Object> dev = new LinkedHashMap<>();
            dev.put("index", x.index());
            dev.put("name", x.name());
            dev.put("compute_capability", x.computeMajor() + "." + x.computeMinor());
            dev.put("sm_count", x.smCount());
            dev.put("memory_bytes", x.totalMemoryBytes());
            dev.put("free_bytes", x.freeMemoryBytes());
            dev.put("memory_clock_khz", x.memoryClockKHz());
            dev.put("bus_width_bits", x.busWidthBits());
            dev.put("peak_bandwidth_gbps", Math.round(x.peakBandwidthBytesPerSec() / 1e8) / 10.0);
            return dev;
        }).toList());
        out.put("cuda", g);
        out.put("backends", choice.statuses().stream().map(s -> {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("name", s.name());
            b.put("available", s.availability().available());
            b.put("reason", s.availability().reason());
            return b;
        }).toList());
        Map<String, Object> ch = new LinkedHashMap<>();
        ch.put("name", choice.backend());
        ch.put("reason", choice.reason());
        out.put("backend", ch);
        return out;
    }

    /** The backend names found, in priority order. */
    public List<String> backendNames() {
        return choice.statuses().stream().map(BackendChoice.Status::name).toList();
    }
}
