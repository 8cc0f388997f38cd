package dev.isthmus.cli;

import dev.isthmus.kernels.cpu.MemoryBandwidth;
import dev.isthmus.nativebindings.cuda.CudaDeviceInfo;
import dev.isthmus.nativebindings.cuda.CudaProbe;
import dev.isthmus.runtime.HardwareProbe;
import dev.isthmus.runtime.ModelInspection;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code isthmus probe [--json] [--no-bandwidth]}. */
@Command(name = "probe",
        mixinStandardHelpOptions = true,
        description = {
            "Shows what this machine offers for inference: CPU model, cores and ISA, the Vector API width, RAM, "
                    + "measured memory read bandwidth, oneDNN's version and ISA, the CUDA driver, runtime and GPUs "
                    + "— then the backend Isthmus would choose, and why, in one line.",
            "-Disthmus.backend=cpu|cuda (through ISTHMUS_JAVA_OPTS) forces a backend."})
final class ProbeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object (keys cpu, memory, onednn, cuda, backends, backend).")
    boolean json;

    @Option(names = "--no-bandwidth", description = "Skip the memory-bandwidth measurement (about a second).")
    boolean noBandwidth;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        HardwareProbe p = HardwareProbe.get();
        MemoryBandwidth.Result bw = noBandwidth ? null : p.measureBandwidth();
        if (json) {
            Map<String, Object> j = p.toJson();
            if (bw != null) {
                @SuppressWarnings("unchecked")
                Map<String, Object> mem = (Map<String, Object>) j.get("memory");
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("read_gbps", Math.round(bw.gigabytesPerSecond() * 10) / 10.0);
                b.put("threads", bw.threads());
                b.put("buffer_bytes", bw.bufferBytes());
                mem.put("bandwidth", b);
            }
            out.println(Json.pretty(j));
            return 0;
        }
        var cpu = p.cpu();
        out.printf("cpu:        %s — %d cores, %d threads, %s%s%n", cpu.model(), cpu.physicalCores(), cpu.logicalCpus(),
                cpu.arch(), cpu.isa().isEmpty() ? "" : ", " + String.join(" ", cpu.isa()));
        out.printf("vector api: %d-bit vectors (%d floats)%n", p.vectorBits(), p.vectorBits() / 32);
        out.printf("memory:     %s%s%n", p.totalMemoryBytes() > 0 ? ModelInspection.human(p.totalMemoryBytes()) : "unknown",
                bw == null ? "" : String.format(Locale.ROOT, ", read bandwidth %.1f GB/s (%d threads, %s)",
                        bw.gigabytesPerSecond(), bw.threads(), ModelInspection.human(bw.bufferBytes())));
        var d = p.onednn();
        out.printf("onednn:     %s%n", d.availability().available() ? d.version() + ", ISA " + d.isa()
                : "unavailable: " + d.availability().reason());
        CudaProbe c = p.cuda();
        out.printf("cuda:       %s%n", c.available()
                ? "driver " + CudaProbe.versionString(c.driverVersion()) + ", runtime " + CudaProbe.versionString(c.runtimeVersion())
                : "unavailable: " + c.availability().reason());
        for (CudaDeviceInfo g : c.devices()) {
            out.printf("  gpu %d:    %s, %s, %d SMs, %s (%s free), peak %.0f GB/s%n", g.index(), g.name(), g.smArch(), g.smCount(),
                    ModelInspection.human(g.totalMemoryBytes()), ModelInspection.human(g.freeMemoryBytes()),
                    g.peakBandwidthBytesPerSec() / 1e9);
        }
        out.printf("backend:    %s — %s%n", p.choice().backend(), p.choice().reason());
        return 0;
    }
}
