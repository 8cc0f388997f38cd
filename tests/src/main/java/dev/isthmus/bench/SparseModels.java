package dev.isthmus.bench;

import dev.isthmus.gguf.GgmlType;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF files of any size in milliseconds: realistic metadata (a 32k-entry vocabulary) and
 * a fixed number of F16 tensors whose data are left as holes (sparse files), so that only the
 * header is written. Opening such a file costs what opening a real model of that size costs,
 * since opening never reads tensor data.
 */
public final class SparseModels {
    /** Tensors per file, whatever its size (a 1B-parameter Llama has about 150). */
    public static final int TENSORS = 150;

    private SparseModels() {
    }

    /** Writes a GGUF of about {@code totalBytes} bytes of tensor data to {@code path}. */
    public static Path write(Path path, long totalBytes) throws IOException {
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufValue.string("llama"));
        meta.put("general.name", GgufValue.string("sparse benchmark model"));
        meta.put("llama.block_count", GgufValue.uint32(16));
        meta.put("llama.context_length", GgufValue.uint32(131072));
        meta.put("llama.embedding_length", GgufValue.uint32(2048));
        List<String> vocab = new ArrayList<>(32000);
        float[] scores = new float[32000];
        for (int i = 0; i < 32000; i++) {
            vocab.add("tok" + i);
            scores[i] = -i;
        }
        meta.put("tokenizer.ggml.model", GgufValue.string("llama"));
        meta.put("tokenizer.ggml.tokens", GgufValue.stringArray(vocab));
        meta.put("tokenizer.ggml.scores", GgufValue.float32Array(scores));
        long perTensor = Math.max(2048 * 2, totalBytes / TENSORS / 4096 * 4096);
        long rows = perTensor / (2048 * 2);
        List<GgufWriter.TensorSpec> specs = new ArrayList<>();
        for (int i = 0; i < TENSORS; i++) {
            specs.add(new GgufWriter.TensorSpec("blk." + i + ".weight", GgmlType.F16, new long[] {2048, rows}));
        }
        try (GgufWriter w = GgufWriter.create(path, meta, specs)) {
            for (GgufWriter.TensorSpec s : specs) {
                w.skipTensorData(s.name());
            }
        }
        return path;
    }
}
