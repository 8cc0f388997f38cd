package dev.isthmus.kernels.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.LibraryLoad;
import dev.isthmus.nativebindings.cuda.CudaRuntimeLibrary;
import dev.isthmus.nativebindings.cuda.IsthmusCudaLibrary;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel library as the build packs it: present with its hash when nvcc was found, extracted,
 * checked and loaded (this needs libcudart, not a GPU); a corrupted copy is refused. Without nvcc the
 * backend says "no kernels".
 */
class KernelLibraryTest {
    @TempDir
    Path cache;

    private static final ClassLoader LOADER = KernelLibraryTest.class.getClassLoader();

    @Test
    void theProviderIsFoundByServiceLoaderAndExplainsItself() {
        BackendProvider cuda = null;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.name().equals("cuda")) {
                cuda = p;
            }
        }
        assertTrue(cuda != null, "CudaBackendProvider is registered");
        assertEquals(10, cuda.priority());
        String reason = cuda.probe().reason();
        assertFalse(reason.isBlank());
        if (!IsthmusCudaLibrary.bundled(LOADER) && !cuda.probe().available()) {
            // Built without nvcc, or no GPU: either way the reason says which.
            assertTrue(reason.contains("no kernels") || reason.toLowerCase().contains("cuda")
                    || reason.toLowerCase().contains("device") || reason.contains("libcudart"), reason);
        }
    }

    @Test
    void theBundledLibraryExtractsChecksAndLoads() throws IOException {
        assumeTrue(IsthmusCudaLibrary.bundled(LOADER), "kernels-gpu was built without nvcc: no bundled library to check");
        assumeTrue(CudaRuntimeLibrary.availability().available(),
                "no CUDA runtime here to load the kernels against: " + CudaRuntimeLibrary.availability().reason());
        LibraryLoad load = IsthmusCudaLibrary.load(LOADER, Optional.empty(), cache);
        assertTrue(load.available(), load.availability().reason());
        assertTrue(load.require().find("isthmus_attention").isPresent());
        // A second load reuses the cached file.
        assertTrue(IsthmusCudaLibrary.load(LOADER, Optional.empty(), cache).available());
    }

    @Test
    void aLibraryThatDoesNotMatchTheBuildsHashIsRefused() throws IOException {
        assumeTrue(IsthmusCudaLibrary.bundled(LOADER), "kernels-gpu was built without nvcc: no bundled library to check");
        assumeTrue(CudaRuntimeLibrary.availability().available(),
                "no CUDA runtime here: " + CudaRuntimeLibrary.availability().reason());
        Path fake = Files.createTempFile(cache, "lib", ".so");
        Files.write(fake, "not the library".getBytes(StandardCharsets.US_ASCII));
        String hash;
        try (InputStream in = LOADER.getResourceAsStream(IsthmusCudaLibrary.HASH_RESOURCE)) {
            hash = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim().split("\\s+")[0];
        }
        String pinned = hash + " " + Files.size(fake);
        ClassLoader tampered = new ClassLoader(null) {
            @Override
            protected URL findResource(String name) {
                try {
                    if (name.equals(IsthmusCudaLibrary.RESOURCE)) {
                        return fake.toUri().toURL();
                    }
                    if (name.equals(IsthmusCudaLibrary.HASH_RESOURCE)) {
                        Path h = cache.resolve("hash");
                        Files.writeString(h, pinned);
                        return h.toUri().toURL();
                    }
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
                return null;
            }
        };
        LibraryLoad load = IsthmusCudaLibrary.load(tampered, Optional.empty(), cache.resolve("other"));
        assertFalse(load.available());
        assertTrue(load.availability().reason().contains("does not match"), load.availability().reason());
    }

    @Test
    void withoutTheResourceTheReasonIsNoKernels() {
        assumeTrue(CudaRuntimeLibrary.availability().available(),
                "no CUDA runtime here: " + CudaRuntimeLibrary.availability().reason());
        LibraryLoad load = IsthmusCudaLibrary.load(new ClassLoader(null) {}, Optional.empty(), cache);
        assertFalse(load.available());
        assertEquals("no kernels (built without nvcc)", load.availability().reason());
    }
}
