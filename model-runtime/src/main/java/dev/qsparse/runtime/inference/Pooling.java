package dev.qsparse.runtime.inference;

import java.util.Locale;

/**
 * How an embedding is pooled from the per-token hidden states. A decoder's text starts after the
 * tokens the model puts first (BOS), which mean and max leave out; an encoder's input is pooled
 * whole, [CLS] and [SEP] included, as sentence-transformers pools it.
 */
public enum Pooling {
    /** Mean over the text's tokens. */
    MEAN,
    /** The hidden state of the last token (an encoder's [SEP]). */
    LAST,
    /** The hidden state of the first token (an encoder's [CLS]). */
    CLS,
    /** Per channel, the largest value over the text's tokens. */
    MAX;

    public static Pooling fromName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "mean" -> MEAN;
            case "last", "lasttoken" -> LAST;
            case "cls" -> CLS;
            case "max" -> MAX;
            default ->
                throw new IllegalArgumentException("unknown pooling '" + name + "' (expected mean, last, cls or max)");
        };
    }
}
