package dev.isthmus;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a chat: a role ({@code system}, {@code user}, {@code assistant}, {@code tool}), its
 * text, and any further fields the model's chat template reads — e.g. an assistant's
 * {@code tool_calls} or a tool result's {@code tool_call_id}/{@code name} — rendered by the model's
 * own chat template. Field values must be plain data: strings, numbers, booleans, null, lists and maps
 * of those (the template sandbox refuses anything else); use ordered maps (e.g. {@code LinkedHashMap})
 * where the order of keys matters, as {@code tojson} prints them in iteration order.
 *
 * @param role    the role, as the chat template expects it
 * @param content the text
 * @param fields  further template fields (not {@code role} or {@code content}); unmodifiable
 */
public record Message(String role, String content, Map<String, Object> fields) {
    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        if (role.isBlank()) {
            throw new IllegalArgumentException("a message needs a role");
        }
        // insertion order is kept: templates iterate dicts (and tojson prints them) in order
        fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(fields, "fields")));
        if (fields.containsKey("role") || fields.containsKey("content")) {
            throw new IllegalArgumentException("role and content are not extra fields");
        }
    }

    /** A message with no further fields. */
    public Message(String role, String content) {
        this(role, content, Map.of());
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

    /**
     * An assistant message that called tools: {@code toolCalls} as chat templates expect them, e.g.
     * {@code {"type": "function", "function": {"name": "...", "arguments": {...}}}}.
     */
    public static Message assistantToolCalls(String content, List<Map<String, Object>> toolCalls) {
        return new Message("assistant", content, Map.of("tool_calls", List.copyOf(toolCalls)));
    }

    /** This message with one more template field. */
    public Message with(String field, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(fields);
        m.put(Objects.requireNonNull(field, "field"), value);
        return new Message(role, content, m);
    }
}
