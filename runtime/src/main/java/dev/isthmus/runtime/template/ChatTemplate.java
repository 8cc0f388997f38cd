package dev.isthmus.runtime.template;

import dev.isthmus.runtime.template.Node.Stmt;
import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A model's chat template (Jinja, as in {@code tokenizer.chat_template} of a GGUF file or
 * {@code chat_template} of {@code tokenizer_config.json} / {@code chat_template.jinja}), compiled once
 * and rendered the way Hugging Face transformers' {@code apply_chat_template} renders it.
 *
 * <p>Our own interpreter for the Jinja subset that chat templates use (statements {@code if}, {@code
 * for} with {@code loop}, {@code set} including {@code namespace} attributes and blocks, {@code macro},
 * {@code break}/{@code continue}, {@code generation}; Python expressions with slices, conditional
 * expressions, {@code in}, tests and filters; the str/dict methods templates call such as {@code
 * strip}, {@code startswith}, {@code split}, {@code items}, {@code get}), configured as transformers
 * configures Jinja2: {@code trim_blocks} and {@code lstrip_blocks} on, {@code tojson} as Python's
 * {@code json.dumps(ensure_ascii=False)}, {@code raise_exception(msg)} and {@code strftime_now(fmt)}.
 *
 * <p>Sandboxed: a template sees only the variables it is given, copied into plain values (maps,
 * lists, strings, numbers, booleans, null); no Java object, method or class is reachable; lists and
 * dicts cannot be changed; output size, loop iterations and macro-call depth are bounded by
 * {@link Limits}. Every failure is a {@link TemplateException} (with the template line where known).
 * A compiled template is immutable and may be rendered from several threads at once.
 */
public final class ChatTemplate {
    /** The largest template source accepted, in characters. */
    public static final int MAX_SOURCE_CHARS = 1 << 20;

    /**
     * Sandbox bounds for one render.
     *
     * @param maxOutputChars the most characters a render may produce
     * @param maxLoopIterations the most loop iterations, all loops together
     * @param maxCallDepth the deepest nesting of macro calls
     */
    public record Limits(long maxOutputChars, long maxLoopIterations, int maxCallDepth) {
        /** Bounds that every real chat template stays far inside: 4M characters, 1M iterations, depth 64. */
        public static final Limits DEFAULT = new Limits(4L << 20, 1_000_000, 64);

        /** @throws IllegalArgumentException if a bound is not positive */
        public Limits {
            if (maxOutputChars <= 0 || maxLoopIterations <= 0 || maxCallDepth <= 0)
                throw new IllegalArgumentException("template limits must be positive: " + maxOutputChars + ", "
                        + maxLoopIterations + ", " + maxCallDepth);
        }
    }

    private final List<Stmt> body;
    private final Limits limits;
    private final Supplier<LocalDateTime> clock;

    private ChatTemplate(List<Stmt> body, Limits limits, Supplier<LocalDateTime> clock) {
        this.body = body;
        this.limits = limits;
        this.clock = clock;
    }

    /**
     * Compiles a template with the default limits and the system clock for {@code strftime_now}.
     *
     * @throws TemplateException on a syntax error (naming the line)
     */
    public static ChatTemplate compile(String source) {
        return compile(source, Limits.DEFAULT, LocalDateTime::now);
    }

    /**
     * Compiles a template.
     *
     * @param source the Jinja source
     * @param limits the sandbox bounds for each render
     * @param clock the local time {@code strftime_now} formats
     * @throws TemplateException on a syntax error (naming the line) or a source over {@link #MAX_SOURCE_CHARS}
     */
    public static ChatTemplate compile(String source, Limits limits, Supplier<LocalDateTime> clock) {
        Objects.requireNonNull(source, "source");
        if (source.length() > MAX_SOURCE_CHARS)
            throw new TemplateException("the template has " + source.length() + " characters; at most " + MAX_SOURCE_CHARS + " are accepted");
        return new ChatTemplate(Parser.parse(source), Objects.requireNonNull(limits, "limits"), Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Renders a conversation as transformers' {@code apply_chat_template(messages, tools=tools,
     * add_generation_prompt=..., tokenize=False)} does.
     *
     * @param messages the messages: maps with {@code role}, {@code content} (a string, null, or a list of
     *                 parts), and optionally {@code tool_calls}, {@code reasoning_content}, ...
     * @param tools the tool definitions (JSON-schema maps), or null for none
     * @param addGenerationPrompt whether to end with the assistant's turn opener
     * @param specialTokens the tokenizer's special tokens by name ({@code bos_token}, {@code eos_token}, ...)
     * @param extra further template variables (e.g. {@code enable_thinking}); may be empty
     * @return the prompt text
     * @throws TemplateException if the template refuses the conversation or fails
     * @throws IllegalArgumentException if a variable holds something other than maps, lists, strings, numbers, booleans or null
     */
    public String render(List<? extends Map<String, ?>> messages, List<? extends Map<String, ?>> tools,
                         boolean addGenerationPrompt, Map<String, String> specialTokens, Map<String, ?> extra) {
        Map<String, Object> vars = new HashMap<>();
        vars.putAll(specialTokens);
        vars.putAll(extra);
        vars.put("messages", Objects.requireNonNull(messages, "messages"));
        vars.put("tools", tools);
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        return render(vars);
    }

    /**
     * Renders with the given variables (copied into template values first).
     *
     * @throws TemplateException if the template fails or a sandbox limit is reached
     * @throws IllegalArgumentException if a variable holds something other than maps, lists, strings, numbers, booleans or null
     */
    public String render(Map<String, ?> variables) {
        Builtins builtins = new Builtins(clock);
        Interpreter.Scope globals = new Interpreter.Scope(null);
        builtins.addGlobals(globals.vars);
        for (var e : variables.entrySet()) globals.vars.put(e.getKey(), Py.fromJava(e.getValue(), 0));
        Interpreter.Scope root = new Interpreter.Scope(globals);
        try {
            return new Interpreter(limits, builtins).render(body, root);
        } catch (StackOverflowError e) {
            throw new TemplateException("the template recursed too deeply (sandbox limit)");
        } catch (ArithmeticException e) {
            throw new TemplateException("OverflowError: integer overflow in the template (" + e.getMessage() + ")");
        }
    }
}
