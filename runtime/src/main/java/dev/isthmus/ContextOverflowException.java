package dev.isthmus;

/** A prompt that does not fit the engine's context (and the caller did not ask for truncation). */
public final class ContextOverflowException extends IllegalArgumentException {
    private final int promptTokens;
    private final int contextLength;

    public ContextOverflowException(int promptTokens, int contextLength) {
        super("the prompt has " + promptTokens + " tokens, the context holds " + contextLength
                + " (at least one must be left to generate)");
        this.promptTokens = promptTokens;
        this.contextLength = contextLength;
    }

    /** Tokens of the prompt. */
    public int promptTokens() {
        return promptTokens;
    }

    /** The engine's context length. */
    public int contextLength() {
        return contextLength;
    }
}
