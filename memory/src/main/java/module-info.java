/**
 * The tensor model and memory ownership of Isthmus: memory-mapped files, arenas and their
 * lifetimes, and the backend contract that kernel modules implement.
 */
module dev.isthmus.memory {
    requires transitive dev.isthmus.nativebindings;

    exports dev.isthmus.memory;
    exports dev.isthmus.memory.backend;
    exports dev.isthmus.memory.kv;

    uses dev.isthmus.memory.BackendProvider;
}
