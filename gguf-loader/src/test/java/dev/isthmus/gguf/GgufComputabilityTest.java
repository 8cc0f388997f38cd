package dev.isthmus.gguf;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.format.UnsupportedModelException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An uncomputable type is fine to open and inspect, and named when a model needs it for inference. */
class GgufComputabilityTest {
    @TempDir
    Path dir;

    private Path write(String name, List<GgufWriter.TensorSpec> specs) throws Exception {
        Map<String, GgufValue> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufValue.string("llama"));
        Path file = dir.resolve(name);
        try (GgufWriter w = GgufWriter.create(file, meta, specs)) {
            for (GgufWriter.TensorSpec s : specs) {
                w.skipTensorData(s.name());
            }
        }
        return file;
    }

    @Test
    void uncomputableTypesOpenButAreNamedForInference() throws Exception {
        Path file = write("iq.gguf", List.of(
                new GgufWriter.TensorSpec("token_embd.weight", GgmlType.Q8_0, new long[] {256, 4}),
                new GgufWriter.TensorSpec("blk.0.ffn_down.weight", GgmlType.IQ2_XXS, new long[] {256, 4}),
                new GgufWriter.TensorSpec("blk.1.ffn_down.weight", GgmlType.TQ1_0, new long[] {256, 4})));
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(3, g.tensors().size(), "the file opens and its sizes are validated");
            assertEquals(4L * 66, g.tensor("blk.0.ffn_down.weight").orElseThrow().byteSize());
            UnsupportedModelException e = assertThrows(UnsupportedModelException.class, g::requireComputable);
            assertTrue(e.getMessage().contains("'blk.0.ffn_down.weight' has type IQ2_XXS"), e.getMessage());
            assertTrue(e.getMessage().contains("2 tensors of types [IQ2_XXS, TQ1_0]"), e.getMessage());
            assertTrue(e.getMessage().contains(file.toString()));
            assertEquals(g.tensor("blk.0.ffn_down.weight").orElseThrow().absoluteOffset(), e.offset());
        }
    }

    @Test
    void computableFilesPass() throws Exception {
        Path file = write("ok.gguf", List.of(
                new GgufWriter.TensorSpec("a", GgmlType.Q4_K, new long[] {256, 2}),
                new GgufWriter.TensorSpec("b", GgmlType.MXFP4, new long[] {64, 2}),
                new GgufWriter.TensorSpec("c", GgmlType.BF16, new long[] {7})));
        try (GgufFile g = GgufFile.open(file)) {
            assertDoesNotThrow(g::requireComputable);
        }
    }
}
