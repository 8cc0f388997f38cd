package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;

/**
 * Gemma 3 (text): Gemma 2's sandwich norms, scaled embeddings and GeGLU, with 5 local layers to 1
 * global, per-head {@code (1 + w)} RMSNorm of queries and keys before RoPE, and two RoPE bases: the
 * local one ({@code rope_local_base_freq}) on sliding layers, the global one (possibly linearly
 * scaled) on full layers. Soft-capping is off in released configs but honoured when set.
 */
final class Gemma3 {
    private Gemma3() {
    }

    static DenseSpec spec(HfConfig c) {
        return Gemma2.gemma(c, "gemma3", DenseSpec.QkNorm.PER_HEAD);
    }
}
