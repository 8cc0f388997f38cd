package dev.isthmus.memory.backend;

/**
 * Thrown by an op of a decode step that a backend replays from a recording (see
 * {@link Backend#beginStep}) when the op differs from the recorded one (another op, tensor or shape,
 * a block table longer than recorded). Nothing of the step has run: the caller calls
 * {@link Backend#abortStep()} and runs the step's ops again, which then execute directly.
 */
public final class StepMismatchException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** @param message what differed */
    public StepMismatchException(String message) {
        super(message);
    }
}
