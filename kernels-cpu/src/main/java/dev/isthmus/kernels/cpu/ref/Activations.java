package dev.isthmus.kernels.cpu.ref;

/**
 * Activation functions and gated feed-forward combinations. Scalar functions follow PyTorch's float32
 * CPU kernels step by step (each {@code +,*,/} in float, each elementary function {@code exp, erf, tanh}
 * evaluated exactly and rounded to float), because the order matters where results cancel: exact GELU
 * of {@code x = -5} is {@code -1.43e-6}, torch's float32 {@code 1 + erf(x / sqrt 2)} gives
 * {@code -1.19e-6}, and transformers' outputs are what the reference must reproduce. Array forms apply
 * them to {@code n} values from an offset. Outputs may alias inputs.
 *
 * <ul>
 *   <li>{@link #silu}: transformers {@code ACT2FN["silu"]} = {@code torch.nn.SiLU}: {@code x * sigmoid(x)}.</li>
 *   <li>{@link #geluErf}: {@code ACT2FN["gelu"]} ({@code GELUActivation}, exact):
 *       {@code 0.5 x (1 + erf(x / sqrt 2))}.</li>
 *   <li>{@link #geluTanh}: {@code ACT2FN["gelu_pytorch_tanh"]} ({@code F.gelu(approximate="tanh")}):
 *       {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}.</li>
 *   <li>{@link #swiGlu}: Llama-style {@code LlamaMLP}: {@code down(silu(gate(x)) * up(x))}, this op being
 *       the {@code silu(gate) * up} part.</li>
 *   <li>{@link #geGlu}: {@code Gemma2MLP}/{@code Gemma3MLP} with {@code gelu_pytorch_tanh}:
 *       {@code gelu_tanh(gate) * up}.</li>
 *   <li>{@link #gptOssSwiGlu}: {@code GptOssExperts._apply_gate} (modeling_gpt_oss.py): gate clamped
 *       above at {@code limit}, up clamped to {@code [-limit, limit]},
 *       {@code (up + 1) * gate * sigmoid(alpha * gate)}. In the checkpoint the fused
 *       {@code gate_up_proj} output interleaves gate (even columns) and up (odd columns); this op takes
 *       them already split.</li>
 * </ul>
 */
public final class Activations {
    /** gpt-oss's SwiGLU slope {@code alpha}. */
    public static final float GPT_OSS_ALPHA = 1.702f;
    /** gpt-oss's SwiGLU clamp {@code limit}. */
    public static final float GPT_OSS_LIMIT = 7.0f;

    private static final float SQRT1_2 = (float) Math.sqrt(0.5);
    private static final float GELU_BETA = (float) (Math.sqrt(2.0) * (2.0 / Math.sqrt(Math.PI)) * 0.5);
    private static final float GELU_KAPPA = 0.044715f;
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    private static final double SQRT_PI = Math.sqrt(Math.PI);

    private Activations() {
    }

    /** The logistic function as torch's float32 kernel: {@code 1 / (1 + exp(-x))}. */
    public static float sigmoid(float x) {
        float e = (float) Math.exp(-x);
        return 1.0f / (1.0f + e);
    }

    /** SiLU (swish), as torch's kernel: {@code x / (1 + exp(-x))} in float32. */
    public static float silu(float x) {
        float e = (float) Math.exp(-x);
        return x / (1.0f + e);
    }

    /** Exact GELU, as torch's kernel: {@code (x * 0.5) * (1 + erf(x * M_SQRT1_2))} in float32. */
    public static float geluErf(float x) {
        float e = (float) erf(x * SQRT1_2);
        return (x * 0.5f) * (1.0f + e);
    }

    /**
     * Tanh-approximated GELU, as torch's {@code gelu(approximate="tanh")} kernel in float32:
     * {@code inner = beta * (x + 0.044715 * x^3)} with {@code beta = sqrt(2/pi)}, then
     * {@code (0.5 * x) * (1 + tanh(inner))}.
     */
    public static float geluTanh(float x) {
        float cube = x * x * x;
        float inner = GELU_BETA * (x + GELU_KAPPA * cube);
        float t = (float) Math.tanh(inner);
        return (0.5f * x) * (1.0f + t);
    }

    /**
     * The error function, to about 1e-15 absolute: Maclaurin series for {@code |x| < 2.5}, the
     * continued fraction of {@code erfc} beyond (the JDK has no {@code erf}).
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double a = Math.abs(x);
        double r;
        if (a < 2.5) {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double term = a;
            double sum = a;
            double x2 = a * a;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            r = TWO_OVER_SQRT_PI * sum;
        } else if (a < 6.5) {
            // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))))
            double f = a;
            for (int k = 200; k >= 1; k--) {
                f = a + (k / 2.0) / f;
            }
            r = 1.0 - Math.exp(-a * a) / (SQRT_PI * f);
        } else {
            r = 1.0; // erfc(6.5) < 5e-20, below double resolution next to 1
        }
        return x < 0 ? -r : r;
    }

    /** {@code out[o+i] = silu(x[x0+i])} for {@code i < n}. */
    public static void silu(float[] x, int xOffset, float[] out, int outOffset, int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = silu(x[xOffset + i]);
        }
    }

    /** {@code out[o+i] = geluErf(x[x0+i])} for {@code i < n}. */
    public static void geluErf(float[] x, int xOffset, float[] out, int outOffset, int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = geluErf(x[xOffset + i]);
        }
    }

    /** {@code out[o+i] = geluTanh(x[x0+i])} for {@code i < n}. */
    public static void geluTanh(float[] x, int xOffset, float[] out, int outOffset, int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = geluTanh(x[xOffset + i]);
        }
    }

    /** SwiGLU: {@code out[i] = silu(gate[i]) * up[i]} (each factor a float, product rounded to float). */
    public static void swiGlu(float[] gate, int gateOffset, float[] up, int upOffset, float[] out, int outOffset,
                              int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = silu(gate[gateOffset + i]) * up[upOffset + i];
        }
    }

    /** GeGLU (Gemma): {@code out[i] = geluTanh(gate[i]) * up[i]}. */
    public static void geGlu(float[] gate, int gateOffset, float[] up, int upOffset, float[] out, int outOffset,
                             int n) {
        for (int i = 0; i < n; i++) {
            out[outOffset + i] = geluTanh(gate[gateOffset + i]) * up[upOffset + i];
        }
    }

    /**
     * gpt-oss's clamped SwiGLU, in transformers' float32 order: {@code g = min(gate, limit)},
     * {@code u = clamp(up, -limit, limit)}, {@code glu = g * sigmoid(g * alpha)},
     * {@code out = (u + 1) * glu}.
     *
     * @param alpha {@link #GPT_OSS_ALPHA} for gpt-oss
     * @param limit {@link #GPT_OSS_LIMIT} for gpt-oss
     */
    public static void gptOssSwiGlu(float[] gate, int gateOffset, float[] up, int upOffset, float[] out,
                                    int outOffset, int n, float alpha, float limit) {
        for (int i = 0; i < n; i++) {
            float g = Math.min(gate[gateOffset + i], limit);
            float u = Math.max(-limit, Math.min(up[upOffset + i], limit));
            float glu = g * sigmoid(g * alpha);
            out[outOffset + i] = (u + 1.0f) * glu;
        }
    }
}
