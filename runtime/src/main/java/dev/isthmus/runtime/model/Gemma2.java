package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/**
 * Gemma 2: embeddings scaled by sqrt(hidden); "sandwich" norms (before and after both attention and
 * FFN), all RMSNorm in Gemma's {@code (1 + w)} form; local (sliding) and global layers alternating;
 * scores scaled by {@code query_pre_attn_scalar^-0.5} and soft-capped; GeGLU (tanh GELU); final
 * logits soft-capped; tied embeddings.
 */
final class Gemma2 {
    private Gemma2() {
    }

    static DenseSpec spec(HfConfig c) {
        return gemma(c, "gemma2", DenseSpec.QkNorm.NONE);
    }

    static DenseSpec gemma(HfConfig c, String family, DenseSpec.QkNorm qkNorm) {
        double scalar = c.queryPreAttnScalar().orElse(c.headDim());
        return new DenseSpec(family, c.hiddenSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.intermediateSize(), c.vocabSize(), (float) c.rmsNormEps(), c.maxPositionEmbeddings(),
                DenseSpec.NormKind.GEMMA, "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                "post_feedforward_layernorm", qkNorm, false, false, false, DenseSpec.Activation.GELU_TANH,
                (float) Math.sqrt(c.hiddenSize()), (float) Math.pow(scalar, -0.5),
                (float) c.attnLogitSoftcapping().orElse(0), (float) c.finalLogitSoftcapping().orElse(0),
                c.tieWordEmbeddings(), DenseSpec.layersOf(c, null));
    }
}
