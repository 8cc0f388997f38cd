package dev.isthmus.nativebindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A loaded shared library: its symbol lookup (kept alive for the life of the process) and where it
 * came from.
 *
 * @param description how the library was found, e.g. the path or the soname given to the loader
 * @param path        the file it was loaded from, when known
 * @param lookup      the symbols of the library
 */
public record NativeLibrary(String description, Optional<Path> path, SymbolLookup lookup) {
    public NativeLibrary {
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(lookup, "lookup");
    }

    /** The address of a symbol, if the library exports it. */
    public Optional<MemorySegment> find(String symbol) {
        return lookup.find(symbol);
    }

    /**
     * A downcall handle for an exported function.
     *
     * @throws UnsatisfiedLinkError when the library does not export {@code symbol}
     */
    public MethodHandle downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment address = lookup.find(symbol)
                .orElseThrow(() -> new UnsatisfiedLinkError(description + " does not export " + symbol));
        return Linker.nativeLinker().downcallHandle(address, descriptor, options);
    }

    @Override
    public String toString() {
        return description;
    }
}
