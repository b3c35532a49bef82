package dev.qsparse.runtime.model;

/**
 * Which projections carry a bias. Our own {@code qsparse} format takes the bias tensors that are
 * present ({@link #FROM_TENSORS}); a Hugging Face {@code llama} or {@code bitnet} config declares
 * them ({@code attention_bias} for q/k/v/o, {@code mlp_bias} for gate/up/down): a declared bias
 * must be in the checkpoint and an undeclared one must not, since transformers would not use it.
 */
public record LinearBiases(boolean declared, boolean attention, boolean mlp) {

    /** Biases wherever the checkpoint has a bias tensor. */
    public static final LinearBiases FROM_TENSORS = new LinearBiases(false, false, false);

    /** Biases exactly where the config says ({@code attention_bias}, {@code mlp_bias}). */
    public static LinearBiases declared(boolean attention, boolean mlp) {
        return new LinearBiases(true, attention, mlp);
    }
}
