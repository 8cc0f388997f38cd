package dev.isthmus.memory.backend;

import dev.isthmus.memory.kv.KvCacheConfig;

/**
 * The argument checks every {@link Backend} makes before touching memory, in one place, so that all
 * backends refuse bad input with the same {@link IllegalArgumentException} and message. Messages are
 * built only on failure (the checks run on every op of every step).
 */
public final class OpChecks {
    private OpChecks() {
    }

    /** {@code t} holds F32 values. */
    public static void f32(Tensor t, String name) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + " must be F32, not " + t);
        }
    }

    /** {@code x} and {@code y} are F32 tensors of one shape. */
    public static void sameShape(Tensor x, Tensor y, String op) {
        if (x.dtype() != DType.F32 || y.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + " inputs must be F32, not " + x + " and " + y);
        }
        if (x.rows() != y.rows() || x.cols() != y.cols()) {
            throw new IllegalArgumentException(op + ": shapes differ, " + x + " and " + y);
        }
    }

    /** The arguments of {@link Backend#rope}: shapes, one position a row, none negative. */
    public static void rope(Tensor x, int heads, int headDim, int[] positions, RopeSpec spec) {
        f32(x, "x");
        if (heads <= 0 || headDim <= 0 || (long) heads * headDim != x.cols() || positions.length != x.rows()
                || spec.rotaryDim() > headDim) {
            throw new IllegalArgumentException("rope on " + x + " with " + heads + " heads of " + headDim + ", "
                    + positions.length + " positions, rotary dim " + spec.rotaryDim());
        }
        for (int p : positions) {
            if (p < 0) {
                throw new IllegalArgumentException("rope: negative position " + p);
            }
        }
    }

    /** The arguments of {@link Backend#argmax}: an F32 tensor and one of its (non-empty) rows. */
    public static void argmax(Tensor x, int row) {
        f32(x, "x");
        if (row < 0 || row >= x.rows() || x.cols() == 0) {
            throw new IllegalArgumentException("argmax of row " + row + " of " + x);
        }
    }

    /** {@code layer} is a layer of a KV cache laid out by {@code config}. */
    public static void layer(KvCacheConfig config, int layer) {
        if (layer < 0 || layer >= config.layerCount()) {
            throw new IllegalArgumentException("layer " + layer + " is not in the cache's " + config.layerCount()
                    + " layers");
        }
    }
}
