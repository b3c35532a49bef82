package dev.qsparse.jobs.kafka;

import java.util.Properties;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * Producer settings for writing events into topics that may have been created a moment ago (the
 * demo, the tests, the event tool).
 *
 * <p>One request in flight per connection: with several, a first produce request that reaches the
 * broker before it has applied a new partition's leadership fails (NOT_LEADER_OR_FOLLOWER) while a
 * later one is appended; every retry of the first then fails with OUT_OF_ORDER_SEQUENCE_NUMBER
 * until its delivery timeout, and its records are lost despite idempotence (KAFKA-15591, fixed in
 * brokers after the 4.2 we run). Seen as an e2e test whose last events never arrived.
 */
public final class EventProducers {

    private EventProducers() {}

    /** {@code bootstrap.servers}, acks=all, idempotent, one request in flight. */
    public static Properties properties(String bootstrapServers) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        return p;
    }
}
