package dev.isthmus.nativebindings.dnnl;

import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.NativeLibraryLoader;
import dev.isthmus.nativebindings.NativeLibraryLoader.Extraction;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DnnlLibraryTest {
    @Test
    void availableOnLinuxX86() {
        // the test itself runs on linux-x86_64, where the bundled build must load
        assertEquals(DnnlLibrary.BUNDLED_PLATFORM, NativeLibraryLoader.platform());
        assertTrue(DnnlLibrary.availability().available(), DnnlLibrary.availability().reason());
    }

    @Test
    void versionIsSane() {
        DnnlVersion v = Dnnl.version();
        System.out.println("oneDNN " + v);
        assertEquals(3, v.major());
        assertTrue(v.minor() >= 0 && v.minor() < 100 && v.patch() >= 0, v.toString());
        assertFalse(v.hash().isBlank());
        assertEquals(Dnnl.DNNL_RUNTIME_OMP, v.cpuRuntime(), v.toString()); // the bytedeco build uses OpenMP
        assertEquals("OMP", v.cpuRuntimeName());
    }

    @Test
    void isaIsSane() {
        int isa = Dnnl.getEffectiveCpuIsa();
        String name = Dnnl.effectiveCpuIsaName();
        System.out.println("oneDNN effective ISA: " + name);
        assertNotEquals(Dnnl.dnnl_cpu_isa_default, isa);
        assertTrue(Set.of("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
                "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_2",
                "AVX10_2_AMX_2").contains(name), name);
    }

    @Test
    void engineStreamAndDescriptorsRoundTrip() {
        var engine = Dnnl.engineCreate(Dnnl.dnnl_cpu, 0);
        var stream = Dnnl.streamCreate(engine, Dnnl.dnnl_stream_default_flags);
        var md = Dnnl.memoryDescCreateWithStrides(new long[] {3, 4}, Dnnl.dnnl_f32, new long[] {1, 3});
        var mem = Dnnl.memoryCreate(md, engine, java.lang.foreign.MemorySegment.NULL);
        var attr = Dnnl.primitiveAttrCreate();
        Dnnl.primitiveAttrSetFpmathMode(attr, Dnnl.dnnl_fpmath_mode_bf16);
        Dnnl.primitiveAttrDestroy(attr);
        Dnnl.memoryDestroy(mem);
        Dnnl.memoryDescDestroy(md);
        Dnnl.streamWait(stream);
        Dnnl.streamDestroy(stream);
        Dnnl.engineDestroy(engine);
    }

    @Test
    void secondExtractionReusesTheCache() throws Exception {
        Path root = NativeLibraryLoader.defaultCacheRoot();
        Extraction first = DnnlLibrary.extractBundled(root); // the cached singleton already extracted it
        assertTrue(first.availability().available(), first.availability().reason());
        Path dir = first.directory().orElseThrow();
        Path lib = dir.resolve("libdnnl.so.3");
        FileTime before = Files.getLastModifiedTime(lib);
        long t0 = System.nanoTime();
        Extraction again = DnnlLibrary.extractBundled(root);
        long micros = (System.nanoTime() - t0) / 1000;
        assertEquals(0, again.filesWritten(), "a cached extraction must not be rewritten");
        assertEquals(before, Files.getLastModifiedTime(lib));
        assertEquals(dir, again.directory().orElseThrow());
        assertTrue(Files.exists(dir.resolve("libgomp.so.1")));
        assertEquals(DnnlLibrary.LIBDNNL.sha256(), dir.getFileName().toString());
        System.out.println("cached oneDNN extraction check: " + micros + " µs");

        LibraryLoad load = DnnlLibrary.load(Optional.empty(), root);
        assertTrue(load.available(), load.availability().reason());
    }

    @Test
    void firstExtractionIntoAFreshCache() throws Exception {
        Path root = Files.createTempDirectory("isthmus-dnnl-cache");
        try {
            long t0 = System.nanoTime();
            Extraction e = DnnlLibrary.extractBundled(root);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.availability().available(), e.availability().reason());
            assertEquals(2, e.filesWritten());
            System.out.println("first oneDNN extraction (93 MB, hashed while copied): " + ms + " ms");
            assertEquals(DnnlLibrary.LIBDNNL.size(), Files.size(e.directory().orElseThrow().resolve("libdnnl.so.3")));
        } finally {
            try (var walk = Files.walk(root)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void overrideToAMissingFileIsUnavailableNamingIt() {
        Path missing = Path.of("/nonexistent/isthmus-test/libdnnl.so.3");
        LibraryLoad load = DnnlLibrary.load(Optional.of(missing), NativeLibraryLoader.defaultCacheRoot());
        assertFalse(load.available());
        assertTrue(load.availability().reason().contains(missing.toString()), load.availability().reason());
        assertTrue(load.availability().reason().contains(DnnlLibrary.PATH_PROPERTY), load.availability().reason());
        assertTrue(DnnlLibrary.availability().available(), "the process-wide result is untouched");
    }

    @Test
    void overrideToANonDnnlLibraryIsRefused() {
        // libc loads fine but is not oneDNN
        Path libc = Path.of("/lib/x86_64-linux-gnu/libc.so.6");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(libc), "no " + libc);
        LibraryLoad load = DnnlLibrary.load(Optional.of(libc), NativeLibraryLoader.defaultCacheRoot());
        assertFalse(load.available());
        assertTrue(load.availability().reason().contains("does not export dnnl_version"), load.availability().reason());
    }
}
