/** The CPU backend: oneDNN matmul through FFM on x86, Java Vector API kernels for the rest. */
module dev.isthmus.kernels.cpu {
    requires transitive dev.isthmus.memory;
    requires dev.isthmus.gguf;
    requires dev.isthmus.nativebindings;
    requires jdk.incubator.vector;

    exports dev.isthmus.kernels.cpu;
    exports dev.isthmus.kernels.cpu.gemm;
    exports dev.isthmus.kernels.cpu.matvec;
    exports dev.isthmus.kernels.cpu.ref;

    provides dev.isthmus.memory.BackendProvider with dev.isthmus.kernels.cpu.CpuBackendProvider;
}
