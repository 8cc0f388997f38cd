package dev.isthmus.runtime.model;

import dev.isthmus.hf.HfConfig;
import java.util.List;

/**
 * SmolLM3: Llama whose every fourth layer uses no positional encoding at all (NoPE):
 * {@code no_rope_layers[i] == 0} marks such a layer.
 */
final class SmolLM3 {
    private SmolLM3() {
    }

    static DenseSpec spec(HfConfig c) {
        DenseSpec s = Families.llamaLike(c, "smollm3");
        List<Integer> useRope = c.intList("no_rope_layers");
        boolean[] noRope = new boolean[c.numHiddenLayers()];
        for (int i = 0; i < noRope.length; i++) {
            noRope[i] = useRope.isEmpty() ? (i + 1) % 4 == 0 : useRope.get(i) == 0;
        }
        return new DenseSpec(s.family(), s.hidden(), s.heads(), s.kvHeads(), s.headDim(), s.intermediate(), s.vocab(),
                s.eps(), s.maxPositions(), s.norm(), s.attnPreNorm(), s.attnPostNorm(), s.ffnPreNorm(), s.ffnPostNorm(),
                s.qkNorm(), false, false, false, s.activation(), s.embedScale(), s.attnScale(), 0f, 0f,
                s.tiedEmbeddings(), DenseSpec.layersOf(c, noRope));
    }
}
