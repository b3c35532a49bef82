package dev.qsparse.jobs.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads topics from the beginning with {@code read_committed} isolation, the way a downstream
 * consumer of an exactly-once job must, until a condition on what was read holds or time runs out.
 */
public final class TopicReader {

    private TopicReader() {}

    /**
     * Polls {@code topics} from the earliest offset until {@code done} accepts the records read so
     * far or {@code timeout} passes, then returns everything read.
     */
    public static List<ConsumerRecord<byte[], byte[]>> readUntil(
            String bootstrapServers,
            List<String> topics,
            Duration timeout,
            Predicate<List<ConsumerRecord<byte[], byte[]>>> done) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return readUntil(p, topics, timeout, done);
    }

    /**
     * The same with any consumer client properties: {@code bootstrap.servers} and, for a secured
     * cluster, {@code security.protocol}, {@code sasl.*}, {@code ssl.*}. Group, offset reset, auto
     * commit and isolation level are set here.
     */
    public static List<ConsumerRecord<byte[], byte[]>> readUntil(
            Properties clientProperties,
            List<String> topics,
            Duration timeout,
            Predicate<List<ConsumerRecord<byte[], byte[]>>> done) {
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "qsparse-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(topics);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    records.add(r);
                }
                if (done.test(records)) {
                    break;
                }
            }
        }
        return records;
    }
}
