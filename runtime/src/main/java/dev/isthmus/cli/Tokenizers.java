package dev.isthmus.cli;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Loads the tokenizer of a model given on the command line (a GGUF file or an HF folder). */
final class Tokenizers {
    private Tokenizers() {
    }

    static Tokenizer load(Path model) throws IOException {
        if (Files.isDirectory(model)) {
            return Tokenizer.fromHfFolder(model);
        }
        if (!Files.exists(model)) {
            throw new NoSuchFileException(model.toString());
        }
        try (GgufFile f = GgufFile.open(model)) {
            return Tokenizer.fromGguf(f);
        }
    }
}
