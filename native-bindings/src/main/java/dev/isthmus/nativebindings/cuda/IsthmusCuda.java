package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings for Isthmus's CUDA kernel library ({@code kernels-gpu/src/main/cuda/isthmus_cuda.h}), in the
 * style of {@link CudaRuntime}: one typed static method per launcher over a downcall handle.
 *
 * <p>Every launcher enqueues its kernel on {@code stream} and returns at once; a launch that fails
 * (bad configuration, an earlier asynchronous error) becomes a {@link CudaException} naming the
 * launcher. Pointers are device addresses ({@link MemorySegment}s whose address is a device pointer;
 * never dereferenced here). The caller validates shapes and that every pointer is device memory of
 * the right size: the kernels trust them. Type arguments are ggml type ids for weights, KvType
 * ordinals for the cache, Activation ordinals for activations (see the header).
 *
 * <p>When the library is unavailable every method throws {@link IllegalStateException} with the
 * reason ({@link IsthmusCudaLibrary#availability()}).
 */
public final class IsthmusCuda {
    private IsthmusCuda() {}

    /** The symbols the library must export. */
    static final List<String> SYMBOLS = List.of("isthmus_abi_version", "isthmus_matmul", "isthmus_embedding",
            "isthmus_add", "isthmus_add_bias", "isthmus_scale", "isthmus_soft_cap", "isthmus_rms_norm",
            "isthmus_layer_norm", "isthmus_rope", "isthmus_activation", "isthmus_gated_activation", "isthmus_argmax",
            "isthmus_store_kv", "isthmus_attention", "isthmus_fill_zero", "isthmus_store_kv_dyn",
            "isthmus_attention_dyn");

    private static final class H {
        static final NativeLibrary L = IsthmusCudaLibrary.require();
        static final MethodHandle matmul = L.downcall("isthmus_matmul",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        static final MethodHandle embedding = L.downcall("isthmus_embedding",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS));
        static final MethodHandle add = L.downcall("isthmus_add",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        static final MethodHandle addBias = L.downcall("isthmus_add_bias",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        static final MethodHandle scale = L.downcall("isthmus_scale",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT, JAVA_LONG));
        static final MethodHandle softCap = L.downcall("isthmus_soft_cap",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT, JAVA_LONG));
        static final MethodHandle rmsNorm = L.downcall("isthmus_rms_norm",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_FLOAT, JAVA_INT));
        static final MethodHandle layerNorm = L.downcall("isthmus_layer_norm",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT));
        static final MethodHandle rope = L.downcall("isthmus_rope",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_FLOAT,
                        JAVA_INT, JAVA_INT));
        static final MethodHandle activation = L.downcall("isthmus_activation",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        static final MethodHandle gatedActivation = L.downcall("isthmus_gated_activation",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        static final MethodHandle argmax = L.downcall("isthmus_argmax",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        static final MethodHandle storeKv = L.downcall("isthmus_store_kv",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle attention = L.downcall("isthmus_attention",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_FLOAT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT,
                        ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
        static final MethodHandle storeKvDyn = L.downcall("isthmus_store_kv_dyn",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS,
                        ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG));
        static final MethodHandle attentionDyn = L.downcall("isthmus_attention_dyn",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_FLOAT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS,
                        ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
        static final MethodHandle fillZero = L.downcall("isthmus_fill_zero",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    }

    /** Throws {@link IllegalStateException} with the reason before the handles' class would fail to initialise. */
    private static void ensure() {
        IsthmusCudaLibrary.require();
    }

    private static void check(String call, int error) {
        if (error != CudaRuntime.cudaSuccess) {
            throw new CudaException(call, error, CudaRuntime.cudaGetErrorName(error), CudaRuntime.cudaGetErrorString(error));
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** {@code y[t][o] = Σ_i x[t][i]·w[o][i]} for {@code n} tokens; {@code w} is {@code rows × cols} of ggml type {@code type}. */
    public static void matmul(MemorySegment stream, int type, MemorySegment w, int rows, int cols, MemorySegment x,
                              MemorySegment y, int n) {
        ensure();
        int err;
        try {
            err = (int) H.matmul.invokeExact(stream, type, w, rows, cols, x, y, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_matmul", err);
    }

    /** {@code out[t] = table[tokens[t]]·scale}; {@code tokens} is a device array of {@code n} ints. */
    public static void embedding(MemorySegment stream, int type, MemorySegment table, int cols, MemorySegment tokens, int n,
                                 float scale, MemorySegment out) {
        ensure();
        int err;
        try {
            err = (int) H.embedding.invokeExact(stream, type, table, cols, tokens, n, scale, out);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_embedding", err);
    }

    /** {@code out = a + b} over {@code n} floats. */
    public static void add(MemorySegment stream, MemorySegment a, MemorySegment b, MemorySegment out, long n) {
        ensure();
        int err;
        try {
            err = (int) H.add.invokeExact(stream, a, b, out, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_add", err);
    }

    /** {@code y[t][o] += bias[o]}. */
    public static void addBias(MemorySegment stream, MemorySegment y, MemorySegment bias, int rows, int cols) {
        ensure();
        int err;
        try {
            err = (int) H.addBias.invokeExact(stream, y, bias, rows, cols);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_add_bias", err);
    }

    /** {@code x *= factor} over {@code n} floats. */
    public static void scale(MemorySegment stream, MemorySegment x, float factor, long n) {
        ensure();
        int err;
        try {
            err = (int) H.scale.invokeExact(stream, x, factor, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_scale", err);
    }

    /** {@code x = cap·tanh(x/cap)} over {@code n} floats. */
    public static void softCap(MemorySegment stream, MemorySegment x, float cap, long n) {
        ensure();
        int err;
        try {
            err = (int) H.softCap.invokeExact(stream, x, cap, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_soft_cap", err);
    }

    /** RMSNorm of {@code groups} groups of {@code dim} floats with weight {@code w} ({@code ·(1+w)} when {@code plusOne}). */
    public static void rmsNorm(MemorySegment stream, MemorySegment x, MemorySegment w, MemorySegment out, long groups, int dim,
                               float eps, boolean plusOne) {
        ensure();
        int err;
        try {
            err = (int) H.rmsNorm.invokeExact(stream, x, w, out, groups, dim, eps, plusOne ? 1 : 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_rms_norm", err);
    }

    /** LayerNorm of {@code rows} rows of {@code dim} floats; {@code b} may be {@link MemorySegment#NULL}. */
    public static void layerNorm(MemorySegment stream, MemorySegment x, MemorySegment w, MemorySegment b, MemorySegment out,
                                 int rows, int dim, float eps) {
        ensure();
        int err;
        try {
            err = (int) H.layerNorm.invokeExact(stream, x, w, b, out, rows, dim, eps);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_layer_norm", err);
    }

    /** RoPE in place on {@code x} {@code [n][heads·headDim]}; positions (n ints) and inverse frequencies are device arrays. */
    public static void rope(MemorySegment stream, MemorySegment x, int n, int heads, int headDim, MemorySegment positions,
                            MemorySegment invFreq, float scaling, int rotaryDim, boolean neox) {
        ensure();
        int err;
        try {
            err = (int) H.rope.invokeExact(stream, x, n, heads, headDim, positions, invFreq, scaling, rotaryDim, neox ? 1 : 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_rope", err);
    }

    /** {@code out = act(x)} over {@code n} floats; {@code act} is an Activation ordinal. */
    public static void activation(MemorySegment stream, int act, MemorySegment x, MemorySegment out, long n) {
        ensure();
        int err;
        try {
            err = (int) H.activation.invokeExact(stream, act, x, out, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_activation", err);
    }

    /** {@code out = act(gate)·up} over {@code n} floats. */
    public static void gatedActivation(MemorySegment stream, int act, MemorySegment gate, MemorySegment up, MemorySegment out,
                                       long n) {
        ensure();
        int err;
        try {
            err = (int) H.gatedActivation.invokeExact(stream, act, gate, up, out, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_gated_activation", err);
    }

    /** Writes the index of the largest of {@code cols} floats at {@code x} to the device int {@code result}. */
    public static void argmax(MemorySegment stream, MemorySegment x, int cols, MemorySegment result) {
        ensure();
        int err;
        try {
            err = (int) H.argmax.invokeExact(stream, x, cols, result);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_argmax", err);
    }

    /** Encodes keys and values of {@code n} tokens into the device KV pool (see the header for the layout). */
    public static void storeKv(MemorySegment stream, int kvType, MemorySegment pool, MemorySegment k, MemorySegment v, int n,
                               int kvHeads, int headDim, int firstPosition, MemorySegment blockTable, int tokensPerBlock,
                               long blockBytes, long rowBytes) {
        ensure();
        int err;
        try {
            err = (int) H.storeKv.invokeExact(stream, kvType, pool, k, v, n, kvHeads, headDim, firstPosition, blockTable,
                    tokensPerBlock, blockBytes, rowBytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_store_kv", err);
    }

    /**
     * Causal paged attention (see the header); {@code sinks} may be {@link MemorySegment#NULL}; {@code scratch}
     * (or NULL) lets one query split each head's keys over several blocks.
     */
    public static void attention(MemorySegment stream, MemorySegment q, MemorySegment out, int n, int heads, int kvHeads,
                                 int headDim, float scale, int window, int chunk, float softCap, MemorySegment sinks,
                                 int firstPosition, int firstLive, MemorySegment pool, int kvType, MemorySegment blockTable,
                                 int tokensPerBlock, long blockBytes, long rowBytes, MemorySegment scratch) {
        ensure();
        int err;
        try {
            err = (int) H.attention.invokeExact(stream, q, out, n, heads, kvHeads, headDim, scale, window, chunk, softCap,
                    sinks, firstPosition, firstLive, pool, kvType, blockTable, tokensPerBlock, blockBytes, rowBytes,
                    scratch);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_attention", err);
    }

    /**
     * As {@link #storeKv} for one token whose position is read from device memory ({@code dyn[0]}) when the
     * kernel runs (for CUDA graphs replayed step after step).
     */
    public static void storeKvDyn(MemorySegment stream, int kvType, MemorySegment pool, MemorySegment k, MemorySegment v,
                                  int kvHeads, int headDim, MemorySegment dyn, MemorySegment blockTable,
                                  int tokensPerBlock, long blockBytes, long rowBytes) {
        ensure();
        int err;
        try {
            err = (int) H.storeKvDyn.invokeExact(stream, kvType, pool, k, v, kvHeads, headDim, dyn, blockTable,
                    tokensPerBlock, blockBytes, rowBytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_store_kv_dyn", err);
    }

    /**
     * As {@link #attention} for one query whose position ({@code dyn[0]}) and first live key ({@code dyn[1]})
     * are read from device memory when the kernel runs.
     */
    public static void attentionDyn(MemorySegment stream, MemorySegment q, MemorySegment out, int heads, int kvHeads,
                                    int headDim, float scale, int window, int chunk, float softCap, MemorySegment sinks,
                                    MemorySegment dyn, MemorySegment pool, int kvType, MemorySegment blockTable,
                                    int tokensPerBlock, long blockBytes, long rowBytes, MemorySegment scratch) {
        ensure();
        int err;
        try {
            err = (int) H.attentionDyn.invokeExact(stream, q, out, heads, kvHeads, headDim, scale, window, chunk, softCap,
                    sinks, dyn, pool, kvType, blockTable, tokensPerBlock, blockBytes, rowBytes, scratch);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_attention_dyn", err);
    }

    /** Zeroes {@code bytes} bytes of device memory at {@code p}. */
    public static void fillZero(MemorySegment stream, MemorySegment p, long bytes) {
        ensure();
        int err;
        try {
            err = (int) H.fillZero.invokeExact(stream, p, bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("isthmus_fill_zero", err);
    }
}
