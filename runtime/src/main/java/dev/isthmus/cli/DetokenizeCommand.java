package dev.isthmus.cli;

import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus detokenize MODEL --ids "1 2 3"}: prints the text of the ids, exactly (no newline
 * is added). This output is a contract.
 */
@Command(name = "detokenize",
        mixinStandardHelpOptions = true,
        description = {
            "Prints the text of the given token ids exactly as decoded (UTF-8, no newline added). Control tokens "
                    + "(BOS, EOS, turn markers) add nothing; bytes that do not form UTF-8 print as U+FFFD.",
            "MODEL is a GGUF file or a Hugging Face folder with tokenizer.json."})
final class DetokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A GGUF file or an HF model folder.")
    Path model;

    @Option(names = "--ids", required = true, paramLabel = "\"ID ID ...\"",
            description = "The token ids, separated by spaces (or commas).")
    String ids;

    @Override
    public Integer call() throws IOException {
        String s = ids.strip();
        String[] parts = s.isEmpty() ? new String[0] : s.split("[\\s,]+");
        int[] tokens = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                tokens[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--ids: '" + parts[i] + "' is not a token id");
            }
        }
        Tokenizer tok = Tokenizers.load(model);
        for (int t : tokens) {
            if (t < 0 || t >= tok.vocabSize()) {
                throw new IllegalArgumentException("--ids: id " + t + " is outside the vocabulary [0, " + tok.vocabSize() + ")");
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(tok.decode(tokens));
        out.flush();
        return 0;
    }
}
