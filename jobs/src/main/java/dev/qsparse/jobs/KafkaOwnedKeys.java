package dev.qsparse.jobs;

import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Kafka client keys the job's delivery guarantee depends on. A user value equal to what the job
 * sets is accepted; any other value is refused when the job is built, with a message naming the
 * key and the option that controls it, instead of losing events (a consumer that commits offsets
 * itself) or failing in a restart loop at run time.
 *
 * <ul>
 *   <li>{@code enable.auto.commit}: only {@code false} (offsets are committed at checkpoints);
 *   <li>{@code isolation.level}: only {@code read_committed};
 *   <li>{@code group.id}: never ({@code --group-id});
 *   <li>{@code transactional.id}: never ({@code --transactional-id-prefix});
 *   <li>{@code transaction.timeout.ms}: only {@code --transaction-timeout}'s value, under exactly-once;
 *   <li>key and value (de)serializers: only the byte-array ones the job uses;
 *   <li>{@code acks}: only {@code all}; {@code enable.idempotence}: only {@code true};
 *       {@code max.in.flight.requests.per.connection}: at most 5 (idempotence keeps order up to 5).
 * </ul>
 */
final class KafkaOwnedKeys {

    /** The most in-flight requests an idempotent producer keeps in order. */
    static final int MAX_IN_FLIGHT = 5;

    private static final String FROM = " (a Kafka client property, from kafka.* in the Flink configuration,"
            + " --kafka-properties-file or --kafka-property)";

    private KafkaOwnedKeys() {}

    /** Throws {@link IllegalArgumentException} naming the first owned key {@code kafka} sets otherwise. */
    static void check(Properties kafka, JobOptions o) {
        only(
                kafka,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                "false",
                "the job commits offsets only when a checkpoint"
                        + " completes; a consumer committing on its own loses the events in flight when the job restarts");
        only(
                kafka,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                "read_committed",
                "the job never reads records of" + " aborted transactions");
        never(kafka, ConsumerConfig.GROUP_ID_CONFIG, "use --group-id, the one source of the consumer group");
        never(
                kafka,
                ProducerConfig.TRANSACTIONAL_ID_CONFIG,
                o.delivery == JobOptions.Delivery.EXACTLY_ONCE
                        ? "the sinks derive their transactional ids from --transactional-id-prefix"
                        : "--delivery at-least-once writes without transactions");
        if (o.delivery == JobOptions.Delivery.EXACTLY_ONCE) {
            only(
                    kafka,
                    ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
                    String.valueOf(o.transactionTimeout.toMillis()),
                    "use --transaction-timeout");
        }
        String bytesIn = ByteArrayDeserializer.class.getName();
        String bytesOut = ByteArraySerializer.class.getName();
        only(kafka, ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, bytesIn, "the job reads raw bytes");
        only(kafka, ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, bytesIn, "the job reads raw bytes");
        only(kafka, ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, bytesOut, "the job writes raw bytes");
        only(kafka, ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, bytesOut, "the job writes raw bytes");
        String acks = kafka.getProperty(ProducerConfig.ACKS_CONFIG);
        if (acks != null && !acks.trim().equals("-1")) {
            only(kafka, ProducerConfig.ACKS_CONFIG, "all", "a record is written once every in-sync replica has it");
        }
        only(kafka, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true", "retries must not write a record twice");
        String inFlight = kafka.getProperty(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
        if (inFlight != null && !withinInFlightBound(inFlight)) {
            throw refused(
                    ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
                    inFlight,
                    "1 to " + MAX_IN_FLIGHT,
                    "an idempotent producer keeps records in order only up to " + MAX_IN_FLIGHT);
        }
    }

    private static boolean withinInFlightBound(String value) {
        try {
            int n = Integer.parseInt(value.trim());
            return n >= 1 && n <= MAX_IN_FLIGHT;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static void only(Properties kafka, String key, String allowed, String why) {
        String value = kafka.getProperty(key);
        if (value != null && !value.trim().equals(allowed)) {
            throw refused(key, value, allowed, why);
        }
    }

    private static void never(Properties kafka, String key, String why) {
        if (kafka.getProperty(key) != null) {
            throw new IllegalArgumentException(
                    "Kafka client property " + key + " is set by the job and cannot be given" + FROM + ": " + why);
        }
    }

    private static IllegalArgumentException refused(String key, String value, String allowed, String why) {
        return new IllegalArgumentException("Kafka client property " + key + "=" + value + " is refused" + FROM
                + ": the job needs " + key + "=" + allowed + " (" + why + "); remove it or set it to " + allowed);
    }
}
