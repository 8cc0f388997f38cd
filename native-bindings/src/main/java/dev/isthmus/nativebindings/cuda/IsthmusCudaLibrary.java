package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.NativeLibrary;
import dev.isthmus.nativebindings.NativeLibraryLoader;
import dev.isthmus.nativebindings.NativeLibraryLoader.Extraction;
import dev.isthmus.nativebindings.NativeLibraryLoader.ResourceFile;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds and loads Isthmus's own CUDA kernel library, {@code libisthmus_cuda.so} (the launchers bound
 * by {@link IsthmusCuda}).
 *
 * <p>The library is built by nvcc during the Maven build of {@code kernels-gpu} and shipped in that
 * jar as the resource {@value #RESOURCE}, next to {@code libisthmus_cuda.so.sha256}, which holds the
 * sha256 and size the build computed. At run time both are read from the class path, the library is
 * extracted into the per-user native cache (see {@link NativeLibraryLoader}) under a folder named by
 * that sha256, checked against it, and loaded. A jar built without nvcc has no such resource: the
 * library is then unavailable with the reason {@code no kernels (built without nvcc)}.
 *
 * <p>The library links the shared CUDA runtime ({@code libcudart.so.13}); {@link CudaRuntimeLibrary}
 * is loaded first so that the dynamic loader resolves that dependency to the same runtime the Java
 * side uses (one runtime, one context, one address space for device pointers).
 *
 * <p>{@code -Disthmus.cuda.kernels.path=/path/libisthmus_cuda.so} loads that file instead.
 */
public final class IsthmusCudaLibrary {
    /** The system property naming a {@code libisthmus_cuda.so} to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "isthmus.cuda.kernels.path";
    /** The class-path resource of the bundled library. */
    public static final String RESOURCE = "isthmus-native/linux-x86_64/libisthmus_cuda.so";
    /** The class-path resource holding {@code "<sha256> <size>"} of {@link #RESOURCE}. */
    public static final String HASH_RESOURCE = RESOURCE + ".sha256";
    /** The launcher ABI this binding expects ({@code ISTHMUS_ABI_VERSION} in {@code isthmus_cuda.h}). */
    public static final int ABI_VERSION = 1;

    private IsthmusCudaLibrary() {}

    private static final class Holder {
        static final LibraryLoad LOAD = loadDefault();
    }

    private static LibraryLoad loadDefault() {
        LibraryLoad load;
        try {
            String override = System.getProperty(PATH_PROPERTY);
            load = load(IsthmusCudaLibrary.class.getClassLoader(),
                    override == null || override.isBlank() ? Optional.empty() : Optional.of(Path.of(override)),
                    NativeLibraryLoader.defaultCacheRoot());
        } catch (RuntimeException | LinkageError e) {
            load = LibraryLoad.failed("libisthmus_cuda: " + e);
        }
        NativeLibraryLoader.logUnavailable("Isthmus CUDA kernels", load.availability());
        return load;
    }

    /** Whether the kernel library is loaded, or why not. Cached for the process; never throws. */
    public static Availability availability() {
        return Holder.LOAD.availability();
    }

    /**
     * The loaded library.
     *
     * @throws IllegalStateException with the reason when it is unavailable
     */
    public static NativeLibrary require() {
        LibraryLoad load = Holder.LOAD;
        if (!load.available()) {
            throw new IllegalStateException("Isthmus CUDA kernels unavailable: " + load.availability().reason());
        }
        return load.library().orElseThrow();
    }

    /** Whether the class path holds a bundled kernel library (the build found nvcc). */
    public static boolean bundled(ClassLoader loader) {
        return loader.getResource(RESOURCE) != null && loader.getResource(HASH_RESOURCE) != null;
    }

    /**
     * Loads the kernel library without touching the cached process-wide result (for tests and tools).
     *
     * @param loader    where to find the bundled library
     * @param override  a {@code libisthmus_cuda.so} to load directly, or empty for the bundled one
     * @param cacheRoot where to extract the bundled library
     */
    public static LibraryLoad load(ClassLoader loader, Optional<Path> override, Path cacheRoot) {
        Availability cudart = CudaRuntimeLibrary.availability();
        if (!cudart.available()) {
            return LibraryLoad.failed("the CUDA runtime it links is unavailable: " + cudart.reason());
        }
        if (override.isPresent()) {
            LibraryLoad load = NativeLibraryLoader.loadPath(override.get());
            return load.available() ? checked(load)
                    : LibraryLoad.failed(PATH_PROPERTY + "=" + override.get() + ": " + load.availability().reason());
        }
        if (!bundled(loader)) {
            return LibraryLoad.failed("no kernels (built without nvcc)");
        }
        String platform = NativeLibraryLoader.platform();
        if (!platform.equals("linux-x86_64")) {
            return LibraryLoad.failed("no kernels for " + platform + " (the bundled library is for linux-x86_64)");
        }
        ResourceFile file;
        try {
            file = pinned(loader);
        } catch (IOException | RuntimeException e) {
            return LibraryLoad.failed("cannot read " + HASH_RESOURCE + ": " + e.getMessage());
        }
        Extraction extraction = NativeLibraryLoader.extract(loader, cacheRoot, "isthmus-cuda-" + file.sha256(), List.of(file));
        if (!extraction.availability().available()) {
            return LibraryLoad.failed(extraction.availability().reason());
        }
        return checked(NativeLibraryLoader.loadPath(extraction.directory().orElseThrow().resolve(file.fileName())));
    }

    /** The bundled library's expected sha256 and size, as the build wrote them. */
    static ResourceFile pinned(ClassLoader loader) throws IOException {
        try (InputStream in = loader.getResourceAsStream(HASH_RESOURCE)) {
            if (in == null) {
                throw new IOException("not on the class path");
            }
            String[] parts = new String(in.readNBytes(256), StandardCharsets.US_ASCII).trim().split("\\s+");
            if (parts.length != 2 || !parts[0].matches("[0-9a-f]{64}") || !parts[1].matches("[0-9]{1,12}")) {
                throw new IOException("expected '<sha256> <size>', found '" + String.join(" ", parts) + "'");
            }
            return new ResourceFile(RESOURCE, "libisthmus_cuda.so", Long.parseLong(parts[1]), parts[0]);
        }
    }

    /** A library that loaded but lacks the launchers or has another ABI version is refused. */
    private static LibraryLoad checked(LibraryLoad load) {
        if (!load.available()) {
            return load;
        }
        NativeLibrary lib = load.library().orElseThrow();
        for (String symbol : IsthmusCuda.SYMBOLS) {
            if (lib.find(symbol).isEmpty()) {
                return LibraryLoad.failed(lib.description() + " does not export " + symbol + " (not libisthmus_cuda?)");
            }
        }
        try {
            MethodHandle version = lib.downcall("isthmus_abi_version", FunctionDescriptor.of(JAVA_INT));
            int v = (int) version.invokeExact();
            if (v != ABI_VERSION) {
                return LibraryLoad.failed(lib.description() + " has launcher ABI " + v + ", this build expects " + ABI_VERSION);
            }
        } catch (Throwable t) {
            return LibraryLoad.failed(lib.description() + ": isthmus_abi_version failed: " + t);
        }
        return load;
    }
}
