package dev.isthmus.nativebindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Finds, extracts and loads shared libraries. Every method reports failure as an unavailable
 * {@link Availability} (inside a {@link LibraryLoad} or {@link Extraction}); none throws for a missing
 * or broken library.
 *
 * <p>Libraries are loaded with {@link SymbolLookup#libraryLookup(Path, Arena)} into the
 * {@linkplain Arena#global() global arena}, so they stay loaded for the life of the process. Loading
 * is a restricted operation: the module (or {@code ALL-UNNAMED} on the class path) needs
 * {@code --enable-native-access}.
 *
 * <p>Libraries shipped as class-path resources are extracted to a per-user cache,
 * {@code $XDG_CACHE_HOME/isthmus/native/<key>/} or else {@code ~/.cache/isthmus/native/<key>/} (falling
 * back to {@code java.io.tmpdir} when neither is writable), where the key is the sha256 of the main
 * library. A file is written once (to a temporary file in the same folder, then atomically moved into
 * place) and reused afterwards when its size matches.
 */
public final class NativeLibraryLoader {
    private static final System.Logger LOG = System.getLogger(NativeLibraryLoader.class.getName());

    private NativeLibraryLoader() {}

    /**
     * A file to extract from the class path.
     *
     * @param resource the resource name, e.g. {@code org/bytedeco/dnnl/linux-x86_64/libdnnl.so.3}
     * @param fileName the name to give the file in the cache folder
     * @param size     its size in bytes
     * @param sha256   its expected sha256, lower-case hex
     */
    public record ResourceFile(String resource, String fileName, long size, String sha256) {
        public ResourceFile {
            Objects.requireNonNull(resource, "resource");
            Objects.requireNonNull(fileName, "fileName");
            Objects.requireNonNull(sha256, "sha256");
            if (fileName.contains("/") || fileName.isEmpty()) {
                throw new IllegalArgumentException("bad file name: " + fileName);
            }
            if (size < 0) {
                throw new IllegalArgumentException("negative size");
            }
        }
    }

    /**
     * The outcome of an extraction.
     *
     * @param availability available when every file is in the folder with its expected content
     * @param directory    the cache folder holding the files, when available
     * @param filesWritten how many files this call wrote (0 when all were already cached)
     */
    public record Extraction(Availability availability, Optional<Path> directory, int filesWritten) {
        public Extraction {
            Objects.requireNonNull(availability, "availability");
            Objects.requireNonNull(directory, "directory");
        }

        static Extraction failed(String reason) {
            return new Extraction(Availability.no(reason), Optional.empty(), 0);
        }
    }

    /**
     * The platform in the form native jars use: {@code linux-x86_64}, {@code linux-arm64},
     * {@code macosx-arm64}, {@code windows-x86_64}, or the raw {@code os.name-os.arch} otherwise.
     */
    public static String platform() {
        String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") || os.startsWith("darwin") ? "macosx"
                : os.startsWith("windows") ? "windows"
                : os.replace(' ', '_');
        String a = switch (arch) {
            case "amd64", "x86_64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "arm64";
            case "ppc64le" -> "ppc64le";
            default -> arch.replace(' ', '_');
        };
        return o + "-" + a;
    }

    /** Loads a library from an explicit file. */
    public static LibraryLoad loadPath(Path path) {
        Objects.requireNonNull(path, "path");
        Path abs = path.toAbsolutePath();
        if (!Files.isRegularFile(abs)) {
            return LibraryLoad.failed(abs + ": no such file");
        }
        String notElf = notElf(abs);
        if (notElf != null) {
            return LibraryLoad.failed(abs + ": " + notElf);
        }
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(abs, Arena.global());
            return LibraryLoad.loaded(new NativeLibrary(abs.toString(), Optional.of(abs), lookup));
        } catch (IllegalCallerException e) {
            return LibraryLoad.failed("native access is not enabled (run with --enable-native-access): " + e.getMessage());
        } catch (RuntimeException | LinkageError e) {
            return LibraryLoad.failed(abs + ": " + message(e));
        }
    }

    /** On Linux, a file that is not ELF is refused before dlopen (which would make the JVM print warnings). */
    private static String notElf(Path file) {
        if (!platform().startsWith("linux-")) {
            return null;
        }
        byte[] magic = new byte[4];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(magic, 0, 4) == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F') {
                return null;
            }
            return "not an ELF shared library";
        } catch (IOException | SecurityException e) {
            return "cannot read: " + message(e);
        }
    }

    /** Loads a library by name (e.g. {@code libcudart.so.13}) through the system loader's search. */
    public static LibraryLoad loadName(String name) {
        Objects.requireNonNull(name, "name");
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(name, Arena.global());
            return LibraryLoad.loaded(new NativeLibrary(name, Optional.empty(), lookup));
        } catch (IllegalCallerException e) {
            return LibraryLoad.failed("native access is not enabled (run with --enable-native-access): " + e.getMessage());
        } catch (RuntimeException | LinkageError e) {
            return LibraryLoad.failed(name + ": " + message(e));
        }
    }

    /**
     * Tries names through the system search, then explicit files, in order; returns the first that
     * loads, or a failure listing why each candidate failed.
     */
    public static LibraryLoad loadFirst(List<String> names, List<Path> files) {
        List<String> reasons = new ArrayList<>();
        for (String name : names) {
            LibraryLoad load = loadName(name);
            if (load.available()) {
                return load;
            }
            reasons.add(load.availability().reason());
        }
        for (Path file : files) {
            if (!Files.isRegularFile(file)) {
                continue; // a missing candidate directory is not worth a line in the reason
            }
            LibraryLoad load = loadPath(file);
            if (load.available()) {
                return load;
            }
            reasons.add(load.availability().reason());
        }
        return LibraryLoad.failed(reasons.isEmpty() ? "no candidates" : String.join("; ", reasons));
    }

    /** The per-user cache root for extracted libraries (created if needed; temp dir fallback). */
    public static Path defaultCacheRoot() {
        List<Path> candidates = new ArrayList<>();
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
            candidates.add(Path.of(xdg, "isthmus", "native"));
        }
        String home = System.getProperty("user.home");
        if (home != null && !home.isBlank() && !home.equals("?")) {
            candidates.add(Path.of(home, ".cache", "isthmus", "native"));
        }
        for (Path candidate : candidates) {
            if (writableDirectory(candidate)) {
                return candidate;
            }
        }
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"), "isthmus-" + user, "native");
        LOG.log(System.Logger.Level.DEBUG, "no writable cache among {0}; using {1}", candidates, tmp);
        return tmp;
    }

    private static boolean writableDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            return Files.isDirectory(dir) && Files.isWritable(dir);
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    /**
     * Extracts class-path resources into {@code cacheRoot/key/}, reusing files already there with the
     * expected size. A file that is written is hashed while it is copied; a hash or size mismatch
     * deletes it and makes the extraction unavailable.
     *
     * @param loader    where to find the resources
     * @param cacheRoot the cache root, e.g. {@link #defaultCacheRoot()}
     * @param key       the folder name inside the root (by convention the sha256 of the main file)
     * @param files     the files to extract
     */
    public static synchronized Extraction extract(ClassLoader loader, Path cacheRoot, String key, List<ResourceFile> files) {
        Objects.requireNonNull(loader, "loader");
        Objects.requireNonNull(cacheRoot, "cacheRoot");
        Objects.requireNonNull(key, "key");
        Path dir = cacheRoot.resolve(key);
        try {
            Files.createDirectories(dir);
        } catch (IOException | SecurityException e) {
            return Extraction.failed("cannot create " + dir + ": " + message(e));
        }
        int written = 0;
        for (ResourceFile file : files) {
            Path target = dir.resolve(file.fileName());
            try {
                if (Files.isRegularFile(target) && Files.size(target) == file.size()) {
                    continue;
                }
                String problem = write(loader, file, target);
                if (problem != null) {
                    return Extraction.failed(problem);
                }
                written++;
            } catch (IOException | SecurityException e) {
                return Extraction.failed("cannot extract " + file.resource() + " to " + target + ": " + message(e));
            }
        }
        return new Extraction(Availability.yes("extracted to " + dir), Optional.of(dir), written);
    }

    /** Copies one resource to {@code target} through a temporary file; null on success, else the reason. */
    private static String write(ClassLoader loader, ResourceFile file, Path target) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            return "SHA-256 unavailable: " + e.getMessage();
        }
        Path tmp = Files.createTempFile(target.getParent(), "." + file.fileName() + ".", ".tmp");
        try {
            long size = 0;
            try (InputStream in = loader.getResourceAsStream(file.resource())) {
                if (in == null) {
                    return "resource " + file.resource() + " not found on the class path";
                }
                try (OutputStream out = Files.newOutputStream(tmp)) {
                    byte[] buf = new byte[1 << 20];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        sha.update(buf, 0, n);
                        out.write(buf, 0, n);
                        size += n;
                    }
                }
            }
            String actual = HexFormat.of().formatHex(sha.digest());
            if (size != file.size() || !actual.equalsIgnoreCase(file.sha256())) {
                return "resource " + file.resource() + " does not match the pinned build: expected "
                        + file.size() + " bytes sha256 " + file.sha256() + ", found " + size + " bytes sha256 " + actual;
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return null;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Logs a fallback reason at INFO; callers invoke it once, from their cached probe. */
    public static void logUnavailable(String what, Availability availability) {
        if (!availability.available()) {
            LOG.log(System.Logger.Level.INFO, "{0} unavailable, falling back: {1}", what, availability.reason());
        } else {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", what, availability.reason());
        }
    }

    static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
