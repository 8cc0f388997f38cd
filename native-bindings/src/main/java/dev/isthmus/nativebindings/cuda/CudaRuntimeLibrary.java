package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.NativeLibrary;
import dev.isthmus.nativebindings.NativeLibraryLoader;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds and loads the CUDA runtime, {@code libcudart}.
 *
 * <p>Search order, first hit wins:
 * <ol>
 *   <li>{@code -Disthmus.cudart.path=/path/to/libcudart.so.N} (only that file is tried);</li>
 *   <li>{@code libcudart.so.13}, {@code libcudart.so.12}, {@code libcudart.so} through the system
 *       loader's search ({@code LD_LIBRARY_PATH}, {@code ld.so.cache});</li>
 *   <li>{@code /usr/local/cuda/lib64}, then {@code /usr/local/cuda-*}{@code /lib64} newest version
 *       first, then {@code $CUDA_HOME/lib64};</li>
 *   <li>pip wheels in Python site-packages ({@code nvidia/cuda_runtime/lib}, {@code nvidia/cu13/lib}) of
 *       {@code $VIRTUAL_ENV}, {@code $CONDA_PREFIX}, {@code ~/.local}, {@code /usr/local} and {@code /usr}.</li>
 * </ol>
 * Only directory listings of those few places are read, so the search is cheap.
 */
public final class CudaRuntimeLibrary {
    /** The system property naming a libcudart file to load instead of searching. */
    public static final String PATH_PROPERTY = "isthmus.cudart.path";
    private static final List<String> SONAMES = List.of("libcudart.so.13", "libcudart.so.12", "libcudart.so");

    private CudaRuntimeLibrary() {}

    private static final class Holder {
        static final LibraryLoad LOAD = loadDefault();
    }

    private static LibraryLoad loadDefault() {
        try {
            String override = System.getProperty(PATH_PROPERTY);
            return locate(override == null || override.isBlank() ? Optional.empty() : Optional.of(Path.of(override)));
        } catch (RuntimeException | LinkageError e) {
            return LibraryLoad.failed("libcudart: " + e);
        }
    }

    /** Whether libcudart is loaded, or why not. Cached for the process; never throws. */
    public static Availability availability() {
        return Holder.LOAD.availability();
    }

    /**
     * The loaded library.
     *
     * @throws IllegalStateException with the reason when it could not be loaded
     */
    public static NativeLibrary require() {
        LibraryLoad load = Holder.LOAD;
        if (!load.available()) {
            throw new IllegalStateException("CUDA runtime unavailable: " + load.availability().reason());
        }
        return load.library().orElseThrow();
    }

    /**
     * Locates and loads libcudart without touching the cached process-wide result (for tests and tools).
     *
     * @param override a file to load instead of searching, or empty
     */
    public static LibraryLoad locate(Optional<Path> override) {
        if (override.isPresent()) {
            LibraryLoad load = NativeLibraryLoader.loadPath(override.get());
            return load.available() ? checked(load)
                    : LibraryLoad.failed(PATH_PROPERTY + "=" + override.get() + ": " + load.availability().reason());
        }
        if (!NativeLibraryLoader.platform().startsWith("linux-")) {
            return LibraryLoad.failed("CUDA runtime lookup is implemented for Linux only, not " + NativeLibraryLoader.platform());
        }
        LibraryLoad load = NativeLibraryLoader.loadFirst(SONAMES, candidateFiles());
        return load.available() ? checked(load) : LibraryLoad.failed("libcudart not found: " + load.availability().reason());
    }

    /** The files the directory search would try, in order. */
    static List<Path> candidateFiles() {
        List<Path> dirs = new ArrayList<>();
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        for (Path p : versionedCudaDirs()) {
            dirs.add(p.resolve("lib64"));
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null && !cudaHome.isBlank()) {
            dirs.add(Path.of(cudaHome, "lib64"));
        }
        for (Path sitePackages : sitePackages()) {
            dirs.add(sitePackages.resolve("nvidia/cuda_runtime/lib"));
            dirs.add(sitePackages.resolve("nvidia/cu13/lib"));
        }
        List<Path> files = new ArrayList<>();
        for (Path dir : dirs) {
            if (Files.isDirectory(dir)) {
                for (String soname : SONAMES) {
                    files.add(dir.resolve(soname));
                }
            }
        }
        return files;
    }

    private static final Pattern CUDA_DIR = Pattern.compile("cuda-(\\d+)(?:\\.(\\d+))?");

    private static List<Path> versionedCudaDirs() {
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/usr/local"), "cuda-*")) {
            ds.forEach(found::add);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        found.sort(Comparator.comparingLong(CudaRuntimeLibrary::versionKey).reversed());
        return found;
    }

    private static long versionKey(Path p) {
        Matcher m = CUDA_DIR.matcher(p.getFileName().toString());
        if (!m.matches()) return -1;
        long major = Long.parseLong(m.group(1));
        long minor = m.group(2) == null ? 0 : Long.parseLong(m.group(2));
        return major * 1000 + minor;
    }

    private static List<Path> sitePackages() {
        List<Path> prefixes = new ArrayList<>();
        for (String env : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) prefixes.add(Path.of(v));
        }
        String home = System.getProperty("user.home");
        if (home != null && !home.isBlank()) prefixes.add(Path.of(home, ".local"));
        prefixes.add(Path.of("/usr/local"));
        prefixes.add(Path.of("/usr"));
        List<Path> result = new ArrayList<>();
        for (Path prefix : prefixes) {
            Path lib = prefix.resolve("lib");
            if (!Files.isDirectory(lib)) continue;
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(lib, "python3*")) {
                for (Path py : ds) {
                    for (String kind : List.of("site-packages", "dist-packages")) {
                        Path sp = py.resolve(kind);
                        if (Files.isDirectory(sp.resolve("nvidia"))) result.add(sp);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // unreadable: skip
            }
        }
        return result;
    }

    private static LibraryLoad checked(LibraryLoad load) {
        NativeLibrary lib = load.library().orElseThrow();
        for (String symbol : List.of("cudaGetDeviceCount", "cudaGetErrorName", "cudaMalloc", "cudaRuntimeGetVersion")) {
            if (lib.find(symbol).isEmpty()) {
                return LibraryLoad.failed(lib.description() + " does not export " + symbol + " (not libcudart?)");
            }
        }
        return load;
    }
}
