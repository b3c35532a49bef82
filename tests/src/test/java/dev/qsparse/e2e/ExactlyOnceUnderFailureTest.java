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
     * Throws once per planned (subtask, attempt): subtask 0 fails early in its first attempt and
     * mid-stream in its second, subtask 1 late in its first. Counts restart with each attempt, so
     * the job always gets past every failure.
     */
    static final class FailureInjector extends RichMapFunction<byte[], byte[]> {
        private int seen;
        private int failAt;

        @Override
        public void open(OpenContext context) {
            int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
            int attempt = getRuntimeContext().getTaskInfo().getAttemptNumber();
            failAt = subtask == 0 && attempt == 0 ? 120
                    : subtask == 0 && attempt == 1 ? 420
                    : subtask == 1 && attempt == 0 ? 700
                    : -1;
        }

        @Override
        public byte[] map(byte[] value) {
            if (++seen == failAt) {
                FAILURES.incrementAndGet();
                throw new IllegalStateException("injected failure after " + seen + " records");
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
