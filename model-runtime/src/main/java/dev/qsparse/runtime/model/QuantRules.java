package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Int8ScaleRule;

/**
 * Whose quantization formulas a {@code qsparse}-family checkpoint was trained with. The formulas
 * differ in where the epsilon goes, which flips roundings, so each checkpoint runs with its own.
 */
public enum QuantRules {
    /**
     * This project's Q-Sparse ({@code model_type} qsparse or llama): activations {@code 127 /
     * (max|x| + 1e-5)}, ternary weights {@code W / (mean|W| + 1e-5)}.
     */
    QSPARSE,
    /**
     * Hugging Face BitNet with {@code BitLinear} (linear_class bitlinear): activations {@code 127
     * / max(max|x|, 1e-5)}, ternary weights {@code W / max(mean|W|, 1e-5)}; a packed weight's
     * product is divided by its {@code weight_scale}.
     */
    BITNET_BITLINEAR,
    /**
     * Hugging Face BitNet with {@code AutoBitLinear} (linear_class autobitlinear): the same
     * formulas, but an offline-quantized weight's product is multiplied by its {@code weight_scale}.
     */
    BITNET_AUTOBITLINEAR;

    public boolean isBitNet() {
        return this != QSPARSE;
    }

    public Int8ScaleRule activationScale() {
        return isBitNet() ? Int8ScaleRule.EPS_FLOOR : Int8ScaleRule.EPS_ADDED;
    }

    /**
     * The per-tensor multiplier of the ternary kernel for a stored {@code weight_scale}: its
     * reciprocal when the checkpoint divides by it, itself when it multiplies.
     */
    public float ternaryMultiplier(float weightScale) {
        return this == BITNET_AUTOBITLINEAR ? weightScale : 1f / weightScale;
    }
}
