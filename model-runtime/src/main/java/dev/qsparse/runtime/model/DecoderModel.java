package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;

/**
 * A network over loaded weights: a causal decoder, or an encoder ({@link #bidirectional()}). Immutable and thread-safe: any number of threads
 * may run passes at once, each with its own states. The whole contract: make a state per sequence,
 * run passes of slots ({@link #forward}), and turn hidden states into logits ({@link #logits}).
 * {@link SingleSequence} steps one sequence for tools and tests.
 *
 * @param <S> the state this model keeps per sequence (its KV cache and statistics)
 */
public interface DecoderModel<S extends ForwardState> {

    ModelConfig config();

    /**
     * The most slots one {@link Pass} may hold: a weight block is repacked once per pass and read by
     * every slot of it, so a larger pass amortizes that better, at the price of scratch memory.
     */
    int passSize();

    /**
     * True for an encoder: every position of a sequence attends to all of them, so a sequence
     * cannot be split across passes. A pass then holds whole sequences, each at positions 0, 1, ...
     * in order; {@link #passSize()} is a token budget, and a sequence longer than it runs whole in
     * a pass of its own (up to the config's context length). Its state keeps nothing between
     * passes, and it has no {@link #logits}.
     */
    default boolean bidirectional() {
        return false;
    }

    /**
     * A new sequence state whose products run on {@code backends}, shared with {@code pool}'s
     * threads (null: the calling thread only; the pool belongs to the caller, one per session).
     */
    S newState(Backends.Choice backends, WorkerPool pool);

    /**
     * A new sequence state on the JVM's chosen Java kernels alone (no optional backend), one
     * thread: the reference path tests and tools compare against. Sessions run the whole choice.
     */
    default S newState() {
        return newState(Backends.Choice.only(Backends.chosen().kernels()), null);
    }

    /**
     * Runs one pass ({@link Pass}: at most {@link #passSize()} slots): each slot's token through
     * the network at its position, appending its keys and values to its state's cache, its final
     * hidden state into the slot's output when it has one. Bit for bit what each slot gives alone.
     */
    void forward(Pass<S> pass);

    /**
     * Next-token logits of {@code count} final hidden states at once, the products on
     * {@code lead}'s workspace: row i the same values whatever its companions.
     */
    void logits(S lead, float[][] hidden, int count, float[][] out);

    /** Parameters in the checkpoint (all tensors). */
    long parameterCount();

    /** Short description of the weight formats in use, e.g. "F32" or "ternary+BF16". */
    String weightFormat();
}
