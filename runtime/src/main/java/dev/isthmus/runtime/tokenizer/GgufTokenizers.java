package dev.isthmus.runtime.tokenizer;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.gguf.GgufValue;
import dev.isthmus.gguf.GgufValueType;
import java.util.List;

/** Builds a {@link Tokenizer} from a GGUF file's {@code tokenizer.ggml.*} metadata (llama.cpp's rules and defaults). */
final class GgufTokenizers {
    private GgufTokenizers() {
    }

    static Tokenizer load(GgufFile f) {
        String src = String.valueOf(f.path());
        String model = f.getString("tokenizer.ggml.model")
                .orElseThrow(() -> new IllegalArgumentException(src + ": no tokenizer in the metadata (tokenizer.ggml.model is missing)"));
        List<String> tokens = stringArray(f, "tokenizer.ggml.tokens", src, true);
        int[] types = f.get("tokenizer.ggml.token_type").map(v -> intArray(v, "tokenizer.ggml.token_type", src)).orElse(null);
        float[] scores = f.get("tokenizer.ggml.scores").map(v -> floatArray(v, "tokenizer.ggml.scores", src)).orElse(null);
        Vocab vocab = new Vocab(tokens, types, scores, src);
        String pre = f.getString("tokenizer.ggml.pre").orElse("default");
        boolean addSpacePrefix;
        switch (model) {
            case "llama" -> {
                vocab.bos = 1;
                vocab.eos = 2;
                vocab.unk = 0;
                vocab.addBos = true;
                addSpacePrefix = true;
            }
            case "bert" -> {
                vocab.bos = 101;
                vocab.unk = 100;
                vocab.sep = 102;
                vocab.addBos = true;
                vocab.addSep = true;
                addSpacePrefix = false;
            }
            case "gpt2" -> {
                vocab.bos = 11;
                vocab.eos = 11;
                vocab.addBos = PreTokenizer.ignoresMerges(pre); // llama.cpp: llama3 and tekken add BOS by default
                addSpacePrefix = false;
            }
            default -> throw new IllegalArgumentException(src + ": unsupported tokenizer model '" + model
                    + "' (tokenizer.ggml.model); supported: llama (SentencePiece), gpt2 (byte-level BPE), bert (WordPiece)");
        }
        vocab.bos = special(f, "bos", vocab.bos, vocab);
        vocab.eos = special(f, "eos", vocab.eos, vocab);
        vocab.unk = special(f, "unknown", vocab.unk, vocab);
        vocab.sep = special(f, "seperator", special(f, "separator", vocab.sep, vocab), vocab);
        int eot = special(f, "eot", -1, vocab);
        int eom = special(f, "eom", -1, vocab);
        addSpacePrefix = bool(f, "tokenizer.ggml.add_space_prefix", addSpacePrefix);
        vocab.addBos = bool(f, "tokenizer.ggml.add_bos_token", vocab.addBos);
        vocab.addEos = bool(f, "tokenizer.ggml.add_eos_token", vocab.addEos);
        vocab.addSep = bool(f, "tokenizer.ggml.add_sep_token", vocab.addSep);
        vocab.markEog(eot, eom);
        return switch (model) {
            case "llama" -> new SpmTokenizer(vocab, addSpacePrefix);
            case "bert" -> {
                boolean lower = bool(f, "tokenizer.ggml.normalizer.lowercase", true);
                yield new WordPieceTokenizer(vocab, lower, bool(f, "tokenizer.ggml.normalizer.strip_accents", lower));
            }
            default -> {
                List<String> merges = stringArray(f, "tokenizer.ggml.merges", src, true);
                PreTokenizer p = PreTokenizer.forGgufName(pre);
                yield new BpeTokenizer(vocab, merges, p, true, PreTokenizer.ignoresMerges(pre), false, null, false);
            }
        };
    }

    private static int special(GgufFile f, String kind, int dflt, Vocab v) {
        String key = "tokenizer.ggml." + kind + "_token_id";
        var val = f.get(key);
        if (val.isEmpty()) {
            return v.valid(dflt) ? dflt : -1;
        }
        if (!val.get().type().isInteger()) {
            throw new IllegalArgumentException(f.path() + ": " + key + " is " + val.get().type() + ", not an integer");
        }
        long id = val.get().asLong();
        if (id >= 0 && id < v.size()) {
            return (int) id;
        }
        return v.valid(dflt) ? dflt : -1; // llama.cpp: a bad id keeps the default
    }

    private static boolean bool(GgufFile f, String key, boolean dflt) {
        var v = f.get(key);
        if (v.isEmpty()) {
            return dflt;
        }
        if (v.get().type() != GgufValueType.BOOL) {
            throw new IllegalArgumentException(f.path() + ": " + key + " is " + v.get().type() + ", not a bool");
        }
        return v.get().asBoolean();
    }

    private static List<String> stringArray(GgufFile f, String key, String src, boolean required) {
        var v = f.get(key);
        if (v.isEmpty()) {
            if (required) {
                throw new IllegalArgumentException(src + ": " + key + " is missing");
            }
            return List.of();
        }
        if (!v.get().isArray() || v.get().elementType() != GgufValueType.STRING) {
            throw new IllegalArgumentException(src + ": " + key + " is not an array of strings");
        }
        return v.get().strings();
    }

    private static int[] intArray(GgufValue v, String key, String src) {
        if (!v.isArray() || !v.elementType().isInteger()) {
            throw new IllegalArgumentException(src + ": " + key + " is not an array of integers");
        }
        try {
            return v.ints();
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException(src + ": " + key + ": " + e.getMessage(), e);
        }
    }

    private static float[] floatArray(GgufValue v, String key, String src) {
        if (!v.isArray() || (v.elementType() != GgufValueType.FLOAT32 && !v.elementType().isInteger()
                && v.elementType() != GgufValueType.FLOAT64)) {
            throw new IllegalArgumentException(src + ": " + key + " is not an array of numbers");
        }
        return v.floats();
    }
}
