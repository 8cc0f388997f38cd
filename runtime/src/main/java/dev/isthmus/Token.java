package dev.isthmus;

/**
 * A streamed piece of a generation.
 *
 * @param id   the generated token's id, or -1 for text released when the generation ends
 * @param text the text that can be shown now; empty while a UTF-8 character or a possible stop
 *             string is incomplete (it comes with a later token, or at the end)
 */
public record Token(int id, String text) {
}
