package dev.isthmus.runtime.model;

import dev.isthmus.format.ModelFormatException;
import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufTensorInfo;
import dev.isthmus.gguf.quant.Dequantize;
import dev.isthmus.runtime.convert.Family;
import java.util.Optional;

/**
 * {@link Weights} from a GGUF file written by llama.cpp's converter (or {@code isthmus convert}),
 * given back in HF layout:
 *
 * <ul>
 *   <li>names: HF → GGUF through the family's {@link dev.isthmus.runtime.convert.TensorNames} table;</li>
 *   <li>shapes: GGUF {@code ne} order (innermost first) is the HF shape reversed, and is checked as such;</li>
 *   <li>types: every computable {@link dev.isthmus.gguf.GgmlType} is dequantized with {@link Dequantize}
 *       (the caller runs {@link GgufFile#requireComputable()} first);</li>
 *   <li>Q/K rows: for families whose converter permutes them ({@link Family#permuteQk()}: llama,
 *       Mistral, SmolLM3) the inverse permutation ({@link Family#permutedRow}) is applied to
 *       {@code q_proj} with {@code n_head} and to {@code k_proj} with {@code n_head_kv}, weights and
 *       biases alike;</li>
 *   <li>norms: for Gemma ({@link Family#normPlusOne()}) every {@code *norm.weight} is stored as
 *       {@code w + 1} and read back as {@code w}.</li>
 * </ul>
 * Phi-3's fused {@code attn_qkv}/{@code ffn_up} are the HF fused tensors as they are.
 */
final class GgufWeights implements Weights {
    private final GgufFile file;
    private final Family family;
    private final int heads;
    private final int kvHeads;

    GgufWeights(GgufFile file, Family family, int heads, int kvHeads) {
        this.file = file;
        this.family = family;
        this.heads = heads;
        this.kvHeads = kvHeads;
    }

    private Optional<GgufTensorInfo> info(String hfName) {
        return family.names().toGguf(hfName).flatMap(file::tensor);
    }

    @Override
    public boolean has(String hfName) {
        return info(hfName).isPresent();
    }

    @Override
    public float[] get(String hfName, long... shape) {
        // name mapping, presence, shape and type checks are the fast path's (StoredTensors.Gguf)
        StoredTensors.Raw raw = new StoredTensors.Gguf(file, family).raw(hfName, shape);
        long elements = (long) raw.rows() * raw.cols();
        if (elements > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(file.path(), -1, "tensor '" + raw.name()
                    + "' is too large for the reference path");
        }
        float[] out = Dequantize.toFloats(dev.isthmus.gguf.GgmlType.byId(raw.type().ggmlId()).orElseThrow(),
                raw.bytes(), elements);
        if (family.permuteQk()) {
            if (hfName.endsWith("self_attn.q_proj.weight") || hfName.endsWith("self_attn.q_proj.bias")) {
                out = unpermute(out, shape[0], heads);
            } else if (hfName.endsWith("self_attn.k_proj.weight") || hfName.endsWith("self_attn.k_proj.bias")) {
                out = unpermute(out, shape[0], kvHeads);
            }
        }
        if (family.normPlusOne() && hfName.endsWith("norm.weight")) {
            for (int i = 0; i < out.length; i++) {
                out[i] -= 1f;
            }
        }
        return out;
    }

    /** The converter wrote GGUF row {@code r} from HF row {@code permutedRow(r)}; put it back there. */
    private static float[] unpermute(float[] in, long rows, int heads) {
        int rowLen = (int) (in.length / rows);
        float[] out = new float[in.length];
        for (long r = 0; r < rows; r++) {
            long src = Family.permutedRow(r, rows, heads);
            System.arraycopy(in, (int) (r * rowLen), out, (int) (src * rowLen), rowLen);
        }
        return out;
    }
}
