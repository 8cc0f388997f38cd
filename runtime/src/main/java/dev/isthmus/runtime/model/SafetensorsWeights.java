package dev.isthmus.runtime.model;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * {@link Weights} from an HF checkpoint's safetensors: float32 copies by HF name, each checked
 * against the shape the model's spec expects (a missing tensor or a disagreeing shape is a
 * {@link ModelFormatException} naming both). F32, F16 and BF16 checkpoints are read.
 */
final class SafetensorsWeights implements Weights {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SafetensorsModel model;

    SafetensorsWeights(SafetensorsModel model) {
        this.model = model;
    }

    @Override
    public boolean has(String name) {
        return model.tensor(name).isPresent();
    }

    @Override
    public float[] get(String name, long... shape) {
        SafetensorsTensor t = model.tensor(name).orElseThrow(() ->
                new ModelFormatException(model.source(), -1, "missing tensor '" + name + "'"));
        if (!Arrays.equals(t.shape(), shape)) {
            throw new ModelFormatException(model.source(), t.absoluteOffset(), "tensor '" + name + "' has shape "
                    + Arrays.toString(t.shape()) + ", the config implies " + Arrays.toString(shape));
        }
        if (t.elementCount() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(model.source(), t.absoluteOffset(), "tensor '" + name
                    + "' is too large for the reference path");
        }
        MemorySegment data = model.data(name);
        int n = (int) t.elementCount();
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(data, F32, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(data.getAtIndex(I16, i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((data.getAtIndex(I16, i) & 0xffff) << 16);
                }
            }
            default -> throw new ModelFormatException(model.source(), t.absoluteOffset(), "tensor '" + name
                    + "' has dtype " + t.dtype() + "; only F32, F16 and BF16 checkpoints are supported");
        }
        return out;
    }
}
