package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/** Qwen3 dense: Llama with RMSNorm of each query and key head (over head_dim) before RoPE; no QKV bias. */
final class Qwen3 {
    private Qwen3() {
    }

    static DenseSpec spec(HfConfig c) {
        DenseSpec s = Families.llamaLike(c, "qwen3");
        return new DenseSpec(s.family(), s.hidden(), s.heads(), s.kvHeads(), s.headDim(), s.intermediate(), s.vocab(),
                s.eps(), s.maxPositions(), s.norm(), s.attnPreNorm(), s.attnPostNorm(), s.ffnPreNorm(), s.ffnPostNorm(),
                DenseSpec.QkNorm.PER_HEAD, false, false, false, s.activation(), s.embedScale(), s.attnScale(), 0f, 0f,
                s.tiedEmbeddings(), s.layers());
    }
}
