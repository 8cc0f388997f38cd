package dev.isthmus.memory.backend;

import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvCacheConfig;
import dev.isthmus.memory.kv.KvSequence;
import java.lang.foreign.MemorySegment;

/**
 * The op set every compute backend implements (CPU: {@code kernels-cpu}; CUDA: {@code kernels-gpu}).
 * A model graph is written once against this interface; the op test runs every op of every backend
 * against the plain reference on random inputs.
 *
 * <h2>Tensors</h2>
 * Weights come in through {@link #weight}: a host backend wraps the mapped file's bytes (zero copy),
 * a device backend uploads them once, keeping the GGUF block format. Activations are {@link DType#F32}
 * tensors from {@link #allocate}, allocated once per engine and reused every step; their contents
 * move to and from the host with {@link #write} and {@link #read}. Shapes are {@code [rows][cols]};
 * "rows" is tokens for activations.
 *
 * <h2>Ops</h2>
 * Every op checks its shapes and types and throws {@link IllegalArgumentException} naming the
 * mismatch before touching memory. {@code out} may be the same tensor as an input where an op says
 * "in place is allowed". Ops on a device backend may run asynchronously; {@link #read} and
 * {@link #argmax} wait for them.
 *
 * <h2>Threads</h2>
 * A backend runs one op at a time: callers serialise their calls (an engine runs its sequences'
 * steps in turn). Inside an op the backend uses its own threads (CPU) or device.
 */
public interface Backend extends AutoCloseable {
    /** The backend's short name ({@code cpu}, {@code cuda}). */
    String name();

    /** Whether this backend can compute with weights of {@code type}. */
    boolean supports(DType type);

    // ---------------------------------------------------------------- memory

    /**
     * A weight tensor over {@code hostBytes} (GGUF/ggml block layout, {@code rows} rows of
     * {@code cols} values). The bytes must stay valid while the backend uses the tensor (a host
     * backend reads them in place).
     *
     * @throws UnsupportedOperationException if {@code type} is not {@link #supports supported}
     */
    Tensor weight(DType type, int rows, int cols, MemorySegment hostBytes);

    /** A zeroed F32 tensor owned by this backend, freed when the backend closes. */
    Tensor allocate(int rows, int cols);

    /** Copies {@code src[srcOffset .. srcOffset + dst.elements())} into the F32 tensor {@code dst}. */
    void write(float[] src, int srcOffset, Tensor dst);

    /** Copies the F32 tensor {@code src} into {@code dst[dstOffset ..]} (waiting for pending ops). */
    void read(Tensor src, float[] dst, int dstOffset);

    /** A paged KV-cache block pool in this backend's memory, with the given layout and K/V type. */
    KvBlockPool newKvPool(KvCacheConfig config);

    /**
     * The bandwidth of this backend's memory in bytes per second, measured now (the CPU: a streaming
     * read with the backend's threads; a GPU: a device-to-device copy, bytes read plus written), for
     * roofline figures; takes up to about a second. 0 when the backend has no such measurement.
     */
    default double measureMemoryBandwidth() {
        return 0;
    }

    // ---------------------------------------------------------------- ops

    /**
     * {@code y[t][o] = Σ_i x[t][i] · w[o][i]}: HF's {@code Linear} with weight {@code [out][in]} of any
     * supported type; x {@code [n][in]} and y {@code [n][out]} are F32.
     */
    void matmul(Tensor x, Tensor w, Tensor y);

    /** {@code y[t][o] += bias[0][o]} for every row {@code t} (bias is F32 {@code [1][out]}). */
    void addBias(Tensor y, Tensor bias);

    /** {@code out = a + b}, elementwise, same shapes. In place is allowed. */
    void add(Tensor a, Tensor b, Tensor out);

    /** {@code x *= factor}, elementwise. */
    void scale(Tensor x, float factor);

    /**
     * RMSNorm of each group of {@code weight.cols()} consecutive values of {@code x}:
     * {@code out = x / sqrt(mean(x²) + eps) · w} ({@code · (1 + w)} when {@code plusOne}, Gemma's form).
     * A weight of one head's size normalises every head of every token (QK-norm); a weight of the
     * row's size normalises each row. x and out have the same shape; in place is allowed.
     */
    void rmsNorm(Tensor x, Tensor weight, float eps, boolean plusOne, Tensor out);

    /** LayerNorm of each row: {@code (x - mean)/sqrt(var + eps) · w + b}; {@code bias} may be null. In place is allowed. */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out);

    /**
     * RoPE, in place, on {@code x} {@code [n][heads·headDim]}: token {@code t} is at
     * {@code positions[t]}.
     */
    void rope(Tensor x, int heads, int headDim, int[] positions, RopeSpec spec);

    /** {@code out = act(x)}, elementwise. In place is allowed. */
    void activation(Activation act, Tensor x, Tensor out);

    /** {@code out = act(gate) ⊙ up} (SwiGLU, GeGLU). In place (out = gate) is allowed. */
    void gatedActivation(Activation act, Tensor gate, Tensor up, Tensor out);

    /** {@code out[t] = table[tokens[t]] · scale}; the table {@code [vocab][dim]} may be any supported type. */
    void embedding(Tensor table, int[] tokens, float scale, Tensor out);

    /** {@code x = cap · tanh(x / cap)}, elementwise (final logit soft-capping). */
    void softCap(Tensor x, float cap);

    /** Index of the largest value of row {@code row} of {@code x} (the first one on ties). */
    int argmax(Tensor x, int row);

    /**
     * Stores keys and values of {@code k.rows()} tokens at positions {@code firstPosition ..} of
     * {@code seq}'s layer {@code layer}; k and v are {@code [n][kvHeads·headDim]}. The sequence must
     * already have reserved those positions; the pool's {@link dev.isthmus.memory.kv.KvType} decides
     * how they are encoded.
     */
    void storeKv(KvSequence seq, int layer, int firstPosition, Tensor k, Tensor v);

    /**
     * Attention of {@code q} {@code [n][heads·headDim]}, token {@code t} at position
     * {@code firstPosition + t}, over the keys and values in {@code seq}'s layer {@code layer} up to
     * position {@code firstPosition + n - 1} (causal, and the spec's masks); out has q's shape.
     */
    void attention(Tensor q, KvSequence seq, int layer, int firstPosition, AttentionSpec spec, Tensor out);

    // ---------------------------------------------------------------- decode steps

    /**
     * Declares that the ops called from now until the next {@link #argmax} or {@link #read} (which
     * end the step) form one decode step whose structure — the ops, their order, tensors, shapes and
     * specs, but not the values of token ids, positions or block tables — is the same for every step
     * begun with an equal {@code key}. A backend may record such a step once and replay the recording
     * (CUDA graphs: no launch per op); the caller still calls every op, in the same order. The
     * default does nothing (every op runs directly).
     *
     * <p>An op of a replayed step that differs from the recording throws
     * {@link StepMismatchException} before anything of the step has run; the caller then calls
     * {@link #abortStep()} and calls the step's ops again (they run directly). After any other
     * exception inside a step the caller calls {@link #abortStep()} too.
     */
    default void beginStep(Object key) {
    }

    /** Leaves a step begun by {@link #beginStep} without running it and forgets its key's recording. */
    default void abortStep() {
    }

    /** Frees what the backend allocated (activation tensors, device weights and caches). Idempotent. */
    @Override
    void close();
}
