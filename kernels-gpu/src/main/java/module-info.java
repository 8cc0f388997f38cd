/** The CUDA backend: our hand-written kernels, reached through FFM. */
module dev.isthmus.kernels.gpu {
    requires transitive dev.isthmus.memory;

    exports dev.isthmus.kernels.gpu;

    provides dev.isthmus.memory.BackendProvider with dev.isthmus.kernels.gpu.CudaBackendProvider;
}
