package dev.qsparse.flink;

/** What the operator does with an event whose text is longer than {@code qsparse.input.max-chars}. */
public enum InputOverflow {
    /** Keep the first max-chars code points; the output says {@code text_truncated: true}. */
    TRUNCATE,
    /** Send the event to the dead letters. */
    REJECT
}
