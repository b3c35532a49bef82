package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/**
 * Kafka client keys the job's guarantees depend on: the value the job sets is accepted, any other
 * is refused when the job is built, naming the key and the option that controls it.
 */
class KafkaOwnedKeysTest {

    private static final String BYTES_IN = "org.apache.kafka.common.serialization.ByteArrayDeserializer";
    private static final String BYTES_OUT = "org.apache.kafka.common.serialization.ByteArraySerializer";

    /** Builds the job with {@code extra} arguments on top of a model, on an empty configuration. */
    private static void build(Configuration flink, String... extra) {
        List<String> args = new ArrayList<>(List.of("--model", "m"));
        args.addAll(List.of(extra));
        EnrichmentJob.build(
                StreamExecutionEnvironment.getExecutionEnvironment(flink),
                JobOptions.parse(args.toArray(String[]::new)));
    }

    private static void accepted(String... args) {
        assertDoesNotThrow(() -> build(new Configuration(), args), String.join(" ", args));
    }

    private static String refused(String... args) {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> build(new Configuration(), args), String.join(" ", args));
        return e.getMessage();
    }

    /** Refused with a message naming the key and {@code hint}, under both delivery guarantees. */
    private static void refusedInBothModes(String property, String hint) {
        for (String delivery : List.of("exactly-once", "at-least-once")) {
            String message = refused("--delivery", delivery, "--kafka-property", property);
            String key = property.substring(0, property.indexOf('='));
            assertTrue(message.contains("Kafka client property " + key), message);
            assertTrue(message.contains(hint), message);
        }
    }

    @Test
    void enableAutoCommitOnlyFalse() {
        // K1: a consumer committing offsets itself loses the events in flight when the job restarts.
        refusedInBothModes("enable.auto.commit=true", "enable.auto.commit=false");
        accepted("--kafka-property", "enable.auto.commit=false");
    }

    @Test
    void enableAutoCommitIsRefusedFromEverySource() {
        Configuration flink = new Configuration();
        flink.setString("kafka.enable.auto.commit", "true");
        String message =
                assertThrows(IllegalArgumentException.class, () -> build(flink)).getMessage();
        assertTrue(message.contains("enable.auto.commit"), message);
        assertTrue(message.contains("kafka.* in the Flink configuration"), message);
    }

    @Test
    void isolationLevelOnlyReadCommitted() {
        refusedInBothModes("isolation.level=read_uncommitted", "isolation.level=read_committed");
        accepted("--kafka-property", "isolation.level=read_committed");
    }

    @Test
    void groupIdOnlyThroughItsOption() {
        refusedInBothModes("group.id=other", "--group-id");
        // Even the same value: --group-id is the one source.
        String message = refused("--kafka-property", "group.id=qsparse-enrichment");
        assertTrue(message.contains("--group-id"), message);
        Configuration flink = new Configuration();
        flink.setString("kafka.group.id", "other");
        assertThrows(IllegalArgumentException.class, () -> build(flink));
    }

    @Test
    void transactionalIdOnlyThroughItsOption() {
        String message = refused("--kafka-property", "transactional.id=mine");
        assertTrue(message.contains("transactional.id"), message);
        assertTrue(message.contains("--transactional-id-prefix"), message);
        // At-least-once writes without transactions: a transactional id would break every send.
        message = refused("--delivery", "at-least-once", "--kafka-property", "transactional.id=mine");
        assertTrue(message.contains("without transactions"), message);
    }

    @Test
    void transactionTimeoutOnlyThroughItsOption() {
        String message = refused("--kafka-property", "transaction.timeout.ms=3600000");
        assertTrue(message.contains("transaction.timeout.ms"), message);
        assertTrue(message.contains("--transaction-timeout"), message);
        accepted("--kafka-property", "transaction.timeout.ms=600000");
        accepted("--transaction-timeout", "PT5M", "--kafka-property", "transaction.timeout.ms=300000");
        // Not a transactional key under at-least-once.
        accepted("--delivery", "at-least-once", "--kafka-property", "transaction.timeout.ms=3600000");
    }

    @Test
    void serializersOnlyTheJobsOwn() {
        for (String key : List.of("key.deserializer", "value.deserializer")) {
            refusedInBothModes(key + "=org.apache.kafka.common.serialization.StringDeserializer", BYTES_IN);
            accepted("--kafka-property", key + "=" + BYTES_IN);
        }
        for (String key : List.of("key.serializer", "value.serializer")) {
            refusedInBothModes(key + "=org.apache.kafka.common.serialization.StringSerializer", BYTES_OUT);
            accepted("--kafka-property", key + "=" + BYTES_OUT);
        }
    }

    @Test
    void acksOnlyAll() {
        refusedInBothModes("acks=0", "acks=all");
        refusedInBothModes("acks=1", "acks=all");
        accepted("--kafka-property", "acks=all");
        accepted("--kafka-property", "acks=-1");
    }

    @Test
    void idempotenceOnlyTrue() {
        refusedInBothModes("enable.idempotence=false", "enable.idempotence=true");
        accepted("--kafka-property", "enable.idempotence=true");
    }

    @Test
    void maxInFlightAtMostFive() {
        refusedInBothModes("max.in.flight.requests.per.connection=10", "1 to 5");
        refusedInBothModes("max.in.flight.requests.per.connection=0", "1 to 5");
        refusedInBothModes("max.in.flight.requests.per.connection=many", "1 to 5");
        accepted("--kafka-property", "max.in.flight.requests.per.connection=5");
        accepted("--kafka-property", "max.in.flight.requests.per.connection=1");
    }
}
