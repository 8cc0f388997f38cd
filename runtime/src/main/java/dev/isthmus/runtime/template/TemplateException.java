package dev.isthmus.runtime.template;

/**
 * A chat template could not be parsed or rendered: a syntax error (with its line), an error the
 * template raised itself ({@code raise_exception(...)}), a Python-style type error, or a sandbox
 * limit (output size, loop iterations, recursion depth) that was reached.
 */
public final class TemplateException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, and where when known */
    public TemplateException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, and where when known
     * @param cause the underlying error
     */
    public TemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
