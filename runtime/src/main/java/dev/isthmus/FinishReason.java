package dev.isthmus;

/** Why a generation ended. */
public enum FinishReason {
    /** The model produced an end-of-generation token (EOS, end of turn). */
    END_OF_TEXT,
    /** A stop string or stop token of the {@link Sampling} was produced (not included in the text). */
    STOP,
    /** {@link Sampling#maxTokens()} tokens were generated, or the context is full. */
    LENGTH
}
