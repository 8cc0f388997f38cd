package dev.isthmus.cli;

import dev.isthmus.runtime.convert.ConvertType;
import dev.isthmus.runtime.convert.RandomGguf;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code isthmus random --like SHAPE --type TYPE --out FILE.gguf [--seed N] [--vocab V.gguf] [--force] [--dry-run]}. */
@Command(name = "random",
        mixinStandardHelpOptions = true,
        description = {
            "Writes a full-size GGUF with RANDOM weights and a real model's shapes and metadata, FOR SPEED "
                    + "MEASUREMENTS ONLY: its output is noise. llama.cpp loads it like the real model.",
            "Metadata, tensor names and per-tensor types are those 'isthmus convert' writes for the same config.json; "
                    + "weights are bell-shaped with std 0.02, norms are ones. The tokenizer is copied from a vocab GGUF "
                    + "(default: ../shared/vocab/regen-vocab-llama3.gguf or regen-vocab-qwen3.gguf, relative to the "
                    + "current directory or the repository root); without one the GGUF has no tokenizer."})
final class RandomCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--like", required = true, paramLabel = "SHAPE",
            description = "llama-3.2-1b, qwen3-0.6b, llama-3.1-8b, or a path to a Hugging Face config.json "
                    + "(or its folder) of a family convert supports.")
    String like;

    @Option(names = "--type", required = true, paramLabel = "TYPE",
            description = "f16, bf16, q8_0, q4_0, q4_k, q6_k (or f32).")
    String type;

    @Option(names = "--out", paramLabel = "FILE.gguf", description = "The GGUF file to write (required unless --dry-run).")
    Path out;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--vocab", paramLabel = "VOCAB.gguf",
            description = "A GGUF whose tokenizer.* keys to copy; its token count must equal the shape's vocab size.")
    Path vocab;

    @Option(names = "--force", description = "Replace FILE.gguf if it exists.")
    boolean force;

    @Option(names = "--dry-run", description = "Print the tensor table and sizes; write nothing.")
    boolean dryRun;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outW = spec.commandLine().getOut();
        ConvertType t = ConvertType.parse(type);
        java.util.function.Consumer<String> warn = w -> {
            err.println("warning: " + w);
            err.flush();
        };
        if (dryRun) {
            RandomGguf.Model m = RandomGguf.plan(like, t, vocab, warn);
            for (String line : m.table()) {
                outW.println(line);
            }
            outW.printf(Locale.ROOT, "%s: %s, %d tensors, %s, %,d bytes of tensor data (%s), tokenizer: %s%n", m.name(),
                    m.arch(), m.tensorCount(), t, m.tensorBytes(), ConvertCommand.ProgressBar.human(m.tensorBytes()),
                    m.vocab() == null ? "none" : m.vocab());
            outW.flush();
            return 0;
        }
        if (out == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--out=FILE.gguf'");
        }
        if (threads != null && threads < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--threads must be at least 1");
        }
        boolean terminal = System.console() != null && System.console().isTerminal();
        long t0 = System.nanoTime();
        RandomGguf.Result r = RandomGguf.generate(new RandomGguf.Options(like, t, out, seed, vocab, force), warn,
                new ConvertCommand.ProgressBar(err, terminal, "generating"),
                threads != null ? threads : Runtime.getRuntime().availableProcessors());
        outW.printf(Locale.ROOT, "wrote %s: %s (random weights, seed %d), %d tensors, %s, %s in %.1f s%n", out, r.arch(),
                seed, r.tensors(), t, ConvertCommand.ProgressBar.human(r.bytes()), (System.nanoTime() - t0) / 1e9);
        outW.flush();
        return 0;
    }
}
