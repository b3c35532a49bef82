package dev.qsparse.runtime.model;

import java.util.Locale;

/**
 * The feed-forward of the {@code qsparse} architecture (config key {@code mlp_activation}): what
 * down_proj's input h is, before its sparsifier.
 */
public enum MlpActivation {
    /** h = up(m) * relu(gate(m))^2, Q-Sparse's ReLU²GLU (the default). */
    RELU2_GLU,
    /** h = up(m) * silu(gate(m)), Llama's SwiGLU. */
    SWIGLU,
    /** h = relu(up(m)), a plain two-matrix feed-forward: there is no gate_proj. */
    RELU;

    /** True when the feed-forward has a gate_proj. */
    public boolean gated() {
        return this != RELU;
    }

    public static MlpActivation fromConfig(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "relu2glu" -> RELU2_GLU;
            case "swiglu" -> SWIGLU;
            case "relu" -> RELU;
            default ->
                throw new IllegalArgumentException(
                        "unknown mlp_activation '" + name + "' (expected relu2glu, swiglu or relu)");
        };
    }
}
