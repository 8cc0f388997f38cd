package dev.isthmus.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name           the tensor's name (the header key)
 * @param dtype          element type
 * @param shape          dimensions as stored, outermost first (row-major); empty for a scalar.
 *                       The array is copied on construction and on access.
 * @param begin          start of the tensor's bytes, relative to the data buffer
 * @param end            end (exclusive) of the tensor's bytes, relative to the data buffer
 * @param absoluteOffset start of the tensor's bytes in the file ({@code dataOffset + begin})
 */
public record SafetensorsTensor(String name, SafetensorsDType dtype, long[] shape, long begin, long end,
                                long absoluteOffset) {

    /** Validates the invariants a parsed header guarantees and copies {@code shape}. */
    public SafetensorsTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = Objects.requireNonNull(shape, "shape").clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
        }
        if (begin < 0 || end < begin || absoluteOffset < 0) {
            throw new IllegalArgumentException("bad offsets [" + begin + ", " + end + ") at " + absoluteOffset);
        }
    }

    /** The dimensions, outermost first (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** {@code end - begin}. */
    public long byteSize() {
        return end - begin;
    }

    /** Product of the dimensions (1 for a scalar). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsTensor t
                && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end && absoluteOffset == t.absoluteOffset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end, absoluteOffset);
    }

    @Override
    public String toString() {
        return "SafetensorsTensor[" + name + " " + dtype + " " + Arrays.toString(shape)
                + " [" + begin + ", " + end + ") @" + absoluteOffset + "]";
    }
}
