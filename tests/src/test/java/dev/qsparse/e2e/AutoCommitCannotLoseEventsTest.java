package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.JobOptions;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 22, K1, on the real broker: {@code enable.auto.commit=true} (common in shared consumer
 * property files) let the consumer commit the group's offsets itself; a job cancelled before its
 * first checkpoint and submitted again then started after events it never delivered (0 of 40
 * came out). Now the property is refused when the job is built, before anything reads; and the
 * sequence itself (read everything, cancel before a checkpoint, resubmit) loses nothing.
 */
class AutoCommitCannotLoseEventsTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    /** Records the first run's source handed on (the mini cluster runs in this JVM). */
    static final AtomicInteger READ = new AtomicInteger();

    static EmbeddedKafkaBroker broker;
    static List<String> texts;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = EmbeddedKafkaBroker.start();
        texts = DemoEvents.readTexts(Path.of("../models/data/events.txt"));
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
    }

    private static Map<TopicPartition, OffsetAndMetadata> committed(String group) throws Exception {
        try (Admin admin = broker.admin()) {
            return admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata()
                    .get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void autoCommitIsRefusedAndACancelBeforeACheckpointLosesNothing() throws Exception {
        Pipeline p = new Pipeline(broker, 2);
        List<DemoEvents.Event> events = DemoEvents.build(texts, 40, 0, null, 3);
        p.produce(events);
        String group = "g-" + p.runId;

        IllegalArgumentException refused = assertThrows(
                IllegalArgumentException.class,
                () -> p.start(p.options("embed", 1, "--kafka-property", "enable.auto.commit=true"), x -> x));
        assertTrue(refused.getMessage().contains("enable.auto.commit=true is refused"), refused.getMessage());
        assertTrue(committed(group).isEmpty(), "nothing read, nothing committed");

        // K1's sequence with what the job accepts: everything read, cancelled before any checkpoint
        // (one an hour), so no offset may be committed: not by Flink, not by the consumer itself.
        UnaryOperator<DataStream<byte[]>> count = s -> s.map(v -> {
                    READ.incrementAndGet();
                    return v;
                })
                .returns(byte[].class);
        JobOptions once = p.options("embed", 1, "--kafka-property", "enable.auto.commit=false");
        once.checkpointInterval = Duration.ofHours(1);
        JobClient first = p.start(once, count);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (READ.get() < events.size()) {
            assertTrue(System.nanoTime() < deadline, "the first run read " + READ.get() + " events");
            Thread.sleep(50);
        }
        // Longer than the consumer's auto-commit interval (5 s), had it been on.
        Thread.sleep(6_000);
        Pipeline.stop(first);
        first.getJobExecutionResult().handle((result, cancelled) -> null).get(1, TimeUnit.MINUTES);
        assertTrue(committed(group).isEmpty(), () -> "offsets committed without a checkpoint: " + group);

        // Submitted again with the default COMMITTED_OR_EARLIEST: every event comes out once.
        JobClient second = p.start(p.options("embed", 1, "--bounded"), UnaryOperator.identity());
        Pipeline.Outcome outcome = p.await(events.size(), Duration.ofMinutes(3));
        second.getJobExecutionResult().get(2, TimeUnit.MINUTES);
        EndToEndTest.assertExactlyOnce(events, outcome);
        assertEquals(events.size(), outcome.enriched.size());
    }
}
