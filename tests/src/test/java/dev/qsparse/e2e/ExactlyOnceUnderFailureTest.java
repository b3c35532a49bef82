package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    /** Failures actually thrown, counted across restarts (the test's JVM runs the mini cluster). */
    static final AtomicInteger FAILURES = new AtomicInteger();

    /**
     * The failure plan: failure k is thrown by the first subtask that has seen {@code PLAN[k]}
     * records in its current attempt, once failure k-1 has happened. Keyed on the global failure
     * count (not on attempt numbers, which depend on how much of the job a failover restarts). The
     * test keeps producing while failures are still due, so records always reach the plan.
     */
    static final int[] PLAN = {120, 150, 90};

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
            if (k < PLAN.length && seen >= PLAN[k] && FAILURES.compareAndSet(k, k + 1)) {
                throw new IllegalStateException(
                        "injected failure " + (k + 1) + " on subtask " + subtask + " after " + seen + " records");
            }
            return value;
        }
    }

    @Test
    void everyIdExactlyOnceAfterThreeFailures() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            Pipeline p = new Pipeline(broker, 4);
            List<String> texts = DemoEvents.readTexts(Path.of("../models/data/events.txt"));
            List<DemoEvents.Event> events = new ArrayList<>(DemoEvents.build(texts, 2000, 48, null, 4));
            FAILURES.set(0);
            JobClient job = p.start(
                    p.options("embed", 2), s -> s.map(new FailureInjector()).name("failure-injector"));
            // Produce while the job runs, in slices, and top up with extra events until all three
            // failures have happened, so every failure meets a live stream.
            int produced = 0;
            int extra = 0;
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (produced < events.size() || FAILURES.get() < PLAN.length && System.nanoTime() < deadline) {
                for (int i = 0; produced + i == events.size() && i < 50; i++) {
                    String id = String.format("evt-9%04d", extra++);
                    String text =
                            texts.get(extra % texts.size()).replace("\\", "").replace("\"", "'");
                    events.add(new DemoEvents.Event(
                            id,
                            ("{\"id\":\"" + id + "\",\"text\":\"" + text + "\"}")
                                    .getBytes(java.nio.charset.StandardCharsets.UTF_8),
                            false));
                }
                int end = Math.min(events.size(), produced + 50);
                p.produce(events.subList(produced, end));
                produced = end;
                Thread.sleep(100);
            }
            Pipeline.Outcome outcome = p.await(events.size(), Duration.ofMinutes(6));
            Pipeline.stop(job);

            assertEquals(3, FAILURES.get(), "three injected failures");
            assertEquals(2000 + extra, outcome.enriched.size());
            assertEquals(48, outcome.deadLetters.size());
            EndToEndTest.assertExactlyOnce(events, outcome);
            assertTrue(
                    outcome.enriched.stream().allMatch(e -> e.path("embedding").size() > 0));
        }
    }
}
