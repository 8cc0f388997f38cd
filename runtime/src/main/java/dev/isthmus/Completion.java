package dev.isthmus;

import java.util.List;

/**
 * The result of a generation.
 *
 * @param text   the generated text (without a matched stop string)
 * @param tokens the generated token ids
 * @param reason why it ended
 * @param stats  token counts and timings
 */
public record Completion(String text, List<Integer> tokens, FinishReason reason, GenerationStats stats) {
    public Completion {
        tokens = List.copyOf(tokens);
    }
}
