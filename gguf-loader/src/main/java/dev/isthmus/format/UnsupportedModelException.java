package dev.isthmus.format;

import java.nio.file.Path;

/**
 * A well-formed model file that Isthmus cannot run: an architecture it does not implement, or a
 * tensor type it cannot compute with yet. Files are inspected regardless; this is raised only when
 * a model is loaded for inference. It extends {@link ModelFormatException} so that callers who only
 * care whether a file is usable catch one type.
 */
public class UnsupportedModelException extends ModelFormatException {
    public UnsupportedModelException(Path file, long offset, String reason) {
        super(file, offset, reason);
    }
}
