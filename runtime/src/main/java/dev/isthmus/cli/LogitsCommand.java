package dev.isthmus.cli;

import dev.isthmus.runtime.BackendChoice;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.model.DenseModel;
import dev.isthmus.runtime.model.DenseTransformer;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus logits MODEL --tokens 1,2,3 --out FILE [--backend cpu] [--threads N] [--greedy N]}:
 * the contract by which anyone checks Isthmus against another implementation. The file holds the
 * logits of every position as raw little-endian float32, shape {@code [tokens, vocab]}, row-major;
 * with {@code --greedy N}, stdout gets one line: the N greedy ids after the tokens (KV cache on).
 */
@Command(name = "logits",
        mixinStandardHelpOptions = true,
        description = {
            "Runs the full forward pass over the given tokens and writes the logits of every position as raw "
                    + "little-endian float32, shape [tokens, vocab], row-major.",
            "With --greedy N it then prints, on one stdout line, the N greedy token ids generated after the given "
                    + "tokens (using the KV cache).",
            "MODEL is a GGUF file or a Hugging Face folder (config.json + safetensors)."})
final class LogitsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A GGUF file or an HF model folder.")
    Path model;

    @Option(names = "--tokens", required = true, split = ",", paramLabel = "ID,ID,...",
            description = "The token ids, comma-separated.")
    int[] tokens;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write the logits.")
    Path out;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend to run on (cpu, cuda); default: the probe's choice (-Disthmus.backend also works).")
    String backend;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "CPU threads (default: the physical cores).")
    int threads;

    @Option(names = "--reference",
            description = "Use the float32 reference forward pass (weights dequantized to float arrays, double "
                    + "accumulation) instead of the backend's kernels; CPU only, slow.")
    boolean reference;

    @Option(names = "--greedy", defaultValue = "0", paramLabel = "N",
            description = "Also print the N greedy token ids that follow the given tokens.")
    int greedy;

    @Override
    public Integer call() throws IOException {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("--tokens: no token ids given");
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must not be negative, got " + threads);
        }
        if (greedy < 0) {
            throw new IllegalArgumentException("--greedy must not be negative, got " + greedy);
        }
        if (reference) {
            DenseTransformer m = DenseTransformer.load(model, Math.max(1, threads));
            check(m.spec().vocab(), m.spec().maxPositions());
            write(m.logits(tokens), m.spec().vocab());
            if (greedy > 0) {
                print(m.greedy(tokens, greedy));
            }
            return 0;
        }
        String name = backend != null ? backend : System.getProperty(BackendChoice.PROPERTY);
        try (Backend b = BackendChoice.open(name, threads); DenseModel m = DenseModel.load(model, b)) {
            check(m.spec().vocab(), m.spec().maxPositions());
            write(m.logits(tokens), m.spec().vocab());
            if (greedy > 0) {
                print(m.greedy(tokens, greedy, KvType.F32));
            }
        }
        return 0;
    }

    private void check(int vocab, int context) {
        for (int t : tokens) {
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("--tokens: id " + t + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (tokens.length + greedy > context) {
            throw new IllegalArgumentException(tokens.length + greedy + " tokens exceed the model's context of "
                    + context);
        }
    }

    private void write(float[] logits, int vocab) throws IOException {
        writeFloats(out, logits);
        PrintWriter err = spec.commandLine().getErr();
        err.printf("isthmus: wrote %d x %d logits to %s%n", tokens.length, vocab, out);
        err.flush();
    }

    private void print(int[] ids) {
        PrintWriter o = spec.commandLine().getOut();
        o.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
        o.flush();
    }

    /** Raw little-endian float32, written through a temporary file so a failure leaves no partial output. */
    static void writeFloats(Path file, float[] values) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(parent, file.getFileName().toString(), ".part");
        try {
            try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : values) {
                    if (!b.hasRemaining()) {
                        os.write(b.array(), 0, b.position());
                        b.clear();
                    }
                    b.putFloat(v);
                }
                os.write(b.array(), 0, b.position());
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
