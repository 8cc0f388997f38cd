package dev.isthmus.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's entry in a GGUF file's tensor-info table.
 *
 * @param name           the tensor's name
 * @param shape          the dimensions in GGUF {@code ne} order: the innermost (fastest-varying,
 *                       contiguous) dimension first. Copied on the way in and out.
 * @param type           the element type
 * @param relativeOffset the offset of the tensor's data from the start of the data section
 * @param absoluteOffset the offset of the tensor's data from the start of the file
 * @param byteSize       the bytes the tensor's data take ({@code type.byteSize(elementCount())})
 */
public record GgufTensorInfo(String name, long[] shape, GgmlType type, long relativeOffset, long absoluteOffset,
                             long byteSize) {

    /** Copies {@code shape}. */
    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        shape = shape.clone();
    }

    /** The dimensions in {@code ne} order (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i} in {@code ne} order. */
    public long dim(int i) {
        return shape[i];
    }

    /** The number of elements: the product of the dimensions. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The offset one past the tensor's last byte, from the start of the file. */
    public long absoluteEnd() {
        return absoluteOffset + byteSize;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t
                && name.equals(t.name) && Arrays.equals(shape, t.shape) && type == t.type
                && relativeOffset == t.relativeOffset && absoluteOffset == t.absoluteOffset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        int h = name.hashCode();
        h = 31 * h + Arrays.hashCode(shape);
        h = 31 * h + type.hashCode();
        h = 31 * h + Long.hashCode(relativeOffset);
        h = 31 * h + Long.hashCode(absoluteOffset);
        return 31 * h + Long.hashCode(byteSize);
    }

    @Override
    public String toString() {
        return "GgufTensorInfo[" + name + ", " + type + " " + Arrays.toString(shape) + ", offset " + relativeOffset
                + " (abs " + absoluteOffset + "), " + byteSize + " bytes]";
    }
}
