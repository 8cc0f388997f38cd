package dev.isthmus.cli;

import dev.isthmus.runtime.convert.ConvertType;
import dev.isthmus.runtime.convert.HfToGguf;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code isthmus convert HF_DIR --out FILE.gguf [--type TYPE] [--force]}. */
@Command(name = "convert",
        mixinStandardHelpOptions = true,
        description = {
            "Converts a Hugging Face model folder (config.json + *.safetensors + tokenizer.json) to a GGUF file "
                    + "that llama.cpp loads: the same architecture, metadata keys and tensor names as llama.cpp's "
                    + "convert_hf_to_gguf.py.",
            "Families (model_type): llama, mistral, mistral3 (text model), qwen2, qwen3, gemma2, gemma3, gemma3_text, "
                    + "olmo2, olmo3, smollm3, phi3.",
            "Norms and biases stay F32. A weight whose rows are not whole blocks of TYPE falls back "
                    + "(q4_k/q6_k -> q8_0 -> f16) with a warning. With q4_0/q4_k/q6_k the output projection is Q6_K."})
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "HF_DIR", description = "A Hugging Face model folder.")
    Path dir;

    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "The GGUF file to write.")
    Path out;

    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "f16",
            description = "f32, f16, bf16, q8_0, q4_0, q4_k or q6_k (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--force", description = "Replace FILE.gguf if it exists.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outW = spec.commandLine().getOut();
        ConvertType t = ConvertType.parse(type);
        boolean terminal = System.console() != null && System.console().isTerminal();
        HfToGguf.Result r = HfToGguf.convert(new HfToGguf.Options(dir, out, t, force),
                w -> {
                    err.println("warning: " + w);
                    err.flush();
                },
                new ProgressBar(err, terminal));
        outW.printf(Locale.ROOT, "wrote %s: %s, %d tensors, %s, %s%n", out, r.arch(), r.tensors(), t,
                ProgressBar.human(r.bytes()));
        outW.flush();
        return 0;
    }

    /** Bytes done / total, percent and rate on stderr: one line redrawn with \r on a terminal, else a line per quarter. */
    static final class ProgressBar implements HfToGguf.Progress {
        private final PrintWriter err;
        private final boolean terminal;
        private final String label;
        private long total = -1;
        private long startNanos;
        private long lastDraw;
        private int lastQuarter;

        ProgressBar(PrintWriter err, boolean terminal) {
            this(err, terminal, "converting");
        }

        ProgressBar(PrintWriter err, boolean terminal, String label) {
            this.err = err;
            this.terminal = terminal;
            this.label = label;
        }

        @Override
        public void start(long totalBytes) {
            total = Math.max(1, totalBytes);
            startNanos = System.nanoTime();
        }

        @Override
        public void update(long done) {
            if (total < 0) {
                return;
            }
            long now = System.nanoTime();
            if (terminal) {
                if (now - lastDraw > 100_000_000L) {
                    lastDraw = now;
                    err.print("\r" + line(done, now));
                    err.flush();
                }
            } else {
                int q = (int) Math.min(4, done * 4 / total);
                if (q > lastQuarter && q < 4) {
                    lastQuarter = q;
                    err.println(line(done, now));
                    err.flush();
                }
            }
        }

        @Override
        public void finish() {
            String l = line(total, System.nanoTime());
            err.println(terminal ? "\r" + l : l);
            err.flush();
        }

        private String line(long done, long now) {
            double secs = Math.max(1e-9, (now - startNanos) / 1e9);
            return String.format(Locale.ROOT, "%s: %s / %s (%3.0f%%) %s/s", label, human(done), human(total),
                    100.0 * Math.min(done, total) / total, human((long) (done / secs)));
        }

        static String human(long b) {
            if (b < 1024) {
                return b + " B";
            }
            String[] u = {"KiB", "MiB", "GiB", "TiB"};
            double v = b;
            int i = -1;
            while (v >= 1024 && i < u.length - 1) {
                v /= 1024;
                i++;
            }
            return String.format(Locale.ROOT, "%.1f %s", v, u[i]);
        }
    }
}
