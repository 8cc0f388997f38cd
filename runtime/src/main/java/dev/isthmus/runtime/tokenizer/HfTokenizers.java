package dev.isthmus.runtime.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

final class HfTokenizers {
    private HfTokenizers() {
    }

    static Tokenizer load(Path dir) throws IOException {
        throw new UnsupportedOperationException("not yet");
    }
}
