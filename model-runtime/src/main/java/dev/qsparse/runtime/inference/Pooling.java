package dev.qsparse.runtime.inference;

import java.util.Locale;

/** How an embedding is pooled from the per-token hidden states. */
public enum Pooling {
    /** Mean over the text's tokens (the BOS token, when the model adds one, is left out). */
    MEAN,
    /** The hidden state of the last token. */
    LAST;

    public static Pooling fromName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "mean" -> MEAN;
            case "last" -> LAST;
            default -> throw new IllegalArgumentException("unknown pooling '" + name + "' (expected mean or last)");
        };
    }
}
