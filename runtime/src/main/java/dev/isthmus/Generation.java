package dev.isthmus;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A generation in progress, started by {@link Engine#submit} or {@link Engine#submitChat}. Thread-safe:
 * any thread may {@link #cancel()} it or wait for it.
 */
public final class Generation {
    private final CompletableFuture<Completion> result = new CompletableFuture<>();
    private volatile boolean cancelled;
    private volatile Runnable onCancel;

    Generation() {
    }

    /**
     * Stops the generation: no token is produced after the step in flight, the sequence's KV blocks
     * go back to the pool at once (after that step), and the result completes with a
     * {@link CancellationException}. Does nothing once the generation has ended.
     */
    public void cancel() {
        if (result.isDone()) {
            return;
        }
        cancelled = true;
        Runnable r = onCancel;
        if (r != null) {
            r.run();
        }
    }

    /** Whether {@link #cancel()} was called before the generation ended. */
    public boolean isCancelled() {
        return cancelled;
    }

    /** Whether the generation has ended (completed, failed or cancelled). */
    public boolean isDone() {
        return result.isDone();
    }

    /** The result, as a future (completed exceptionally on failure or cancellation). */
    public CompletableFuture<Completion> future() {
        return result.copy();
    }

    /**
     * Waits for the result.
     *
     * @throws CancellationException if the generation was cancelled
     * @throws RuntimeException      whatever ended the generation (e.g. {@link ContextOverflowException})
     */
    public Completion join() {
        try {
            return result.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    void onCancel(Runnable r) {
        onCancel = r;
        if (cancelled) {
            r.run();
        }
    }

    boolean cancelledFlag() {
        return cancelled;
    }

    void complete(Completion c) {
        result.complete(c);
    }

    void fail(Throwable t) {
        result.completeExceptionally(t);
    }
}
