package dev.isthmus.nativebindings.cuda;

/**
 * What the probe learned about one CUDA device.
 *
 * @param index                    the runtime's device ordinal
 * @param name                     e.g. {@code NVIDIA H100 80GB HBM3}
 * @param computeMajor             compute capability, major
 * @param computeMinor             compute capability, minor
 * @param smCount                  streaming multiprocessors
 * @param totalMemoryBytes         global memory
 * @param freeMemoryBytes          free global memory at probe time
 * @param memoryClockKHz           peak memory clock
 * @param busWidthBits             global memory bus width
 * @param l2CacheBytes             L2 cache size
 * @param clockKHz                 peak SM clock
 * @param peakBandwidthBytesPerSec theoretical peak memory bandwidth, {@code 2 × clock × busWidth/8}
 *                                 (double data rate)
 */
public record CudaDeviceInfo(int index, String name, int computeMajor, int computeMinor, int smCount,
                             long totalMemoryBytes, long freeMemoryBytes, int memoryClockKHz, int busWidthBits,
                             int l2CacheBytes, int clockKHz, long peakBandwidthBytesPerSec) {

    /** {@code 2 × memoryClockKHz×1000 × busWidthBits/8} bytes per second. */
    public static long peakBandwidth(int memoryClockKHz, int busWidthBits) {
        return 2L * memoryClockKHz * 1000L * busWidthBits / 8;
    }

    /** e.g. {@code sm_90}. */
    public String smArch() {
        return "sm_" + computeMajor + computeMinor;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "#%d %s (%s, %d SMs, %.1f GiB, %.0f GB/s)", index, name, smArch(),
                smCount, totalMemoryBytes / (double) (1L << 30), peakBandwidthBytesPerSec / 1e9);
    }
}
