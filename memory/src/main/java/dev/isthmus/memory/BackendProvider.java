package dev.isthmus.memory;

import dev.isthmus.nativebindings.Availability;

/**
 * A compute backend that the runtime can choose, found through {@link java.util.ServiceLoader}.
 *
 * <p>Kernel modules ({@code kernels-cpu}, {@code kernels-gpu}) provide one each. The runtime's
 * hardware probe asks every provider whether it can run here and picks the available one with the
 * highest {@link #priority()}, unless {@code -Disthmus.backend=NAME} forces a choice. A provider's
 * {@link #probe()} never throws: a missing library, driver or device is reported as an
 * {@link Availability} with its reason.
 */
public interface BackendProvider {
    /** Short lower-case name used on the command line and in {@code -Disthmus.backend}, e.g. {@code cpu}. */
    String name();

    /** Higher wins among available backends (the CPU is the floor at 0). */
    int priority();

    /** Whether this backend can run on this machine, and what it found or why not. Cheap after the first call. */
    Availability probe();

    /**
     * Free memory this backend can use for weights and caches, in bytes, or -1 when unknown. The
     * runtime uses it to check that a model fits before choosing the backend.
     */
    default long memoryBytes() {
        return -1;
    }

    /**
     * Opens this backend for computing.
     *
     * @param threads worker threads for a CPU backend (0: the backend's default, e.g. the physical
     *                cores); a device backend ignores it
     * @throws UnsupportedOperationException if this backend cannot compute here (see {@link #probe()})
     */
    default dev.isthmus.memory.backend.Backend open(int threads) {
        throw new UnsupportedOperationException("backend " + name() + " cannot compute: " + probe().reason());
    }
}
