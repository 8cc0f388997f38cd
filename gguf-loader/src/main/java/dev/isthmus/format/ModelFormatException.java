package dev.isthmus.format;

import java.nio.file.Path;

/**
 * A model file (GGUF, safetensors, an HF folder's JSON) is malformed or not supported.
 *
 * <p>Model files come from the internet and are untrusted: every structural problem the readers
 * find — truncation, a bad magic, a length beyond the file, a tensor outside the data section,
 * an unknown type id, an absurd header — is reported as this exception, naming the file, the byte
 * offset where the problem was found (or -1 when it has no single offset) and the reason.
 */
public class ModelFormatException extends RuntimeException {
    private final transient Path file;
    private final long offset;
    private final String reason;

    public ModelFormatException(Path file, long offset, String reason) {
        this(file, offset, reason, null);
    }

    public ModelFormatException(Path file, long offset, String reason, Throwable cause) {
        super(format(file, offset, reason), cause);
        this.file = file;
        this.offset = offset;
        this.reason = reason;
    }

    private static String format(Path file, long offset, String reason) {
        String where = file == null ? "<memory>" : file.toString();
        return offset >= 0 ? where + ": at byte " + offset + ": " + reason : where + ": " + reason;
    }

    /** The file in which the problem was found (null for in-memory input). */
    public Path file() {
        return file;
    }

    /** Byte offset of the problem in {@link #file()}, or -1 when it has no single offset. */
    public long offset() {
        return offset;
    }

    /** The reason alone, without file and offset. */
    public String reason() {
        return reason;
    }
}
