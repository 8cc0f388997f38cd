package dev.isthmus.cli;

import dev.isthmus.Engine;
import dev.isthmus.Isthmus;
import dev.isthmus.Sampling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by {@code run} and {@code chat}: the model (or the embedded default), the backend and sampling. */
final class GenerationOptions {
    /** The embedded default model, relative to the installation ({@code -Disthmus.home}, set by the launcher). */
    static final String DEFAULT_MODEL = "models/isthmus-demo-q8_0.gguf";

    @Option(names = {"-m", "--model"}, paramLabel = "MODEL",
            description = "A GGUF file or an HF folder (default: $ISTHMUS_MODEL, else the embedded demo model "
                    + DEFAULT_MODEL + ").")
    Path model;

    @Option(names = {"-n", "--max-tokens"}, defaultValue = "256", paramLabel = "N",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temp", defaultValue = "0.8", paramLabel = "T",
            description = "Temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "40", paramLabel = "K", description = "Top-k (default: ${DEFAULT-VALUE}; 0: off).")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", paramLabel = "P", description = "Top-p (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--min-p", defaultValue = "0.05", paramLabel = "P", description = "Min-p (default: ${DEFAULT-VALUE}).")
    double minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.1", paramLabel = "X",
            description = "Repetition penalty over the last 64 tokens (default: ${DEFAULT-VALUE}; 1: off).")
    double repeatPenalty;

    @Option(names = "--seed", paramLabel = "N", description = "Random seed (default: a random one).")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text is generated (repeatable).")
    String[] stop = new String[0];

    @Option(names = {"-t", "--threads"}, defaultValue = "0", paramLabel = "N",
            description = "CPU threads (default: the physical cores).")
    int threads;

    @Option(names = {"-c", "--context"}, defaultValue = "0", paramLabel = "N",
            description = "Context length in tokens (default: the model's, at most 4096).")
    int context;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend (cpu, cuda); default: the probe's choice (-Disthmus.backend also works).")
    String backend;

    Sampling sampling() {
        Sampling s = Sampling.defaults().temperature(temperature).topK(topK).topP(topP).minP(minP)
                .repetitionPenalty(repeatPenalty).penaltyWindow(64).maxTokens(maxTokens);
        if (seed != null) {
            s = s.seed(seed);
        }
        if (stop.length > 0) {
            s = s.stop(stop);
        }
        return s;
    }

    Path modelPath() throws IOException {
        if (model != null) {
            return model;
        }
        String env = System.getenv("ISTHMUS_MODEL");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path home = Path.of(System.getProperty("isthmus.home", "."));
        Path p = home.resolve(DEFAULT_MODEL);
        if (!Files.isRegularFile(p)) {
            throw new NoSuchFileException(p.toString(), null,
                    "no model given (-m MODEL or $ISTHMUS_MODEL) and the embedded demo model is not there");
        }
        return p;
    }

    Engine open() throws IOException {
        Isthmus.Builder b = Isthmus.builder().model(modelPath()).threads(threads).contextLength(context);
        if (backend != null) {
            b.backend(backend);
        }
        return b.build();
    }
}
