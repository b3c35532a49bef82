package dev.qsparse.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Splits the functions' {@link QSparseResult}s: enriched events go to the main output, dead
 * letters to the side output {@link #DEAD_LETTERS}. Stateless.
 */
public class DeadLetterRouter extends ProcessFunction<QSparseResult, EnrichedEvent> {

    private static final long serialVersionUID = 1L;

    /** The dead-letter side output. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("qsparse-dead-letters", TypeInformation.of(DeadLetter.class));

    @Override
    public void processElement(QSparseResult value, Context ctx, Collector<EnrichedEvent> out) {
        if (value.deadLetter != null) {
            ctx.output(DEAD_LETTERS, value.deadLetter);
        } else {
            out.collect(value.enriched);
        }
    }
}
