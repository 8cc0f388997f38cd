package dev.isthmus;

import java.time.Duration;

/**
 * Figures of one generation.
 *
 * @param promptTokens     tokens of the prompt
 * @param generatedTokens  tokens generated (the end-of-text token not counted)
 * @param timeToFirstToken from the start to the first generated token (prompt processing included)
 * @param promptTime       prompt processing
 * @param generationTime   from the first generated token to the end
 */
public record GenerationStats(int promptTokens, int generatedTokens, Duration timeToFirstToken, Duration promptTime,
                              Duration generationTime) {
    /** Prompt tokens per second. */
    public double promptTokensPerSecond() {
        return rate(promptTokens, promptTime);
    }

    /** Generated tokens per second (after the first). */
    public double generatedTokensPerSecond() {
        return rate(generatedTokens - 1, generationTime);
    }

    private static double rate(int n, Duration d) {
        return n <= 0 || d.isZero() ? 0 : n / (d.toNanos() / 1e9);
    }
}
