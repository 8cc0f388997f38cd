package dev.isthmus.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What the CPU is: model name, physical cores, hardware threads and the SIMD extensions that
 * matter for inference kernels. Read from {@code /proc/cpuinfo} on Linux; elsewhere only what the
 * JVM knows is filled in and the model is "unknown".
 *
 * @param model         the CPU's marketing name, or "unknown"
 * @param physicalCores distinct physical cores (hardware threads when that cannot be told)
 * @param logicalCpus   hardware threads available to this JVM
 * @param arch          {@code os.arch}
 * @param isa           SIMD extensions found, among AVX2, FMA, F16C, AVX512F, AVX512_BF16, AVX512_VNNI, AVX_VNNI, AMX (x86) and NEON, SVE, DOTPROD (arm64)
 */
public record CpuInfo(String model, int physicalCores, int logicalCpus, String arch, List<String> isa) {
    public CpuInfo {
        isa = List.copyOf(isa);
    }

    /** Reads the facts of the machine this JVM runs on. Never throws. */
    public static CpuInfo detect() {
        int logical = Runtime.getRuntime().availableProcessors();
        String arch = System.getProperty("os.arch", "unknown");
        Path proc = Path.of("/proc/cpuinfo");
        if (Files.isReadable(proc)) {
            try {
                return parse(Files.readString(proc), logical, arch);
            } catch (IOException | RuntimeException e) {
                // fall through to what the JVM knows
            }
        }
        return new CpuInfo("unknown", logical, logical, arch, List.of());
    }

    /** Parses the text of {@code /proc/cpuinfo}; {@code logical} caps the core count (containers). */
    static CpuInfo parse(String cpuinfo, int logical, String arch) {
        String model = null;
        Set<String> flags = new HashSet<>();
        Set<String> cores = new HashSet<>();
        String physicalId = "0";
        String coreId = null;
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                if (line.isBlank() && coreId != null) {
                    cores.add(physicalId + "/" + coreId);
                    coreId = null;
                }
                continue;
            }
            String key = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            switch (key) {
                case "model name", "hardware", "cpu model" -> {
                    if (model == null && !value.isEmpty()) {
                        model = value;
                    }
                }
                case "flags", "features" -> flags.addAll(List.of(value.toLowerCase(Locale.ROOT).split("\\s+")));
                case "physical id" -> physicalId = value;
                case "core id" -> coreId = value;
                default -> {
                }
            }
        }
        if (coreId != null) {
            cores.add(physicalId + "/" + coreId);
        }
        int physical = cores.isEmpty() ? logical : Math.min(cores.size(), logical);
        List<String> isa = new ArrayList<>();
        String[][] known = {
            {"avx2", "AVX2"}, {"fma", "FMA"}, {"f16c", "F16C"}, {"avx512f", "AVX512F"},
            {"avx512_bf16", "AVX512_BF16"}, {"avx512_vnni", "AVX512_VNNI"}, {"avx_vnni", "AVX_VNNI"},
            {"amx_tile", "AMX"}, {"asimd", "NEON"}, {"sve", "SVE"}, {"asimddp", "DOTPROD"},
        };
        for (String[] k : known) {
            if (flags.contains(k[0])) {
                isa.add(k[1]);
            }
        }
        if (isa.isEmpty() && (arch.equals("aarch64") || arch.equals("arm64"))) {
            isa.add("NEON"); // mandatory on AArch64
        }
        return new CpuInfo(model == null ? "unknown" : model, physical, logical, arch, isa);
    }
}
