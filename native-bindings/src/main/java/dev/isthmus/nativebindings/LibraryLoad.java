package dev.isthmus.nativebindings;

import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of trying to load a shared library: whether it loaded, why not, and the library when it
 * did. Loaders return this instead of throwing.
 *
 * @param availability available with a line saying what was loaded, or unavailable with the reason
 * @param library      the loaded library; present exactly when {@code availability.available()}
 */
public record LibraryLoad(Availability availability, Optional<NativeLibrary> library) {
    public LibraryLoad {
        Objects.requireNonNull(availability, "availability");
        Objects.requireNonNull(library, "library");
        if (availability.available() != library.isPresent()) {
            throw new IllegalArgumentException("library must be present exactly when available: " + availability);
        }
    }

    /** A successful load. */
    public static LibraryLoad loaded(NativeLibrary library) {
        return new LibraryLoad(Availability.yes("loaded " + library.description()), Optional.of(library));
    }

    /** A failed load, with the reason. */
    public static LibraryLoad failed(String reason) {
        return new LibraryLoad(Availability.no(reason), Optional.empty());
    }

    /** Whether the library loaded. */
    public boolean available() {
        return availability.available();
    }

    /**
     * The library.
     *
     * @throws IllegalStateException naming the reason when it did not load
     */
    public NativeLibrary require() {
        return library.orElseThrow(() -> new IllegalStateException(availability.reason()));
    }
}
