package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/**
 * Llama 2/3 (GQA; llama3 RoPE scaling), Mistral 7B (a sliding window on every layer), Ministral
 * (sliding and full layers interleaved by {@code layer_types}) and Mistral Small 3.1's text model
 * (head_dim set apart from hidden/heads): pre-norm RMSNorm, RoPE in the rotate-half layout, causal
 * GQA attention, SwiGLU FFN, optional tied embeddings. Everything is {@link Families#llamaLike}.
 */
final class Llama {
    private Llama() {
    }

    static DenseSpec spec(HfConfig c) {
        return Families.llamaLike(c, c.textModelType());
    }
}
