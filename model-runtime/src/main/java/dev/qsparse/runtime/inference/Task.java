package dev.qsparse.runtime.inference;

import java.util.Locale;

/** What an inference request asks of the model. */
public enum Task {
    GENERATE,
    EMBED,
    SCORE;

    /** The lower-case name used in JSON events and options ("generate", "embed", "score"). */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Task fromWireName(String name) {
        for (Task t : values()) {
            if (t.wireName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown mode '" + name + "' (expected generate, embed or score)");
    }
}
