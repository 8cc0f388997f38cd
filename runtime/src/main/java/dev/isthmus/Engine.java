package dev.isthmus;

import dev.isthmus.gguf.GgufFile;
import dev.isthmus.memory.backend.Backend;
import dev.isthmus.memory.kv.KvBlockPool;
import dev.isthmus.memory.kv.KvType;
import dev.isthmus.runtime.model.DenseModel;
import dev.isthmus.runtime.sampling.Sampler;
import dev.isthmus.runtime.sampling.StopMatcher;
import dev.isthmus.runtime.template.ChatTemplate;
import dev.isthmus.runtime.template.ModelChatTemplate;
import dev.isthmus.runtime.tokenizer.Detokenizer;
import dev.isthmus.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * A loaded model, ready to generate: weights mapped (zero copy) on a backend, its tokenizer, its chat
 * template, and a paged KV-cache pool shared by the generations. Made by {@link Isthmus#load} or
 * {@link Isthmus#builder()}.
 *
 * <p><b>Threads.</b> An engine is thread-safe: many threads may generate at once, each generation
 * with its own sequence in the KV cache; their steps run one at a time in turn (continuous batching
 * comes later). {@link #complete} and {@link #chat} block the calling thread; {@link #submit} and
 * {@link #submitChat} run on the engine's virtual threads and return a {@link Generation} that any
 * thread may cancel or wait for.
 *
 * <p><b>Streaming.</b> The {@code onToken} callback gets every generated token with the text it
 * completes ({@link Token}); the concatenated texts equal {@link Completion#text()}. It runs on the
 * generating thread; a callback that throws ends the generation with that exception.
 *
 * <p><b>Errors.</b> A prompt longer than the context: {@link ContextOverflowException} (unless the
 * engine was built with {@link Isthmus.Builder#truncatePrompts(boolean)}). Cancellation:
 * {@link CancellationException}. No KV blocks left for another sequence:
 * {@link dev.isthmus.memory.kv.KvCacheFullException}. A chat template that fails: an
 * {@link IllegalArgumentException} with the template's message. After {@link #close()}: {@link
 * IllegalStateException}. Lone surrogates in prompt strings are encoded as U+FFFD.
 *
 * <p><b>Closing</b> cancels running generations, unmaps the weights and frees the backend's memory.
 */
public final class Engine implements AutoCloseable {
    private final Path path;
    private final Backend backend;
    private final DenseModel model;
    private final Tokenizer tokenizer;
    private final ModelChatTemplate templateSource;
    private volatile ChatTemplate template;
    private final KvBlockPool pool;
    private final int contextLength;
    private final boolean truncate;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Set<Generation> running = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    Engine(Path path, Backend backend, int maxBatch, int contextLength, int maxSequences, KvType kvType,
           boolean truncate) throws IOException {
        this.path = path;
        this.backend = backend;
        this.truncate = truncate;
        DenseModel m = DenseModel.load(path, backend, maxBatch);
        try {
            this.tokenizer = loadTokenizer(path);
            if (tokenizer.vocabSize() > m.spec().vocab()) {
                throw new IllegalArgumentException(path + ": the tokenizer has " + tokenizer.vocabSize()
                        + " tokens, the model's vocabulary " + m.spec().vocab());
            }
            this.contextLength = contextLength > 0 ? Math.min(contextLength, m.spec().maxPositions())
                    : Math.min(m.spec().maxPositions(), 4096);
            ModelChatTemplate t;
            try {
                t = ModelChatTemplate.read(path);
            } catch (IllegalArgumentException noTemplate) {
                t = null;
            }
            this.templateSource = t;
            this.pool = m.newKvPool(this.contextLength * maxSequences, kvType);
        } catch (RuntimeException | IOException e) {
            m.close();
            throw e;
        }
        this.model = m;
    }

    private static Tokenizer loadTokenizer(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            return Tokenizer.fromHfFolder(path);
        }
        try (GgufFile f = GgufFile.open(path)) {
            return Tokenizer.fromGguf(f);
        }
    }

    /** The model file or folder. */
    public Path path() {
        return path;
    }

    /** The backend's name ({@code cpu}, {@code cuda}). */
    public String backend() {
        return backend.name();
    }

    /** Tokens one sequence may hold (prompt and generated). */
    public int contextLength() {
        return contextLength;
    }

    /** Whether the model has its own chat template ({@link #chat} falls back to a plain format without one). */
    public boolean hasChatTemplate() {
        return templateSource != null;
    }

    /** The token ids of {@code text} (a BOS first when the model's tokenizer adds one; special tokens not parsed). */
    public int[] tokenize(String text) {
        checkOpen();
        return tokenizer.encode(Objects.requireNonNull(text, "text"), true, false);
    }

    /** The text of {@code ids}. */
    public String detokenize(int[] ids) {
        checkOpen();
        return tokenizer.decode(ids);
    }

    /**
     * The prompt text a chat becomes: the model's chat template with {@code add_generation_prompt},
     * or without a template the fallback {@code "role: content\n"} per message then {@code "assistant:"}.
     *
     * @throws IllegalArgumentException if the template refuses the conversation or fails (its message)
     */
    public String renderChat(List<Message> messages) {
        return renderChat(messages, null);
    }

    /**
     * As {@link #renderChat(List)}, with tool definitions passed to the template as {@code tools}
     * (JSON-schema style maps, as the model's template expects them; null for none). The fallback
     * format without a template ignores them.
     */
    public String renderChat(List<Message> messages, List<Map<String, Object>> tools) {
        checkOpen();
        Objects.requireNonNull(messages, "messages");
        if (templateSource == null) {
            StringBuilder sb = new StringBuilder();
            for (Message m : messages) {
                sb.append(m.role()).append(": ").append(m.content()).append('\n');
            }
            return sb.append("assistant:").toString();
        }
        ChatTemplate t = template;
        if (t == null) {
            t = templateSource.compile();
            template = t;
        }
        List<Map<String, Object>> maps = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            map.putAll(m.fields());
            maps.add(map);
        }
        return t.render(maps, tools, true, templateSource.specialTokens(), Map.of());
    }

    /** Generates a continuation of {@code prompt} on the calling thread. */
    public Completion complete(String prompt, Sampling sampling, Consumer<Token> onToken) {
        return run(new Generation(), encodePrompt(prompt), sampling, onToken);
    }

    /** Generates the assistant's reply to {@code messages} (rendered by the chat template) on the calling thread. */
    public Completion chat(List<Message> messages, Sampling sampling, Consumer<Token> onToken) {
        return run(new Generation(), encodeChat(messages), sampling, onToken);
    }

    /**
     * The assistant's reply to {@code messages} with tool definitions (see {@link #renderChat(List, List)});
     * a reply that calls a tool comes back as the text the model writes for it.
     */
    public Completion chat(List<Message> messages, List<Map<String, Object>> tools, Sampling sampling,
                           Consumer<Token> onToken) {
        return run(new Generation(), encodeChat(messages, tools), sampling, onToken);
    }

    /** Starts a continuation of {@code prompt} on the engine's threads. */
    public Generation submit(String prompt, Sampling sampling, Consumer<Token> onToken) {
        return start(() -> encodePrompt(prompt), sampling, onToken);
    }

    /** Starts the assistant's reply to {@code messages} on the engine's threads. */
    public Generation submitChat(List<Message> messages, Sampling sampling, Consumer<Token> onToken) {
        return start(() -> encodeChat(messages), sampling, onToken);
    }

    private Generation start(java.util.function.Supplier<int[]> prompt, Sampling sampling, Consumer<Token> onToken) {
        checkOpen();
        Generation g = new Generation();
        executor.execute(() -> {
            try {
                run(g, prompt.get(), sampling, onToken);
            } catch (Throwable t) {
                g.fail(t);
            }
        });
        return g;
    }

    private int[] encodePrompt(String prompt) {
        checkOpen();
        return tokenizer.encode(Objects.requireNonNull(prompt, "prompt"), true, false);
    }

    private int[] encodeChat(List<Message> messages) {
        return encodeChat(messages, null);
    }

    private int[] encodeChat(List<Message> messages, List<Map<String, Object>> tools) {
        String text = renderChat(messages, tools);
        // templates write their own BOS text when they want one; special tokens in the rendered text are real
        return tokenizer.encode(text, templateSource == null, templateSource != null);
    }

    private Completion run(Generation g, int[] prompt, Sampling sampling, Consumer<Token> onToken) {
        Objects.requireNonNull(sampling, "sampling");
        checkOpen();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty (and the model adds no BOS token)");
        }
        if (prompt.length >= contextLength) {
            if (!truncate) {
                throw new ContextOverflowException(prompt.length, contextLength);
            }
            int keep = contextLength - Math.min(sampling.maxTokens(), contextLength / 2);
            prompt = Arrays.copyOfRange(prompt, prompt.length - keep, prompt.length);
        }
        int budget = Math.min(sampling.maxTokens(), contextLength - prompt.length);
        int vocab = model.spec().vocab();
        Sampler sampler = new Sampler(sampling, vocab);
        StopMatcher stops = new StopMatcher(sampling.stop());
        Detokenizer detok = tokenizer.streamingDecoder();
        int[] history = Arrays.copyOf(prompt, prompt.length + budget);
        int length = prompt.length;
        float[] logits = new float[vocab];
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        FinishReason reason = FinishReason.LENGTH;
        running.add(g);
        long t0 = System.nanoTime();
        long tPrompt = t0;
        long tFirst = t0;
        Completion done;
        try (DenseModel.Session s = model.newSession(pool, prompt.length + budget)) {
            g.onCancel(s::close);
            try {
                s.next(prompt, logits);
                maskPadding(logits);
                tPrompt = System.nanoTime();
                int[] step = new int[1];
                for (int i = 0; i < budget; i++) {
                    if (g.cancelledFlag()) {
                        throw new CancellationException("generation cancelled");
                    }
                    int id = sampler.sample(logits, history, length);
                    if (i == 0) {
                        tFirst = System.nanoTime();
                    }
                    if (tokenizer.isEndOfGeneration(id)) {
                        reason = FinishReason.END_OF_TEXT;
                        break;
                    }
                    if (sampler.isStopToken(id)) {
                        reason = FinishReason.STOP;
                        break;
                    }
                    history[length++] = id;
                    ids.add(id);
                    String piece = stops.push(detok.push(id));
                    text.append(piece);
                    if (onToken != null) {
                        onToken.accept(new Token(id, piece));
                    }
                    if (stops.stopped()) {
                        reason = FinishReason.STOP;
                        break;
                    }
                    if (i + 1 < budget) {
                        step[0] = id;
                        s.next(step, logits);
                        maskPadding(logits);
                    }
                }
            } catch (RuntimeException e) {
                if (g.cancelledFlag()) {
                    throw new CancellationException("generation cancelled");
                }
                if (closed) {
                    throw new IllegalStateException("the engine was closed during the generation", e);
                }
                throw e;
            }
            if (!stops.stopped()) {
                String rest = stops.push(detok.flush()) + stops.flush();
                if (!rest.isEmpty()) {
                    text.append(rest);
                    if (onToken != null) {
                        onToken.accept(new Token(-1, rest));
                    }
                }
            }
            long end = System.nanoTime();
            done = new Completion(text.toString(), ids, reason, new GenerationStats(prompt.length, ids.size(),
                    Duration.ofNanos(tFirst - t0), Duration.ofNanos(tPrompt - t0), Duration.ofNanos(end - tFirst)));
        } catch (RuntimeException | Error e) {
            running.remove(g);
            g.fail(e);
            throw e;
        }
        // the session is closed (its blocks are back in the pool) before anyone sees the result
        running.remove(g);
        g.complete(done);
        return done;
    }

    /** Ids past the tokenizer's vocabulary (a model's padded embedding rows) can never be produced. */
    private void maskPadding(float[] logits) {
        java.util.Arrays.fill(logits, tokenizer.vocabSize(), logits.length, Float.NEGATIVE_INFINITY);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the engine is closed");
        }
    }

    /** KV-cache blocks in use by running generations (0 when none runs). */
    public int kvBlocksInUse() {
        return pool.totalBlocks() - pool.freeBlocks();
    }

    /**
     * Cancels running generations, unmaps the weights and frees the backend's memory. Idempotent;
     * generation afterwards throws {@link IllegalStateException}.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Generation g : running) {
            g.cancel();
        }
        executor.shutdown();
        synchronized (model) {
            model.close();
            pool.close();
            backend.close();
        }
    }
}
