package dev.isthmus.cli;

import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus tokenize MODEL --text-file F [--text-file G ...] [--special] [--bos]}: for each
 * file in order, one stdout line with the ids of its whole content, space-separated (an empty line
 * when there are none). This output is a contract.
 */
@Command(name = "tokenize",
        mixinStandardHelpOptions = true,
        description = {
            "Tokenizes the whole content of each text file (UTF-8) and prints, for each file in order, its token ids "
                    + "on one line, separated by spaces (an empty line for no tokens).",
            "MODEL is a GGUF file or a Hugging Face folder with tokenizer.json."})
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A GGUF file or an HF model folder.")
    Path model;

    @Option(names = "--text-file", required = true, paramLabel = "FILE",
            description = "A UTF-8 text file to tokenize (repeatable; the files are done in order).")
    List<Path> files;

    @Option(names = "--special", description = "Parse special tokens written in the text (e.g. <|im_start|>); "
            + "without it they are tokenized as plain text.")
    boolean special;

    @Option(names = "--bos", description = "Add the tokens the model's metadata asks for around a sequence "
            + "(BOS when add_bos_token is true, EOS when add_eos_token is, BERT's CLS/SEP).")
    boolean bos;

    @Override
    public Integer call() throws IOException {
        Tokenizer tok = Tokenizers.load(model);
        String[] texts = new String[files.size()];
        for (int i = 0; i < texts.length; i++) {
            texts[i] = readUtf8(files.get(i)); // all read first: a bad file prints nothing
        }
        PrintWriter out = spec.commandLine().getOut();
        for (String text : texts) {
            int[] ids = tok.encode(text, bos, special);
            StringBuilder line = new StringBuilder(ids.length * 6);
            for (int i = 0; i < ids.length; i++) {
                if (i > 0) {
                    line.append(' ');
                }
                line.append(ids[i]);
            }
            out.print(line.append('\n'));
        }
        out.flush();
        return 0;
    }

    static String readUtf8(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (MalformedInputException e) {
            throw new IllegalArgumentException(file + " is not valid UTF-8 (" + e.getMessage() + ")");
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + " is not valid UTF-8");
        }
    }
}
