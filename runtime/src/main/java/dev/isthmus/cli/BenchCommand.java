package dev.isthmus.cli;

import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.BackendChoice;
import dev.isthmus.runtime.ModelInspection;
import dev.isthmus.runtime.model.DenseModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus bench MODEL -p 64 -n 32 -t THREADS -r REPS [--backend NAME] [--json]}, in the manner
 * of llama-bench: prompt processing (pp: {@code -p} random tokens in one forward pass from an empty
 * cache) and text generation (tg: {@code -n} tokens one at a time from an empty cache), each
 * repeated {@code -r} times with pp and tg runs interleaved, reported as mean ± sample standard
 * deviation of tokens/s. tg is also given as a percentage of the memory-bandwidth roofline:
 * the weight bytes read per token against the bandwidth measured in the same run.
 */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Measures prompt processing (pp) and generation (tg) speed in tokens/s, llama-bench style, with tg as a "
                    + "percentage of the memory-bandwidth roofline measured in the same run.",
            "Runs are interleaved (pp, tg, pp, tg, ...) after one warm-up of each; figures are mean ± sd."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A GGUF file or an HF model folder.")
    Path model;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "64", paramLabel = "N",
            description = "Prompt tokens per pp run (default: ${DEFAULT-VALUE}; 0 skips pp).")
    int prompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "32", paramLabel = "N",
            description = "Generated tokens per tg run (default: ${DEFAULT-VALUE}; 0 skips tg).")
    int gen;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", paramLabel = "N",
            description = "CPU threads (default: the physical cores).")
    int threads;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5", paramLabel = "N",
            description = "Measured runs of each test (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = {"-b", "--batch"}, defaultValue = "512", paramLabel = "N",
            description = "Largest prefill chunk in tokens (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--kv", defaultValue = "f16", paramLabel = "TYPE",
            description = "KV cache type: f32, f16, bf16, q8_0 (default: ${DEFAULT-VALUE}, as llama-bench).")
    String kv;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend (cpu, cuda); default: the probe's choice (-Disthmus.backend also works).")
    String backend;

    @Option(names = "--json", description = "Print the results as one JSON object on stdout.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (prompt < 0 || gen < 0 || (prompt == 0 && gen == 0)) {
            throw new IllegalArgumentException("-p and -n must not be negative and not both 0 (got " + prompt + ", "
                    + gen + ")");
        }
        if (reps < 1) {
            throw new IllegalArgumentException("-r must be at least 1, got " + reps);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("-t must not be negative, got " + threads);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("-b must be at least 1, got " + batch);
        }
        KvType kvType;
        try {
            kvType = KvType.valueOf(kv.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--kv: unknown KV type '" + kv + "'; use f32, f16, bf16 or q8_0");
        }
        PrintWriter err = spec.commandLine().getErr();
        String name = backend != null ? backend : System.getProperty(BackendChoice.PROPERTY);
        try (Backend b = BackendChoice.open(name, threads);
             DenseModel m = DenseModel.load(model, b, Math.min(batch, Math.max(1, prompt)))) {
            int usedThreads = b instanceof dev.isthmus.kernels.cpu.CpuBackend c ? c.threads() : threads;
            if (prompt + gen + 1 > m.spec().maxPositions()) {
                throw new IllegalArgumentException("-p " + prompt + " + -n " + gen + " exceed the model's context of "
                        + m.spec().maxPositions());
            }
            SplittableRandom random = new SplittableRandom(42);
            int vocab = m.spec().vocab();
            int[] promptTokens = random.ints(Math.max(prompt, 1), 0, vocab).toArray();
            err.printf("isthmus: %s, %s, %s weights read per token; warming up%n", model.getFileName(), m.weightTypes(),
                    ModelInspection.human(m.weightBytesPerToken()));
            err.flush();
            if (prompt > 0) {
                pp(m, promptTokens, kvType);
            }
            if (gen > 0) {
                tg(m, promptTokens[0], Math.min(gen, 4), kvType);
            }
            double[] pp = new double[reps];
            double[] tg = new double[reps];
            for (int r = 0; r < reps; r++) {
                if (prompt > 0) {
                    pp[r] = prompt / pp(m, promptTokens, kvType);
                }
                if (gen > 0) {
                    tg[r] = gen / tg(m, promptTokens[0], gen, kvType);
                }
                err.printf("isthmus: run %d/%d%s%s%n", r + 1, reps,
                        prompt > 0 ? String.format(Locale.ROOT, "  pp%d %.2f t/s", prompt, pp[r]) : "",
                        gen > 0 ? String.format(Locale.ROOT, "  tg%d %.2f t/s", gen, tg[r]) : "");
                err.flush();
            }
            double bandwidth = b.measureMemoryBandwidth();
            double roofline = bandwidth > 0 ? bandwidth / m.weightBytesPerToken() : Double.NaN;
            double tgMean = mean(tg);
            double rooflinePct = gen > 0 && roofline > 0 ? 100 * tgMean / roofline : Double.NaN;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", model.getFileName().toString());
            out.put("type", m.weightTypes());
            out.put("family", m.spec().family());
            out.put("weight_bytes_per_token", m.weightBytesPerToken());
            out.put("backend", b.name());
            out.put("threads", usedThreads);
            out.put("kv_type", kvType.name().toLowerCase(Locale.ROOT));
            out.put("n_prompt", prompt);
            out.put("n_gen", gen);
            out.put("repetitions", reps);
            out.put("pp_tps", prompt > 0 ? round(mean(pp)) : null);
            out.put("pp_tps_sd", prompt > 0 ? round(sd(pp)) : null);
            // the layers' matmuls only (2 flops a weight element a token; attention and logits not counted)
            out.put("pp_tflops", prompt > 0 ? round(mean(pp) * 2.0 * m.layerMatmulElements() / 1e12) : null);
            out.put("tg_tps", gen > 0 ? round(tgMean) : null);
            out.put("tg_tps_sd", gen > 0 ? round(sd(tg)) : null);
            out.put("bandwidth_gbs", bandwidth > 0 ? round(bandwidth / 1e9) : null);
            out.put("roofline_tps", roofline > 0 ? round(roofline) : null);
            out.put("roofline_pct", Double.isNaN(rooflinePct) ? null : round(rooflinePct));
            PrintWriter o = spec.commandLine().getOut();
            if (json) {
                o.println(Json.pretty(out));
            } else {
                o.printf("| %-28s | %-10s | %10s | %-7s | %7s | %-6s | %18s |%n", "model", "type", "size", "backend",
                        "threads", "test", "t/s");
                o.printf("| %-28s | %-10s | %10s | %-7s | %7s | %-6s | %18s |%n", "-".repeat(28), "-".repeat(10),
                        "-".repeat(10), "-".repeat(7), "-".repeat(7), "-".repeat(6), "-".repeat(18));
                String size = ModelInspection.human(m.weightBytesPerToken());
                if (prompt > 0) {
                    o.printf(Locale.ROOT, "| %-28s | %-10s | %10s | %-7s | %7d | %-6s | %18s |%n",
                            model.getFileName(), m.weightTypes(), size, b.name(), usedThreads, "pp" + prompt,
                            String.format(Locale.ROOT, "%.2f ± %.2f", mean(pp), sd(pp)));
                }
                if (gen > 0) {
                    o.printf(Locale.ROOT, "| %-28s | %-10s | %10s | %-7s | %7d | %-6s | %18s |%n",
                            model.getFileName(), m.weightTypes(), size, b.name(), usedThreads, "tg" + gen,
                            String.format(Locale.ROOT, "%.2f ± %.2f", tgMean, sd(tg)));
                }
                if (roofline > 0 && gen > 0) {
                    o.printf(Locale.ROOT, "roofline: %s per token at %.1f GB/s (measured now) = %.1f t/s; tg is %.0f%% "
                            + "of it%n", size, bandwidth / 1e9, roofline, rooflinePct);
                }
            }
            o.flush();
        }
        return 0;
    }

    /** Seconds for one prompt pass from an empty cache. */
    private static double pp(DenseModel m, int[] tokens, KvType kv) {
        try (DenseModel.Session s = m.newSession(tokens.length, kv)) {
            long t0 = System.nanoTime();
            s.next(tokens);
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    /** Seconds for {@code n} single-token steps from an empty cache. */
    private static double tg(DenseModel m, int first, int n, KvType kv) {
        try (DenseModel.Session s = m.newSession(n, kv)) {
            int[] step = {first};
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                step[0] = s.next(step);
            }
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double sd(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
