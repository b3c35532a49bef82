package dev.qsparse.runtime.kernel;

import java.util.Locale;

/**
 * What to do with a token's vector after the top-K mask. The paper says it rescales "by its L2
 * norm" without a formula, so this is a configuration choice that training and runtime share.
 */
public enum TopKRescale {
    /** Keep the masked values as they are (default: inputs follow an RMSNorm, their scale is fixed already). */
    NONE,
    /** Divide by the L2 norm of the kept vector (plus 1e-6), as the original seed model does. */
    L2,
    /** Scale the kept vector back to the L2 norm the input had before masking. */
    L2_PRESERVE;

    public static TopKRescale fromConfig(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "l2" -> L2;
            case "l2_preserve" -> L2_PRESERVE;
            default ->
                throw new IllegalArgumentException(
                        "unknown topk_rescale '" + name + "' (expected none, l2 or l2_preserve)");
        };
    }
}
