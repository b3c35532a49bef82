package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;

/**
 * A causal decoder network over loaded weights. Immutable and thread-safe: any number of
 * threads may run forward passes at once, each with its own {@link ForwardState}.
 */
public interface DecoderModel {

    /**
     * The default {@link #passSize()}: a weight block is repacked once per pass and read by every
     * position of it, so larger passes amortize that better; 64 positions of scratch stay a few MB
     * even at a 3072-wide feed-forward.
     */
    int MAX_SLOTS = 64;

    /**
     * Positions per batched forward pass of this model ({@link #forwardBatch}, {@link #forwardSlots}):
     * longer runs are cut into passes of this size, and sessions pack their micro-batches into it.
     */
    default int passSize() {
        return MAX_SLOTS;
    }

    ModelConfig config();

    /**
     * A new sequence state whose products run on {@code backends}, shared with {@code pool}'s
     * threads (null: the calling thread only; the pool belongs to the caller, one per session).
     */
    ForwardState newState(Backends.Choice backends, WorkerPool pool);

    /**
     * A new sequence state on the JVM's chosen Java kernels alone (no optional backend), one
     * thread: the reference path tests and tools compare against. Sessions run the whole choice.
     */
    default ForwardState newState() {
        return newState(Backends.Choice.only(Backends.chosen().kernels()), null);
    }

    /**
     * Runs token {@code token} at position {@code pos} (positions must be fed in order from 0),
     * appending its keys and values to the state's cache and leaving the output hidden state in
     * {@link ForwardState#hidden}.
     */
    void forward(ForwardState state, int token, int pos);

    /**
     * Runs {@code tokens[offset .. offset+count)} at positions {@code startPos ..} as one
     * micro-batch: the same result as {@link #forward} token by token (bit for bit), with the
     * projections of all the tokens done together so that the weights stream from memory once
     * per batch. Leaves the last token's output in {@link ForwardState#hidden}, and every token's
     * output in {@code hiddenOut[i]} when {@code hiddenOut} is not null.
     */
    default void forwardBatch(
            ForwardState state, int[] tokens, int offset, int count, int startPos, float[][] hiddenOut) {
        for (int i = 0; i < count; i++) {
            forward(state, tokens[offset + i], startPos + i);
            if (hiddenOut != null) {
                System.arraycopy(state.hidden, 0, hiddenOut[i], 0, state.hidden.length);
            }
        }
    }

    /**
     * Runs one micro-batch of positions that may belong to different sequences: slot i is
     * {@code tokens[i]} at position {@code positions[i]} of the sequence held by {@code states[i]}
     * (a sequence's slots in position order, each continuing where its state left off). The
     * projections of all slots share one pass over the weights, on {@code states[0]}'s workspace;
     * the results are bit for bit those of {@link #forward} slot by slot. Each state's
     * {@link ForwardState#hidden} ends with its last slot's output; {@code hiddenOut[i]} (when not
     * null) receives slot i's.
     */
    default void forwardSlots(ForwardState[] states, int[] tokens, int[] positions, int count, float[][] hiddenOut) {
        for (int i = 0; i < count; i++) {
            forward(states[i], tokens[i], positions[i]);
            if (hiddenOut != null) {
                System.arraycopy(states[i].hidden, 0, hiddenOut[i], 0, states[i].hidden.length);
            }
        }
    }

    /** Next-token logits from the state's current hidden state, into {@code out[0..vocab)}. */
    void logits(ForwardState state, float[] out);

    /** Logits of {@code count} hidden states at once (the same values as {@link #logits} one by one). */
    default void logitsBatch(ForwardState state, float[][] hidden, int count, float[][] out) {
        float[] saved = state.hidden.clone();
        for (int i = 0; i < count; i++) {
            System.arraycopy(hidden[i], 0, state.hidden, 0, saved.length);
            logits(state, out[i]);
        }
        System.arraycopy(saved, 0, state.hidden, 0, saved.length);
    }

    /** Parameters in the checkpoint (all tensors). */
    long parameterCount();

    /** Short description of the weight formats in use, e.g. "F32" or "ternary+BF16". */
    String weightFormat();
}
