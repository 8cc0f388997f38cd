package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/** Qwen2 / Qwen2.5: Llama with biases on the q, k and v projections (YaRN through the RoPE parameters). */
final class Qwen2 {
    private Qwen2() {
    }

    static DenseSpec spec(HfConfig c) {
        DenseSpec s = Families.llamaLike(c, "qwen2");
        return new DenseSpec(s.family(), s.hidden(), s.heads(), s.kvHeads(), s.headDim(), s.intermediate(), s.vocab(),
                s.eps(), s.maxPositions(), s.norm(), s.attnPreNorm(), s.attnPostNorm(), s.ffnPreNorm(), s.ffnPostNorm(),
                s.qkNorm(), true, false, false, s.activation(), s.embedScale(), s.attnScale(), 0f, 0f,
                s.tiedEmbeddings(), s.layers());
    }
}
