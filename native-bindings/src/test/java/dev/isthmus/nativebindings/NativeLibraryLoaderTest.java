package dev.isthmus.nativebindings;

import dev.isthmus.nativebindings.NativeLibraryLoader.Extraction;
import dev.isthmus.nativebindings.NativeLibraryLoader.ResourceFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeLibraryLoaderTest {
    private static final String PAYLOAD = "dev/isthmus/nativebindings/payload.txt";
    private static final String PAYLOAD_SHA = "888cef3c029d6cb5971a5ccbf6bce628cf6f297d798896c6b1aaed7028c93a1c";
    private static final ClassLoader CL = NativeLibraryLoaderTest.class.getClassLoader();

    @Test
    void extractsOnceThenReuses(@TempDir Path root) throws Exception {
        ResourceFile f = new ResourceFile(PAYLOAD, "payload.txt", 32, PAYLOAD_SHA);
        Extraction first = NativeLibraryLoader.extract(CL, root, PAYLOAD_SHA, List.of(f));
        assertTrue(first.availability().available(), first.availability().reason());
        assertEquals(1, first.filesWritten());
        Path file = root.resolve(PAYLOAD_SHA).resolve("payload.txt");
        assertEquals("isthmus extraction test payload\n", Files.readString(file));
        FileTime mtime = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(file, mtime);

        Extraction second = NativeLibraryLoader.extract(CL, root, PAYLOAD_SHA, List.of(f));
        assertTrue(second.availability().available());
        assertEquals(0, second.filesWritten());
        assertEquals(mtime, Files.getLastModifiedTime(file));
        try (var files = Files.list(root.resolve(PAYLOAD_SHA))) {
            assertEquals(1, files.count(), "no temporary files left behind");
        }
    }

    @Test
    void aTruncatedCacheEntryIsRewritten(@TempDir Path root) throws Exception {
        ResourceFile f = new ResourceFile(PAYLOAD, "payload.txt", 32, PAYLOAD_SHA);
        Path dir = Files.createDirectories(root.resolve(PAYLOAD_SHA));
        Files.writeString(dir.resolve("payload.txt"), "trunc");
        Extraction e = NativeLibraryLoader.extract(CL, root, PAYLOAD_SHA, List.of(f));
        assertTrue(e.availability().available(), e.availability().reason());
        assertEquals(1, e.filesWritten());
        assertEquals(32, Files.size(dir.resolve("payload.txt")));
    }

    @Test
    void aHashMismatchIsRefusedAndLeavesNothing(@TempDir Path root) throws Exception {
        String wrong = "0".repeat(64);
        ResourceFile f = new ResourceFile(PAYLOAD, "payload.txt", 32, wrong);
        Extraction e = NativeLibraryLoader.extract(CL, root, wrong, List.of(f));
        assertFalse(e.availability().available());
        assertTrue(e.availability().reason().contains("does not match"), e.availability().reason());
        assertTrue(e.availability().reason().contains(PAYLOAD_SHA), e.availability().reason());
        try (var files = Files.list(root.resolve(wrong))) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void aMissingResourceIsUnavailable(@TempDir Path root) {
        ResourceFile f = new ResourceFile("no/such/resource.so", "resource.so", 1, PAYLOAD_SHA);
        Extraction e = NativeLibraryLoader.extract(CL, root, "k", List.of(f));
        assertFalse(e.availability().available());
        assertTrue(e.availability().reason().contains("no/such/resource.so"), e.availability().reason());
    }

    @Test
    void loadFailuresAreValuesNotExceptions(@TempDir Path dir) throws Exception {
        LibraryLoad missing = NativeLibraryLoader.loadPath(dir.resolve("libnope.so"));
        assertFalse(missing.available());
        assertTrue(missing.availability().reason().contains("libnope.so"));

        Path notElf = Files.writeString(dir.resolve("libjunk.so"), "junk");
        LibraryLoad junk = NativeLibraryLoader.loadPath(notElf);
        assertFalse(junk.available());
        assertTrue(junk.availability().reason().contains(notElf + ": not an ELF shared library"), junk.availability().reason());

        LibraryLoad byName = NativeLibraryLoader.loadName("libisthmus-does-not-exist.so.7");
        assertFalse(byName.available());

        LibraryLoad none = NativeLibraryLoader.loadFirst(List.of("libisthmus-nope.so"), List.of(dir.resolve("absent.so")));
        assertFalse(none.available());
        assertTrue(none.availability().reason().contains("libisthmus-nope.so"), none.availability().reason());
    }

    @Test
    void loadsASystemLibraryByName() {
        LibraryLoad libc = NativeLibraryLoader.loadName("libc.so.6");
        assertTrue(libc.available(), libc.availability().reason());
        assertTrue(libc.require().find("strlen").isPresent());
    }

    @Test
    void platformAndCacheRoot() {
        String p = NativeLibraryLoader.platform();
        assertTrue(p.matches("[a-z0-9_]+-[a-z0-9_]+"), p);
        Path root = NativeLibraryLoader.defaultCacheRoot();
        assertTrue(root.endsWith(Path.of("isthmus", "native")) || root.endsWith("native"), root.toString());
    }
}
