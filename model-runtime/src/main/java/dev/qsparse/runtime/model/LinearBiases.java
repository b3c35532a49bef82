package dev.qsparse.runtime.model;

/**
 * Which projections carry a bias. Our own {@code qsparse} format takes the bias tensors that are
 * present ({@link #FROM_TENSORS}); a Hugging Face config declares them as its family's reference
 * code does (Llama: {@code attention_bias} for q/k/v/o, {@code mlp_bias} for gate/up/down; Qwen2:
 * q/k/v always, o never; Qwen3: {@code attention_bias} for q/k/v/o): a declared bias must be in the
 * checkpoint, and an undeclared one must not, since transformers would not use it.
 *
 * @param declared false: whatever the checkpoint holds
 * @param qkv q_proj, k_proj and v_proj
 * @param o o_proj
 * @param mlp gate_proj, up_proj and down_proj
 */
public record LinearBiases(boolean declared, boolean qkv, boolean o, boolean mlp) {

    /** Biases wherever the checkpoint has a bias tensor. */
    public static final LinearBiases FROM_TENSORS = new LinearBiases(false, false, false, false);

    /** Biases exactly where the config's family says. */
    public static LinearBiases declared(boolean qkv, boolean o, boolean mlp) {
        return new LinearBiases(true, qkv, o, mlp);
    }
}
