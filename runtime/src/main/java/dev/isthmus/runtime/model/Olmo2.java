package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/**
 * OLMo 2 and OLMo 3: norms after, not before, each sublayer, inside the residual
 * ({@code x = x + norm(f(x))}); RMSNorm of the whole query and key projections (all heads at once)
 * before RoPE; SwiGLU. OLMo 3 adds sliding-window layers through {@code layer_types}.
 */
final class Olmo2 {
    private Olmo2() {
    }

    static DenseSpec spec(HfConfig c) {
        DenseSpec s = Families.llamaLike(c, c.textModelType());
        return new DenseSpec(s.family(), s.hidden(), s.heads(), s.kvHeads(), s.headDim(), s.intermediate(), s.vocab(),
                s.eps(), s.maxPositions(), s.norm(), null, "post_attention_layernorm", null, "post_feedforward_layernorm",
                DenseSpec.QkNorm.WHOLE, false, false, false, s.activation(), s.embedScale(), s.attnScale(), 0f, 0f,
                s.tiedEmbeddings(), s.layers());
    }
}
