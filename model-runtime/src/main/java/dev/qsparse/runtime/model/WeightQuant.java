package dev.qsparse.runtime.model;

import java.util.Locale;

/** How projection weights are represented at run time (config key {@code weight_quant}). */
public enum WeightQuant {
    /** As stored in the checkpoint (F32, F16 or BF16). */
    NONE,
    /** BitNet b1.58 absmean ternary, one scale per tensor. */
    TERNARY,
    /** Int8 with one absmax scale per output channel. */
    INT8;

    public static WeightQuant fromConfig(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "none", "f32", "float" -> NONE;
            case "ternary", "b1.58", "1.58" -> TERNARY;
            case "int8" -> INT8;
            default ->
                throw new IllegalArgumentException(
                        "unknown weight_quant '" + name + "' (expected none, ternary or int8)");
        };
    }
}
