package dev.qsparse.runtime.model;

/**
 * A causal decoder network over loaded weights. Immutable and thread-safe: any number of
 * threads may run forward passes at once, each with its own {@link ForwardState}.
 */
public interface DecoderModel {

    ModelConfig config();

    ForwardState newState();

    /**
     * Runs token {@code token} at position {@code pos} (positions must be fed in order from 0),
     * appending its keys and values to the state's cache and leaving the output hidden state in
     * {@link ForwardState#hidden}.
     */
    void forward(ForwardState state, int token, int pos);

    /** Next-token logits from the state's current hidden state, into {@code out[0..vocab)}. */
    void logits(ForwardState state, float[] out);

    /** Parameters in the checkpoint (all tensors). */
    long parameterCount();

    /** Short description of the weight formats in use, e.g. "F32" or "ternary+BF16". */
    String weightFormat();
}
