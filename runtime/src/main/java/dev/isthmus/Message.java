package dev.isthmus;

import java.util.Objects;

/**
 * One message of a chat: a role ({@code system}, {@code user}, {@code assistant}, {@code tool}) and
 * its text, rendered into a prompt by the model's own chat template.
 *
 * @param role    the role, as the chat template expects it
 * @param content the text
 */
public record Message(String role, String content) {
    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        if (role.isBlank()) {
            throw new IllegalArgumentException("a message needs a role");
        }
    }

    /** A system message. */
    public static Message system(String content) {
        return new Message("system", content);
    }

    /** A user message. */
    public static Message user(String content) {
        return new Message("user", content);
    }

    /** An assistant message (an earlier reply). */
    public static Message assistant(String content) {
        return new Message("assistant", content);
    }

    /** A tool's result. */
    public static Message tool(String content) {
        return new Message("tool", content);
    }
}
