package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The exactly-once job under task failures: 2,000+ events, three failures injected at different
 * points of the stream, and afterwards a read_committed consumer finds every input id exactly
 * once across the output and dead-letter topics.
 */
class ExactlyOnceUnderFailureTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder()
                    .setNumberTaskManagers(1)
                    .setNumberSlotsPerTaskManager(2)
                    .build());

    /** Failures actually thrown, counted across restarts (the test's JVM runs the mini cluster). */
    static final AtomicInteger FAILURES = new AtomicInteger();

    /**
     * The failure plan: failure k is thrown by subtask {@code PLAN[k][0]} once it has seen
     * {@code PLAN[k][1]} records in its current attempt, and only after failure k-1 happened. Keyed on
     * the global failure count (not on attempt numbers, which depend on how much of the job a
     * failover restarts), so exactly three failures happen whatever the timing, each early enough in
     * an attempt that the remaining input always reaches it.
     */
    static final int[][] PLAN = {{0, 120}, {1, 150}, {0, 90}};

    static final class FailureInjector extends RichMapFunction<byte[], byte[]> {
        private int seen;
        private int subtask;

        @Override
        public void open(OpenContext context) {
            subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        }

        @Override
        public byte[] map(byte[] value) {
            seen++;
            int k = FAILURES.get();
            if (k < PLAN.length && subtask == PLAN[k][0] && seen >= PLAN[k][1] && FAILURES.compareAndSet(k, k + 1)) {
                throw new IllegalStateException("injected failure " + (k + 1) + " on subtask " + subtask
                        + " after " + seen + " records");
            }
            return value;
        }
    }

    @Test
    void everyIdExactlyOnceAfterThreeFailures() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            Pipeline p = new Pipeline(broker, 4);
            List<DemoEvents.Event> events = DemoEvents.build(
                    DemoEvents.readTexts(Path.of("../models/data/events.txt")), 2000, 48, null, 4);
            p.produce(events);
            FAILURES.set(0);
            JobClient job = p.start(p.options("embed", 2),
                    s -> s.map(new FailureInjector()).name("failure-injector"));
            Pipeline.Outcome outcome = p.await(events.size(), Duration.ofMinutes(6));
            Pipeline.stop(job);

            assertEquals(3, FAILURES.get(), "three injected failures");
            assertEquals(2000, outcome.enriched.size());
            assertEquals(48, outcome.deadLetters.size());
            EndToEndTest.assertExactlyOnce(events, outcome);
            assertTrue(outcome.enriched.stream().allMatch(e -> e.path("embedding").size() > 0));
        }
    }
}
