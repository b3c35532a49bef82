package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.model.ForwardState;

/**
 * One request being served by {@link PassScheduler}: the positions to feed (a prompt, a text, the
 * tokens a generation samples), the sequence state that holds its KV cache, and what its task does
 * with each position's output. Subclasses are the task consumers: embed pools hidden rows, score
 * takes log-probabilities, generate samples and applies stop rules.
 */
abstract class Sequence {

    /** The scheduler's index of this sequence's state, and that state (for its statistics). */
    final int slot;

    final ForwardState state;
    /** The ids to feed, by position; a generation appends the tokens it samples. */
    int[] tokens;
    /** Positions fed so far (the next to feed). */
    int fed;
    /** Positions known so far: {@code [fed, known)} are ready to feed. */
    int known;

    Sequence(int slot, ForwardState state, int[] tokens, int known) {
        this.slot = slot;
        this.state = state;
        this.tokens = tokens;
        this.known = known;
    }

    /** Positions ready to feed now. */
    final int ready() {
        return known - fed;
    }

    /** True when nothing more will be fed. */
    boolean finished() {
        return fed >= known;
    }

    /** True for a sequence that decodes after its prompt (a generation): its prompt is run first. */
    boolean decodes() {
        return false;
    }

    /** Whether the output at {@code pos} is needed as logits (else only the hidden row is handed over). */
    abstract boolean wantsLogits(int pos);

    /**
     * The output at {@code pos}, in position order: its final hidden state (the scheduler's buffer,
     * valid during the call) and its logits when {@link #wantsLogits} asked for them, else null.
     */
    abstract void accept(int pos, float[] hidden, float[] logits);

    /** The request's result, once finished. */
    abstract InferenceResult result(long startNanos);

    final InferenceResult.Stats stats(int inputTokens, boolean truncated, long startNanos) {
        return new InferenceResult.Stats(
                inputTokens, truncated, state.activationSparsity(), System.nanoTime() - startNanos);
    }
}
