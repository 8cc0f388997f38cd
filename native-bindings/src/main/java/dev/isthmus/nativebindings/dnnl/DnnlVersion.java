package dev.isthmus.nativebindings.dnnl;

/**
 * {@code dnnl_version_t}: the loaded library's version.
 *
 * @param major      major version
 * @param minor      minor version
 * @param patch      patch version
 * @param hash       git hash of the sources ({@code N/A} when absent)
 * @param cpuRuntime {@code DNNL_RUNTIME_*} of the CPU engine (e.g. {@link Dnnl#DNNL_RUNTIME_OMP})
 * @param gpuRuntime {@code DNNL_RUNTIME_*} of the GPU engine ({@link Dnnl#DNNL_RUNTIME_NONE} for CPU-only builds)
 */
public record DnnlVersion(int major, int minor, int patch, String hash, int cpuRuntime, int gpuRuntime) {
    /** The CPU runtime's name: OMP, TBB, SEQ, THREADPOOL, SYCL or NONE. */
    public String cpuRuntimeName() {
        return Dnnl.runtimeName(cpuRuntime);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch + " (" + hash + ", cpu runtime " + cpuRuntimeName() + ")";
    }
}
