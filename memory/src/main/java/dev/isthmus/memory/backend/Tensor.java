package dev.isthmus.memory.backend;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A two-dimensional, row-major tensor: {@code rows × cols} values of one {@link DType}, in a
 * {@link MemorySegment}. Higher-rank data is viewed as rows: activations for {@code n} tokens are
 * {@code [n][dim]}, attention heads are consecutive slices of a row, a weight is {@code [out][in]}
 * (Hugging Face's {@code Linear} layout, which is also GGUF's row order).
 *
 * <p>Whose memory: a host backend's tensors are ordinary segments — a weight is a slice of the
 * memory-mapped model file (zero copy), an activation a segment the backend allocated. A device
 * backend's tensors hold a <em>device address</em> wrapped in a segment of the right size (from
 * {@code MemorySegment.ofAddress(ptr).reinterpret(bytes)}); only that backend may interpret it and
 * it is never dereferenced on the host. Slicing ({@link #rows(int, int)}) is address arithmetic and
 * works for both. A tensor does not own its memory: the backend or the mapped file does, and the
 * tensor is valid until that owner is closed.
 */
public final class Tensor {
    private final DType dtype;
    private final int rows;
    private final int cols;
    private final MemorySegment data;

    /**
     * A view of {@code data} as {@code rows × cols} values of {@code dtype}.
     *
     * @throws IllegalArgumentException for a negative shape, a row that is not whole blocks, or a
     *     segment smaller than the tensor
     */
    public Tensor(DType dtype, int rows, int cols, MemorySegment data) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.data = Objects.requireNonNull(data, "data");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape " + rows + "x" + cols);
        }
        this.rows = rows;
        this.cols = cols;
        long need = dtype.rowBytes(cols) * rows;
        if (data.byteSize() < need) {
            throw new IllegalArgumentException(dtype + " tensor " + rows + "x" + cols + " needs " + need
                    + " bytes, the segment holds " + data.byteSize());
        }
    }

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** Rows (tokens for activations, output features for a weight). */
    public int rows() {
        return rows;
    }

    /** Values per row. */
    public int cols() {
        return cols;
    }

    /** The memory (host bytes, or a device address; see the class comment). */
    public MemorySegment data() {
        return data;
    }

    /** Bytes per row. */
    public long rowBytes() {
        return dtype.rowBytes(cols);
    }

    /** Bytes of the whole tensor. */
    public long byteSize() {
        return rowBytes() * rows;
    }

    /** Values in the tensor. */
    public long elements() {
        return (long) rows * cols;
    }

    /**
     * Rows {@code [from, from + count)} as a tensor over the same memory.
     *
     * @throws IndexOutOfBoundsException if the range is not inside this tensor
     */
    public Tensor rows(int from, int count) {
        Objects.checkFromIndexSize(from, count, rows);
        return new Tensor(dtype, count, cols, data.asSlice(from * rowBytes(), count * rowBytes()));
    }

    /**
     * The same bytes seen as {@code newRows × newCols} (e.g. {@code [n][heads*headDim]} as
     * {@code [n*heads][headDim]}).
     *
     * @throws IllegalArgumentException if the element count or block structure differs
     */
    public Tensor reshape(int newRows, int newCols) {
        if ((long) newRows * newCols != elements() || dtype.rowBytes(newCols) * newRows != byteSize()) {
            throw new IllegalArgumentException("cannot view " + this + " as " + newRows + "x" + newCols);
        }
        return new Tensor(dtype, newRows, newCols, data.asSlice(0, byteSize()));
    }

    @Override
    public String toString() {
        return dtype + "[" + rows + "x" + cols + "]";
    }
}
