package dev.isthmus.kernels.cpu.ref;

/**
 * Normalization layers, one row ({@code dim = weight.length} values) at a time or over every row of a
 * row-major {@code [rows][dim]} array. Output may alias input ({@code out == x}, same offset).
 *
 * <ul>
 *   <li>{@link #rmsNorm}: transformers {@code LlamaRMSNorm.forward} (also Qwen, Mistral, OLMo 2's
 *       {@code Olmo2RMSNorm}, which differ only in where the cast back to the activation dtype
 *       happens, a no-op in float32): {@code y = w * (x * rsqrt(mean(x^2) + eps))}, the weight
 *       multiplied after normalization.</li>
 *   <li>{@link #gemmaRmsNorm}: {@code Gemma2RMSNorm} / {@code Gemma3RMSNorm}:
 *       {@code y = (x * rsqrt(mean(x^2) + eps)) * (1 + w)}.</li>
 *   <li>{@link #layerNorm}: {@code torch.nn.LayerNorm} / {@code F.layer_norm}: biased variance,
 *       {@code y = (x - mean) / sqrt(var + eps) * w + b}; weight and bias optional.</li>
 * </ul>
 */
public final class Norms {
    private Norms() {
    }

    /** The reciprocal root {@code 1/sqrt(mean(x^2) + eps)} of one row, as float32 (HF: {@code torch.rsqrt}). */
    static float rmsScale(float[] x, int offset, int dim, float eps) {
        double sumSq = 0;
        for (int i = 0; i < dim; i++) {
            double v = x[offset + i];
            sumSq += v * v;
        }
        float variance = (float) (sumSq / dim);
        return (float) (1.0 / Math.sqrt(variance + eps));
    }

    /**
     * RMSNorm of one row: {@code out[i] = weight[i] * (x[i] * r)} with {@code r = rsqrt(mean(x^2)+eps)}.
     *
     * @param x         input
     * @param xOffset   start of the row in {@code x}
     * @param weight    per-channel scale; its length is the row length
     * @param eps       added to the mean square (e.g. {@code rms_norm_eps})
     * @param out       output
     * @param outOffset start of the row in {@code out}
     */
    public static void rmsNorm(float[] x, int xOffset, float[] weight, float eps, float[] out, int outOffset) {
        int dim = weight.length;
        float r = rmsScale(x, xOffset, dim, eps);
        for (int i = 0; i < dim; i++) {
            float normalized = x[xOffset + i] * r;
            out[outOffset + i] = weight[i] * normalized;
        }
    }

    /** RMSNorm of every row of {@code x} ({@code [rows][weight.length]}) into {@code out}. */
    public static void rmsNorm(float[] x, float[] weight, float eps, float[] out) {
        int dim = weight.length;
        int rows = rows(x.length, dim, out.length);
        for (int r = 0; r < rows; r++) {
            rmsNorm(x, r * dim, weight, eps, out, r * dim);
        }
    }

    /**
     * Gemma's RMSNorm of one row: {@code out[i] = (x[i] * r) * (1 + weight[i])}; Gemma checkpoints store
     * the weight as an offset from one.
     */
    public static void gemmaRmsNorm(float[] x, int xOffset, float[] weight, float eps, float[] out, int outOffset) {
        int dim = weight.length;
        float r = rmsScale(x, xOffset, dim, eps);
        for (int i = 0; i < dim; i++) {
            float normalized = x[xOffset + i] * r;
            out[outOffset + i] = normalized * (1.0f + weight[i]);
        }
    }

    /** Gemma's RMSNorm of every row of {@code x} ({@code [rows][weight.length]}) into {@code out}. */
    public static void gemmaRmsNorm(float[] x, float[] weight, float eps, float[] out) {
        int dim = weight.length;
        int rows = rows(x.length, dim, out.length);
        for (int r = 0; r < rows; r++) {
            gemmaRmsNorm(x, r * dim, weight, eps, out, r * dim);
        }
    }

    /**
     * LayerNorm of one row of {@code dim} values: {@code out = (x - mean) * rsqrt(var + eps) * weight + bias}
     * with the biased (population) variance, as {@code torch.nn.functional.layer_norm}.
     *
     * @param weight per-channel scale, or {@code null} for none (an affine-free LayerNorm)
     * @param bias   per-channel shift, or {@code null} for none (e.g. OLMo's bias-free LayerNorm)
     */
    public static void layerNorm(float[] x, int xOffset, int dim, float[] weight, float[] bias, float eps,
                                 float[] out, int outOffset) {
        checkLength(weight, dim, "weight");
        checkLength(bias, dim, "bias");
        double sum = 0;
        for (int i = 0; i < dim; i++) {
            sum += x[xOffset + i];
        }
        float mean = (float) (sum / dim);
        double sumSq = 0;
        for (int i = 0; i < dim; i++) {
            double d = x[xOffset + i] - mean;
            sumSq += d * d;
        }
        float variance = (float) (sumSq / dim);
        float r = (float) (1.0 / Math.sqrt(variance + eps));
        for (int i = 0; i < dim; i++) {
            float y = (x[xOffset + i] - mean) * r;
            if (weight != null) {
                y = y * weight[i];
            }
            if (bias != null) {
                y = y + bias[i];
            }
            out[outOffset + i] = y;
        }
    }

    /** LayerNorm of every row of {@code x} ({@code [rows][dim]}) into {@code out}; weight and bias may be null. */
    public static void layerNorm(float[] x, int dim, float[] weight, float[] bias, float eps, float[] out) {
        int rows = rows(x.length, dim, out.length);
        for (int r = 0; r < rows; r++) {
            layerNorm(x, r * dim, dim, weight, bias, eps, out, r * dim);
        }
    }

    private static void checkLength(float[] a, int dim, String name) {
        if (a != null && a.length != dim) {
            throw new IllegalArgumentException(name + " has " + a.length + " values, the row has " + dim);
        }
    }

    static int rows(int xLength, int dim, int outLength) {
        if (dim <= 0 || xLength % dim != 0) {
            throw new IllegalArgumentException("length " + xLength + " is not a whole number of rows of " + dim);
        }
        if (outLength < xLength) {
            throw new IllegalArgumentException("output holds " + outLength + " values, needs " + xLength);
        }
        return xLength / dim;
    }
}
