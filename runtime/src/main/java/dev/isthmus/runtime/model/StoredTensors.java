package dev.isthmus.runtime.model;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.memory.backend.DType;
import dev.isthmus.memory.backend.RopeLayout;
import dev.isthmus.runtime.convert.Family;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where {@link DenseModel} finds its weights: tensors by (normalised) Hugging Face name, <em>as
 * stored</em> — bytes of the mapped file in their own format, no copy, no dequantization. What the
 * file format changed is handled by the graph, not undone here: a GGUF of a family whose converter
 * permuted the Q/K rows ({@link Family#permuteQk()}) is run with {@link RopeLayout#INTERLEAVED}
 * RoPE, which is the same rotation on the permuted rows; Gemma GGUFs store norm weights as
 * {@code 1 + w} and are normalised with the plain form.
 */
sealed interface StoredTensors permits StoredTensors.Gguf, StoredTensors.Safetensors {

    /** A tensor's bytes, type and 2-D shape ({@code rows} = HF's first dimension, {@code cols} the rest). */
    record Raw(String name, DType type, int rows, int cols, MemorySegment bytes) {
    }

    /** Whether the model holds {@code hfName}. */
    boolean has(String hfName);

    /**
     * The tensor {@code hfName} as stored, checked against the HF shape the spec implies.
     *
     * @throws ModelFormatException for a missing tensor, a shape mismatch or a type no backend computes with
     */
    Raw raw(String hfName, long... hfShape);

    /** A small tensor (norm weight, bias) as floats, as stored. */
    default float[] floats(String hfName, long... hfShape) {
        Raw r = raw(hfName, hfShape);
        return Dequantize.toFloats(dev.isthmus.gguf.GgmlType.byId(r.type().ggmlId()).orElseThrow(), r.bytes(),
                (long) r.rows() * r.cols());
    }

    /** RoPE layout matching the stored Q/K rows. */
    RopeLayout ropeLayout();

    /** Whether stored RMSNorm weights already include Gemma's {@code + 1}. */
    boolean normsIncludeOne();

    /** The file, for messages. */
    Path source();

    private static int[] rowsCols(Path source, String name, long[] hfShape) {
        long rows = hfShape.length == 1 ? 1 : hfShape[0];
        long cols = hfShape.length == 1 ? hfShape[0] : 1;
        for (int i = 1; i < hfShape.length; i++) {
            cols *= hfShape[i];
        }
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new ModelFormatException(source, -1, "tensor '" + name + "' of shape " + Arrays.toString(hfShape)
                    + " is too large");
        }
        return new int[] {(int) rows, (int) cols};
    }

    /** A GGUF file written by llama.cpp's converter or {@code isthmus convert}. */
    record Gguf(GgufFile file, Family family) implements StoredTensors {
        @Override
        public boolean has(String hfName) {
            return family.names().toGguf(hfName).flatMap(file::tensor).isPresent();
        }

        @Override
        public Raw raw(String hfName, long... hfShape) {
            String gguf = family.names().toGguf(hfName).orElseThrow(() -> new ModelFormatException(file.path(), -1,
                    "the " + family.arch() + " name table has no GGUF name for '" + hfName + "'"));
            GgufTensorInfo t = file.tensor(gguf).orElseThrow(() -> new ModelFormatException(file.path(), -1,
                    "missing tensor '" + gguf + "' (HF '" + hfName + "')"));
            long[] ne = t.shape();
            long[] hf = new long[ne.length];
            for (int i = 0; i < ne.length; i++) {
                hf[i] = ne[ne.length - 1 - i];
            }
            if (!Arrays.equals(hf, hfShape)) {
                throw new ModelFormatException(file.path(), t.absoluteOffset(), "tensor '" + gguf + "' has ne "
                        + Arrays.toString(ne) + " (HF shape " + Arrays.toString(hf) + "), the metadata implies HF shape "
                        + Arrays.toString(hfShape));
            }
            DType type = DType.ofGgmlId(t.type().id());
            if (type == null) {
                throw new ModelFormatException(file.path(), t.absoluteOffset(), "tensor '" + gguf + "' has type "
                        + t.type() + ", which Isthmus cannot compute with");
            }
            int[] rc = rowsCols(file.path(), gguf, hfShape);
            return new Raw(gguf, type, rc[0], rc[1], file.tensorData(t));
        }

        @Override
        public RopeLayout ropeLayout() {
            return family.permuteQk() ? RopeLayout.INTERLEAVED : RopeLayout.NEOX;
        }

        @Override
        public boolean normsIncludeOne() {
            return family.normPlusOne();
        }

        @Override
        public Path source() {
            return file.path();
        }
    }

    /** An HF checkpoint (F32, F16 or BF16 safetensors). */
    record Safetensors(SafetensorsModel model) implements StoredTensors {
        @Override
        public boolean has(String hfName) {
            return model.tensor(hfName).isPresent();
        }

        @Override
        public Raw raw(String hfName, long... hfShape) {
            SafetensorsTensor t = model.tensor(hfName).orElseThrow(() ->
                    new ModelFormatException(model.source(), -1, "missing tensor '" + hfName + "'"));
            if (!Arrays.equals(t.shape(), hfShape)) {
                throw new ModelFormatException(model.source(), t.absoluteOffset(), "tensor '" + hfName + "' has shape "
                        + Arrays.toString(t.shape()) + ", the config implies " + Arrays.toString(hfShape));
            }
            DType type = switch (t.dtype()) {
                case F32 -> DType.F32;
                case F16 -> DType.F16;
                case BF16 -> DType.BF16;
                default -> throw new ModelFormatException(model.source(), t.absoluteOffset(), "tensor '" + hfName
                        + "' has dtype " + t.dtype() + "; only F32, F16 and BF16 checkpoints are supported");
            };
            int[] rc = rowsCols(model.source(), hfName, hfShape);
            return new Raw(hfName, type, rc[0], rc[1], model.data(hfName));
        }

        @Override
        public RopeLayout ropeLayout() {
            return RopeLayout.NEOX;
        }

        @Override
        public boolean normsIncludeOne() {
            return false;
        }

        @Override
        public Path source() {
            return model.source();
        }
    }
}
