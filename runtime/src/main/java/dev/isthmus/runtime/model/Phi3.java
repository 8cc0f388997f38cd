package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/**
 * Phi-3: Llama with one fused {@code qkv_proj} (rows: queries, then keys, then values) and one
 * fused {@code gate_up_proj} (rows: gate, then up); LongRoPE through the RoPE parameters.
 */
final class Phi3 {
    private Phi3() {
    }

    static DenseSpec spec(HfConfig c) {
        DenseSpec s = Families.llamaLike(c, "phi3");
        return new DenseSpec(s.family(), s.hidden(), s.heads(), s.kvHeads(), s.headDim(), s.intermediate(), s.vocab(),
                s.eps(), s.maxPositions(), s.norm(), s.attnPreNorm(), s.attnPostNorm(), s.ffnPreNorm(), s.ffnPostNorm(),
                s.qkNorm(), false, true, true, s.activation(), s.embedScale(), s.attnScale(), 0f, 0f,
                s.tiedEmbeddings(), s.layers());
    }
}
