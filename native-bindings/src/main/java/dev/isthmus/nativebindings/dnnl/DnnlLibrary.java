package dev.isthmus.nativebindings.dnnl;

import dev.isthmus.nativebindings.Availability;
import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.NativeLibrary;
import dev.isthmus.nativebindings.NativeLibraryLoader;
import dev.isthmus.nativebindings.NativeLibraryLoader.Extraction;
import dev.isthmus.nativebindings.NativeLibraryLoader.ResourceFile;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Finds and loads oneDNN ({@code libdnnl.so.3}).
 *
 * <p>By default the library comes from the {@code org.bytedeco:dnnl:3.13-1.5.14:linux-x86_64} jar on
 * the class path: {@code libdnnl.so.3} and the {@code libgomp.so.1} it needs (found through its
 * {@code $ORIGIN} run path) are extracted together into the per-user native cache (see
 * {@link NativeLibraryLoader}), keyed by the pinned sha256 of {@code libdnnl.so.3}. A cached file is
 * trusted when its size matches; a freshly extracted one must match the pinned sha256.
 *
 * <p>{@code -Disthmus.dnnl.path=/path/to/libdnnl.so.3} loads that file instead.
 */
public final class DnnlLibrary {
    /** The system property that names a {@code libdnnl.so.3} to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "isthmus.dnnl.path";
    /** The platform the bundled build is for. */
    public static final String BUNDLED_PLATFORM = "linux-x86_64";

    private static final String PREFIX = "org/bytedeco/dnnl/linux-x86_64/";
    /** {@code libdnnl.so.3} of {@code org.bytedeco:dnnl:3.13-1.5.14:linux-x86_64}. */
    static final ResourceFile LIBDNNL = new ResourceFile(PREFIX + "libdnnl.so.3", "libdnnl.so.3", 92_850_136L,
            "3610657c35381b06694034b677cf73f28086495aba51ecf0cfb5b6511652a443");
    /** {@code libgomp.so.1} from the same jar. */
    static final ResourceFile LIBGOMP = new ResourceFile(PREFIX + "libgomp.so.1", "libgomp.so.1", 298_776L,
            "d46f9225c1883039e8a6853e6d96ca1af11d034ce186a090952e4a7c8a7c2fdc");
    static final List<ResourceFile> BUNDLED = List.of(LIBGOMP, LIBDNNL);

    private DnnlLibrary() {}

    private static final class Holder {
        static final LibraryLoad LOAD = loadDefault();
    }

    private static LibraryLoad loadDefault() {
        LibraryLoad load;
        try {
            String override = System.getProperty(PATH_PROPERTY);
            load = load(override == null || override.isBlank() ? Optional.empty() : Optional.of(Path.of(override)),
                    NativeLibraryLoader.defaultCacheRoot());
        } catch (RuntimeException | LinkageError e) {
            load = LibraryLoad.failed("oneDNN: " + e);
        }
        NativeLibraryLoader.logUnavailable("oneDNN", load.availability());
        return load;
    }

    /** Whether oneDNN is loaded, or why not. Cached for the process; never throws. */
    public static Availability availability() {
        return Holder.LOAD.availability();
    }

    /**
     * The loaded library.
     *
     * @throws IllegalStateException with the reason when oneDNN is unavailable
     */
    public static NativeLibrary require() {
        LibraryLoad load = Holder.LOAD;
        if (!load.available()) {
            throw new IllegalStateException("oneDNN unavailable: " + load.availability().reason());
        }
        return load.library().orElseThrow();
    }

    /**
     * Loads oneDNN without touching the cached process-wide result (for tests and tools).
     *
     * @param override  a {@code libdnnl.so.3} to load directly, or empty for the bundled build
     * @param cacheRoot where to extract the bundled build
     */
    public static LibraryLoad load(Optional<Path> override, Path cacheRoot) {
        if (override.isPresent()) {
            LibraryLoad load = NativeLibraryLoader.loadPath(override.get());
            return load.available() ? checked(load) : LibraryLoad.failed(PATH_PROPERTY + "=" + override.get()
                    + ": " + load.availability().reason());
        }
        String platform = NativeLibraryLoader.platform();
        if (!platform.equals(BUNDLED_PLATFORM)) {
            return LibraryLoad.failed("no oneDNN build for " + platform);
        }
        Extraction extraction = extractBundled(cacheRoot);
        if (!extraction.availability().available()) {
            return LibraryLoad.failed(extraction.availability().reason());
        }
        return checked(NativeLibraryLoader.loadPath(extraction.directory().orElseThrow().resolve(LIBDNNL.fileName())));
    }

    /** Extracts (or reuses) the bundled {@code libdnnl.so.3} and {@code libgomp.so.1} under {@code cacheRoot}. */
    public static Extraction extractBundled(Path cacheRoot) {
        return NativeLibraryLoader.extract(DnnlLibrary.class.getClassLoader(), cacheRoot, LIBDNNL.sha256(), BUNDLED);
    }

    /** A library that loaded but does not look like oneDNN 3 is refused. */
    private static LibraryLoad checked(LibraryLoad load) {
        if (!load.available()) {
            return load;
        }
        NativeLibrary lib = load.library().orElseThrow();
        for (String symbol : List.of("dnnl_version", "dnnl_engine_create", "dnnl_matmul_primitive_desc_create",
                "dnnl_memory_desc_create_with_tag")) {
            if (lib.find(symbol).isEmpty()) {
                return LibraryLoad.failed(lib.description() + " does not export " + symbol + " (not oneDNN 3?)");
            }
        }
        return load;
    }
}
