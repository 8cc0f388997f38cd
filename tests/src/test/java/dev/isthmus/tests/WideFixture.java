package dev.isthmus.tests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.isthmus.safetensors.SafetensorsModel;
import dev.isthmus.safetensors.SafetensorsTensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A fixture widened so that its rows fit 256-element quant blocks: the same config with
 * {@code hidden_size} and {@code head_dim} multiplied by {@code scale}, {@code intermediate_size}
 * set, LongRoPE factor lists stretched to the new head size (each entry repeated), and the same
 * tensor names with every dimension widened accordingly (the vocabulary kept), filled with seeded
 * random F32 values of a sensible scale: norms near 1 (Gemma's {@code (1 + w)} norms near 0),
 * biases uniform in ±0.1, weights (embeddings too, so tied outputs match untied ones) uniform with
 * standard deviation {@code 1/sqrt(row length)}: logits come out with a standard deviation near 1.
 */
final class WideFixture {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private WideFixture() {
    }

    /** Writes the widened HF folder for fixture folder {@code fixture} into {@code out}; returns {@code out}. */
    static Path write(Path fixture, Path out, int scale, int intermediate) throws IOException {
        Files.createDirectories(out);
        ObjectNode c = (ObjectNode) MAPPER.readTree(fixture.resolve("config.json").toFile());
        int hidden = c.get("hidden_size").asInt();
        int ff = c.get("intermediate_size").asInt();
        int vocab = c.get("vocab_size").asInt();
        boolean gemma = c.get("model_type").asText().startsWith("gemma");
        c.put("hidden_size", hidden * scale);
        c.put("head_dim", c.get("head_dim").asInt() * scale);
        c.put("intermediate_size", intermediate);
        stretchFactors(c, scale);
        Files.writeString(out.resolve("config.json"), c.toPrettyString());

        Random random = new Random(7);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> data = new LinkedHashMap<>();
        try (SafetensorsModel m = SafetensorsModel.open(fixture)) {
            for (SafetensorsTensor t : m.tensors()) {
                long[] shape = t.shape().clone();
                for (int i = 0; i < shape.length; i++) {
                    if (shape[i] == vocab) {
                        continue;
                    }
                    // gate_up_proj fuses two intermediate-sized halves
                    shape[i] = shape[i] == ff ? intermediate : shape[i] == 2L * ff && t.name().contains("gate_up")
                            ? 2L * intermediate : shape[i] * scale;
                }
                long n = 1;
                for (long d : shape) {
                    n *= d;
                }
                float[] v = new float[(int) n];
                String name = t.name();
                boolean norm = name.endsWith("norm.weight");
                double a = norm || name.endsWith(".bias") ? 0.1 : Math.sqrt(3.0 / shape[shape.length - 1]);
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((random.nextDouble() * 2 - 1) * a + (norm && !gemma ? 1 : 0));
                }
                shapes.put(name, shape);
                data.put(name, v);
            }
        }
        writeSafetensors(out.resolve("model.safetensors"), shapes, data);
        return out;
    }

    private static void stretchFactors(ObjectNode c, int scale) {
        JsonNode rp = c.get("rope_parameters");
        if (rp == null || !rp.isObject()) {
            return;
        }
        for (String key : List.of("long_factor", "short_factor")) {
            JsonNode list = rp.get(key);
            if (list != null && list.isArray()) {
                ArrayNode wide = MAPPER.createArrayNode();
                for (Iterator<JsonNode> it = list.elements(); it.hasNext(); ) {
                    JsonNode x = it.next();
                    for (int i = 0; i < scale; i++) {
                        wide.add(x.asDouble());
                    }
                }
                ((ObjectNode) rp).set(key, wide);
            }
        }
    }

    private static void writeSafetensors(Path file, Map<String, long[]> shapes, Map<String, float[]> data)
            throws IOException {
        ObjectNode header = MAPPER.createObjectNode();
        long offset = 0;
        List<String> names = new ArrayList<>(shapes.keySet());
        for (String n : names) {
            ObjectNode e = header.putObject(n);
            e.put("dtype", "F32");
            ArrayNode s = e.putArray("shape");
            for (long d : shapes.get(n)) {
                s.add(d);
            }
            long bytes = 4L * data.get(n).length;
            e.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8;
        try (OutputStream os = Files.newOutputStream(file)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length + pad);
            os.write(len.array());
            os.write(json);
            os.write(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
            for (String n : names) {
                float[] v = data.get(n);
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(v);
                os.write(b.array());
            }
        }
    }
}
