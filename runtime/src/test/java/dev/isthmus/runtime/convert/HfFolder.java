package dev.isthmus.runtime.convert;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Builds tiny Hugging Face folders for the converter tests: config.json, model.safetensors, tokenizer files. */
final class HfFolder {
    /** A source tensor: HF name, row-major shape, float values (written as F32 or BF16). */
    record T(String name, long[] shape, float[] data, boolean bf16) {
        float at(long row, long col) {
            return data[(int) (row * shape[shape.length - 1] + col)];
        }
    }

    final Path dir;
    final Map<String, T> tensors = new LinkedHashMap<>();
    private final Random random = new Random(42);

    HfFolder(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
    }

    HfFolder config(String json) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
        return this;
    }

    T add(String name, long... shape) {
        return add(name, false, shape);
    }

    T add(String name, boolean bf16, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextFloat() * 2 - 1;
            if (bf16) {
                v[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & 0xFFFF0000);
            }
        }
        T t = new T(name, shape, v, bf16);
        tensors.put(name, t);
        return t;
    }

    /** Writes model.safetensors from the tensors added so far. */
    HfFolder writeSafetensors() throws IOException {
        StringBuilder header = new StringBuilder("{");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        List<String> entries = new ArrayList<>();
        for (T t : tensors.values()) {
            int esz = t.bf16 ? 2 : 4;
            long begin = data.size();
            ByteBuffer bb = ByteBuffer.allocate(t.data.length * esz).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : t.data) {
                if (t.bf16) {
                    bb.putShort((short) (Float.floatToRawIntBits(f) >>> 16));
                } else {
                    bb.putFloat(f);
                }
            }
            data.write(bb.array());
            StringBuilder shape = new StringBuilder();
            for (long d : t.shape) {
                shape.append(shape.isEmpty() ? "" : ",").append(d);
            }
            entries.add("\"" + t.name + "\":{\"dtype\":\"" + (t.bf16 ? "BF16" : "F32") + "\",\"shape\":[" + shape
                    + "],\"data_offsets\":[" + begin + "," + data.size() + "]}");
        }
        header.append(String.join(",", entries)).append("}");
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8;
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + pad);
        try (var os = Files.newOutputStream(dir.resolve("model.safetensors"))) {
            os.write(len.array());
            os.write(h);
            os.write(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
            data.writeTo(os);
        }
        return this;
    }

    /**
     * A minimal byte-level BPE tokenizer.json (Llama 3 split regex) with 8 base tokens, two merges
     * and two added special tokens (ids 8 and 9), plus a tokenizer_config.json naming them.
     */
    HfFolder writeTokenizer() throws IOException {
        String regex = HfTokenizer.LLAMA3_REGEX.replace("\\", "\\\\");
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"version":"1.0",
                 "added_tokens":[{"id":8,"content":"<|begin_of_text|>","special":true},
                                 {"id":9,"content":"<|end_of_text|>","special":true}],
                 "pre_tokenizer":{"type":"Sequence","pretokenizers":[
                    {"type":"Split","pattern":{"Regex":"%s"},"behavior":"Isolated","invert":false},
                    {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},
                 "post_processor":{"type":"TemplateProcessing",
                    "single":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}]},
                 "decoder":{"type":"ByteLevel"},
                 "model":{"type":"BPE","byte_fallback":false,
                    "vocab":{"a":0,"b":1,"c":2,"ab":3,"abc":4,"Ġ":5,"Ġa":6,"d":7},
                    "merges":["a b",["ab","c"]]}}
                """.formatted(regex));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token":"<|begin_of_text|>","eos_token":{"content":"<|end_of_text|>"},
                 "chat_template":"{{ messages[0].content }}"}
                """);
        return this;
    }
}
