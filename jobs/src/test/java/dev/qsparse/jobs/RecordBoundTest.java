package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.KafkaTopics;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job refuses, at start, a record bound that Kafka could still reject: a record over the
 * producer's max.request.size or a topic's max.message.bytes would fail the job on every restart.
 */
class RecordBoundTest {

    private static final String MODEL = "../model-runtime/src/test/resources/test-model";

    @TempDir
    Path dir;

    private static JobOptions options(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("--model", MODEL));
        args.addAll(List.of(extra));
        return JobOptions.parse(args.toArray(String[]::new));
    }

    @Test
    void theDefaultsFitKafkasDefaultLimits() {
        JobOptions o = options();
        assertEquals(1024 * 1024, EnrichmentJob.maxRequestSize(new Properties()), "Kafka's default");
        int required = EnrichmentJob.requiredRecordBytes(900 * 1024);
        assertTrue(required <= 1024 * 1024, "required " + required);
        // Kafka's default message.max.bytes (and so a topic's max.message.bytes) is 1048588.
        assertTrue(required <= 1_048_588);
        assertDoesNotThrow(() -> EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(), o));
    }

    @Test
    void aBoundOverTheProducerLimitIsRefusedWhenTheJobIsBuilt() {
        JobOptions o = options("--set", "qsparse.output.max-record-size=1mb");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(), o));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "qsparse.output.max-record-size = 1048576 bytes, plus 7168 bytes for the"
                                        + " key and record headers, exceeds the Kafka producers' max.request.size = 1048576 bytes"),
                e.getMessage());
        assertTrue(
                e.getMessage()
                        .contains("raise max.request.size to at least 1055744"
                                + " (--kafka-property max.request.size=1055744"),
                e.getMessage());

        JobOptions raised =
                options("--set", "qsparse.output.max-record-size=1mb", "--kafka-property", "max.request.size=1055744");
        assertDoesNotThrow(() -> EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(), raised));

        // The same limit set through the Flink configuration's kafka.* keys is seen too.
        Configuration flink = new Configuration();
        flink.setString("kafka.max.request.size", "500000");
        IllegalArgumentException fromConfig = assertThrows(
                IllegalArgumentException.class,
                () -> EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(flink), options()));
        assertTrue(fromConfig.getMessage().contains("max.request.size = 500000 bytes"), fromConfig.getMessage());
    }

    private static Properties client(EmbeddedKafkaBroker broker) {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", broker.bootstrapServers());
        return p;
    }

    @Test
    void aTopicThatCannotTakeTheBoundIsRefused() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0, 0, true);
                Admin admin = broker.admin()) {
            admin.createTopics(List.of(
                            new NewTopic("small", Optional.of(1), Optional.empty())
                                    .configs(Map.of("max.message.bytes", "500000")),
                            new NewTopic("default", Optional.of(1), Optional.empty())))
                    .all()
                    .get(1, TimeUnit.MINUTES);
            int required = EnrichmentJob.requiredRecordBytes(900 * 1024);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> KafkaTopics.checkMaxMessageBytes(client(broker), List.of("default", "small"), required));
            assertEquals(
                    "topic small has max.message.bytes = 500000, below the 928768 bytes a record of this job can"
                            + " take (qsparse.output.max-record-size plus key and headers): raise the topic's max.message.bytes"
                            + " or lower qsparse.output.max-record-size",
                    e.getMessage());
            // A topic with the broker's default, or one that does not exist yet, is fine.
            assertDoesNotThrow(() ->
                    KafkaTopics.checkMaxMessageBytes(client(broker), List.of("default", "not-yet-created"), required));
        }
    }
}
