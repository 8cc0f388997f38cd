package dev.isthmus;

import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.BackendChoice;
import dev.isthmus.runtime.model.DenseModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * Entry point of the Java API.
 *
 * <pre>{@code
 * try (Engine engine = Isthmus.load(Path.of("model.gguf"))) {
 *     Completion c = engine.chat(List.of(Message.user("Why is the sky blue?")),
 *                                Sampling.defaults().temperature(0.7).maxTokens(256),
 *                                token -> System.out.print(token.text()));
 * }
 * }</pre>
 *
 * A model is a GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json). The
 * backend is the hardware probe's choice unless {@code -Disthmus.backend=cpu|cuda} or
 * {@link Builder#backend(String)} names one.
 */
public final class Isthmus {
    private Isthmus() {
    }

    /**
     * Loads a model with the default settings.
     *
     * @throws dev.isthmus.format.ModelFormatException      for a malformed model file, naming the problem
     * @throws dev.isthmus.format.UnsupportedModelException for an architecture or tensor type Isthmus cannot run
     * @throws IOException                                  if the file cannot be read
     */
    public static Engine load(Path model) throws IOException {
        return builder().model(model).build();
    }

    /** A builder for an {@link Engine} with non-default settings. */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of an {@link Engine}; each setter validates its argument. Not thread-safe. */
    public static final class Builder {
        private Path model;
        private String backend;
        private int threads;
        private int contextLength;
        private int maxSequences = 4;
        private int batch = DenseModel.DEFAULT_MAX_BATCH;
        private KvType kvType = KvType.F16;
        private boolean truncate;

        private Builder() {
        }

        /** The model: a GGUF file or a Hugging Face folder. Required. */
        public Builder model(Path path) {
            this.model = Objects.requireNonNull(path, "model");
            return this;
        }

        /** The backend by name ({@code cpu}, {@code cuda}); default: the probe's choice. */
        public Builder backend(String name) {
            this.backend = Objects.requireNonNull(name, "backend");
            return this;
        }

        /** CPU threads; 0 (the default) for the physical cores. */
        public Builder threads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("threads must not be negative: " + threads);
            }
            this.threads = threads;
            return this;
        }

        /** Tokens a sequence may hold; 0 (the default) for the model's, capped at 4096. */
        public Builder contextLength(int tokens) {
            if (tokens < 0) {
                throw new IllegalArgumentException("contextLength must not be negative: " + tokens);
            }
            this.contextLength = tokens;
            return this;
        }

        /** Generations that may hold a full context at once (the KV pool's size); default 4. */
        public Builder maxSequences(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxSequences must be at least 1: " + n);
            }
            this.maxSequences = n;
            return this;
        }

        /** Prompt tokens processed per forward pass; default 64. */
        public Builder batch(int tokens) {
            if (tokens < 1) {
                throw new IllegalArgumentException("batch must be at least 1: " + tokens);
            }
            this.batch = tokens;
            return this;
        }

        /** The KV cache's element type: {@code f32}, {@code f16} (default), {@code bf16} or {@code q8_0}. */
        public Builder kvType(String type) {
            try {
                this.kvType = KvType.valueOf(type.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("kvType must be f32, f16, bf16 or q8_0, not '" + type + "'");
            }
            return this;
        }

        /**
         * Whether a prompt longer than the context keeps only its last tokens (leaving room for the
         * reply) instead of throwing {@link ContextOverflowException}; default false.
         */
        public Builder truncatePrompts(boolean truncate) {
            this.truncate = truncate;
            return this;
        }

        /**
         * Loads the model.
         *
         * @throws IllegalStateException if no model was set or the backend cannot run here
         * @throws IOException           if the model cannot be read
         */
        public Engine build() throws IOException {
            if (model == null) {
                throw new IllegalStateException("no model set: call model(path) first");
            }
            String name = backend != null ? backend : System.getProperty(BackendChoice.PROPERTY);
            Backend b = BackendChoice.open(name, threads);
            try {
                return new Engine(model, b, batch, contextLength, maxSequences, kvType, truncate);
            } catch (IOException | RuntimeException e) {
                b.close();
                throw e;
            }
        }
    }
}
