package dev.qsparse.flink;

/**
 * What the Q-Sparse functions emit for one input event: exactly one of {@link #enriched} and
 * {@link #deadLetter} is set. {@link DeadLetterRouter} splits a stream of these into the enriched
 * stream and the dead-letter side output. A Flink POJO.
 */
public class QSparseResult {

    public EnrichedEvent enriched;
    public DeadLetter deadLetter;

    public QSparseResult() {}

    public static QSparseResult of(EnrichedEvent e) {
        QSparseResult r = new QSparseResult();
        r.enriched = e;
        return r;
    }

    public static QSparseResult of(DeadLetter d) {
        QSparseResult r = new QSparseResult();
        r.deadLetter = d;
        return r;
    }

    public boolean isDeadLetter() {
        return deadLetter != null;
    }

    /** The event's id, whichever side it is on (null for a dead letter whose id was unreadable). */
    public String id() {
        return enriched != null ? enriched.id : deadLetter.id;
    }

    public String toJson() {
        return enriched != null ? enriched.toJson() : deadLetter.toJson();
    }

    @Override
    public String toString() {
        return (isDeadLetter() ? "dead letter " : "enriched ") + toJson();
    }
}
