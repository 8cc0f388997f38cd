package dev.isthmus.cli;

import dev.isthmus.Completion;
import dev.isthmus.Engine;
import dev.isthmus.GenerationStats;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus run [-m MODEL] [PROMPT] [-n N] [--temp T] ...}: streams a completion of the prompt to
 * stdout, then one line of stats on stderr (prompt and generation tokens/s, time to first token).
 */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        description = {"Continues PROMPT with the model and streams the text to stdout; a line of stats follows on "
                + "stderr.", "Without -m it runs the embedded demo model (a small Llama trained by the project on "
                + "public-domain English: see models/README.md)."})
final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Parameters(paramLabel = "PROMPT", arity = "0..1", defaultValue = "Once upon a time",
            description = "The text to continue (default: \"${DEFAULT-VALUE}\").")
    String prompt;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        err.printf("isthmus: loading %s%n", options.modelPath());
        err.flush();
        try (Engine engine = options.open()) {
            out.print(prompt);
            out.flush();
            Completion c = engine.complete(prompt, options.sampling(), t -> {
                out.print(t.text());
                out.flush();
            });
            out.println();
            out.flush();
            err.println(stats(c.stats(), engine.backend()));
            err.flush();
        }
        return 0;
    }

    static String stats(GenerationStats s, String backend) {
        return String.format(Locale.ROOT, "isthmus: prompt %d tokens at %.1f t/s, generated %d tokens at %.1f t/s, "
                        + "time to first token %d ms (%s)", s.promptTokens(), s.promptTokensPerSecond(),
                s.generatedTokens(), s.generatedTokensPerSecond(), s.timeToFirstToken().toMillis(), backend);
    }
}
