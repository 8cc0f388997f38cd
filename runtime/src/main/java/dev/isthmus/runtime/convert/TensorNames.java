package dev.isthmus.runtime.convert;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hugging Face → GGUF tensor-name table of one model family, as data: model-level entries
 * ({@code model.embed_tokens.weight → token_embd.weight}) and per-layer entries whose HF name is
 * relative to {@code model.layers.N.} and whose GGUF name is relative to {@code blk.N.}. The GGUF
 * names are llama.cpp's ({@code gguf-py}'s {@code TENSOR_NAMES}), so inference code can use the same
 * table in both directions.
 *
 * <p>HF names here are those of the text model with the {@code model.} prefix; a family that nests
 * its language model elsewhere ({@code model.language_model.}, {@code language_model.model.}) is
 * normalised first by {@link Family#normalize(String)}.
 *
 * @param global model-level entries
 * @param layer  per-layer entries
 */
public record TensorNames(List<Entry> global, List<Entry> layer) {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    /**
     * One name pair.
     *
     * @param hf       the HF name (relative to {@code model.layers.N.} for a layer entry)
     * @param gguf     the GGUF name (relative to {@code blk.N.} for a layer entry)
     * @param required whether a checkpoint of the family must have it
     */
    public record Entry(String hf, String gguf, boolean required) {
        /** Null checks. */
        public Entry {
            Objects.requireNonNull(hf, "hf");
            Objects.requireNonNull(gguf, "gguf");
        }
    }

    /** Copies the lists. */
    public TensorNames {
        global = List.copyOf(global);
        layer = List.copyOf(layer);
    }

    /** The GGUF name of the (normalised) HF tensor {@code hfName}, if the table knows it. */
    public Optional<String> toGguf(String hfName) {
        for (Entry e : global) {
            if (e.hf.equals(hfName)) {
                return Optional.of(e.gguf);
            }
        }
        Matcher m = LAYER.matcher(hfName);
        if (m.matches()) {
            for (Entry e : layer) {
                if (e.hf.equals(m.group(2))) {
                    return Optional.of("blk." + m.group(1) + "." + e.gguf);
                }
            }
        }
        return Optional.empty();
    }

    /** The (normalised) HF name of the GGUF tensor {@code ggufName}, if the table knows it. */
    public Optional<String> toHf(String ggufName) {
        for (Entry e : global) {
            if (e.gguf.equals(ggufName)) {
                return Optional.of(e.hf);
            }
        }
        Matcher m = BLOCK.matcher(ggufName);
        if (m.matches()) {
            for (Entry e : layer) {
                if (e.gguf.equals(m.group(2))) {
                    return Optional.of("model.layers." + m.group(1) + "." + e.hf);
                }
            }
        }
        return Optional.empty();
    }

    /** The HF names that a checkpoint with {@code layers} layers must hold, in table order. */
    public List<String> requiredHf(int layers) {
        List<String> out = new ArrayList<>();
        for (Entry e : global) {
            if (e.required) {
                out.add(e.hf);
            }
        }
        for (int i = 0; i < layers; i++) {
            for (Entry e : layer) {
                if (e.required) {
                    out.add("model.layers." + i + "." + e.hf);
                }
            }
        }
        return out;
    }

    /** A small builder for the family tables. */
    static final class Builder {
        private final List<Entry> global = new ArrayList<>();
        private final List<Entry> layer = new ArrayList<>();

        Builder() {
            global.add(new Entry("model.embed_tokens.weight", "token_embd.weight", true));
            global.add(new Entry("model.norm.weight", "output_norm.weight", true));
            global.add(new Entry("lm_head.weight", "output.weight", false));
        }

        /** A required layer weight {@code hf.weight → gguf.weight}. */
        Builder w(String hf, String gguf) {
            layer.add(new Entry(hf + ".weight", gguf + ".weight", true));
            return this;
        }

        /** An optional layer bias {@code hf.bias → gguf.bias}. */
        Builder b(String hf, String gguf) {
            layer.add(new Entry(hf + ".bias", gguf + ".bias", false));
            return this;
        }

        /** An optional layer weight. */
        Builder ow(String hf, String gguf) {
            layer.add(new Entry(hf + ".weight", gguf + ".weight", false));
            return this;
        }

        TensorNames build() {
            return new TensorNames(global, layer);
        }
    }
}
