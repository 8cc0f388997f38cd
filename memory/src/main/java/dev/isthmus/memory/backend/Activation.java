package dev.isthmus.memory.backend;

/** Pointwise activations, alone or as the gate of a gated FFN ({@code act(gate) ⊙ up}). */
public enum Activation {
    /** {@code x·σ(x)} (SwiGLU when gated). */
    SILU,
    /** GELU, tanh approximation (GeGLU of Gemma when gated). */
    GELU_TANH,
    /** GELU with the exact error function. */
    GELU_ERF
}
