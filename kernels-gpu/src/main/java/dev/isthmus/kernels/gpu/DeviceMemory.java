package dev.isthmus.kernels.gpu;

import java.util.Arrays;

/**
 * The device allocations a {@link CudaBackend} owns, as sorted address ranges, so that every op can
 * check in O(log n), without allocating, that a tensor it is given is device memory of this backend
 * (and not a host segment or another backend's tensor, which a kernel would fault on).
 * Not thread-safe: the backend serialises its calls.
 */
final class DeviceMemory {
    private long[] starts = new long[16];
    private long[] ends = new long[16];
    private int size;

    /** Records {@code [address, address + bytes)}. */
    void add(long address, long bytes) {
        int i = insertionPoint(address);
        if (size == starts.length) {
            starts = Arrays.copyOf(starts, size * 2);
            ends = Arrays.copyOf(ends, size * 2);
        }
        System.arraycopy(starts, i, starts, i + 1, size - i);
        System.arraycopy(ends, i, ends, i + 1, size - i);
        starts[i] = address;
        ends[i] = address + bytes;
        size++;
    }

    /** Forgets the allocation starting at {@code address}; false if there is none. */
    boolean remove(long address) {
        int i = Arrays.binarySearch(starts, 0, size, address);
        if (i < 0) {
            return false;
        }
        System.arraycopy(starts, i + 1, starts, i, size - i - 1);
        System.arraycopy(ends, i + 1, ends, i, size - i - 1);
        size--;
        return true;
    }

    /** Whether {@code [address, address + bytes)} lies inside one recorded allocation. */
    boolean contains(long address, long bytes) {
        int i = insertionPoint(address + 1) - 1; // last start <= address
        return i >= 0 && address >= starts[i] && bytes >= 0 && address + bytes <= ends[i];
    }

    /** The recorded start addresses (for freeing everything). */
    long[] startsCopy() {
        return Arrays.copyOf(starts, size);
    }

    int size() {
        return size;
    }

    private int insertionPoint(long address) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid] < address) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
