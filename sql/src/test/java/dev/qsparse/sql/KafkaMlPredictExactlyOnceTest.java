package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.flink.FaultInjection;
import dev.qsparse.flink.SharedModels;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.TopicReader;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Kafka table through {@code ML_PREDICT} into a Kafka table with the exactly-once sink, on the
 * in-JVM broker, with an {@link Error} thrown on an inference thread in the middle of the run: the
 * task fails, Flink restores the last checkpoint (the async operator's rows in flight included)
 * and replays, and a {@code read_committed} consumer finds every id exactly once, each enriched.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class KafkaMlPredictExactlyOnceTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    private static final int EVENTS = 300;
    private static final ObjectMapper JSON = new ObjectMapper();

    static EmbeddedKafkaBroker broker;
    static final AtomicInteger BATCHES = new AtomicInteger();
    static final AtomicInteger FAULTS = new AtomicInteger();
    static final AtomicInteger COMMITTED_BEFORE_FAULT = new AtomicInteger(-1);

    @BeforeAll
    static void startBroker() throws Exception {
        broker = EmbeddedKafkaBroker.start();
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
    }

    @AfterEach
    void removeHook() {
        FaultInjection.install(null);
        assertEquals(0, SharedModels.totalReferences());
    }

    @Test
    void everyRowIsEnrichedExactlyOnceAcrossAnInferenceFailure() throws Exception {
        broker.createTopics(Map.of("sql-in", 2, "sql-out", 2));
        produce("sql-in");
        // Each batch takes a little longer, so that checkpoints complete before the fault and after it.
        FaultInjection.install((point, subtask, inFlight, batchSize) -> {
            if (point != FaultInjection.Point.INFERENCE_BATCH) {
                return;
            }
            Thread.sleep(15);
            if (BATCHES.incrementAndGet() == 40 && FAULTS.getAndIncrement() == 0) {
                // What checkpoints committed so far: the fault must come between commits.
                COMMITTED_BEFORE_FAULT.set(TopicReader.readUntil(
                                broker.bootstrapServers(), List.of("sql-out"), Duration.ofSeconds(5), r -> !r.isEmpty())
                        .size());
                throw new AssertionError("injected: an inference thread fails mid-batch");
            }
        });

        TableEnvironment tEnv = SqlModels.tableEnvironment();
        tEnv.getConfig().set("execution.checkpointing.interval", "200 ms");
        tEnv.getConfig().set("restart-strategy.type", "fixed-delay");
        tEnv.getConfig().set("restart-strategy.fixed-delay.attempts", "3");
        tEnv.getConfig().set("restart-strategy.fixed-delay.delay", "200 ms");
        String servers = broker.bootstrapServers();
        tEnv.executeSql("CREATE TABLE events (id STRING, text STRING) WITH ("
                + " 'connector' = 'kafka', 'topic' = 'sql-in', 'properties.bootstrap.servers' = '" + servers + "',"
                + " 'properties.group.id' = 'sql-test', 'scan.startup.mode' = 'earliest-offset',"
                + " 'scan.bounded.mode' = 'latest-offset', 'format' = 'json')");
        tEnv.executeSql("CREATE TABLE enriched (id STRING, embedding ARRAY<FLOAT>, error STRING) WITH ("
                + " 'connector' = 'kafka', 'topic' = 'sql-out', 'properties.bootstrap.servers' = '" + servers + "',"
                + " 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',"
                + " 'sink.transactional-id-prefix' = 'qsparse-sql-test',"
                + " 'properties.transaction.timeout.ms' = '60000')");
        tEnv.executeSql(
                "CREATE TEMPORARY MODEL embedder INPUT (text STRING) OUTPUT (embedding ARRAY<FLOAT>, error STRING)"
                        + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed',"
                        + " 'batch.max-size' = '4')");
        tEnv.executeSql("INSERT INTO enriched SELECT id, embedding, error"
                        + " FROM ML_PREDICT(TABLE events, MODEL embedder, DESCRIPTOR(text),"
                        + " MAP['max-concurrent-operations', '8'])")
                .await(120, TimeUnit.SECONDS);

        assertEquals(1, FAULTS.get(), "the fault was injected once");
        int committed = COMMITTED_BEFORE_FAULT.get();
        assertTrue(committed > 0 && committed < EVENTS, "rows committed before the fault: " + committed);
        List<ConsumerRecord<byte[], byte[]>> records =
                TopicReader.readUntil(servers, List.of("sql-out"), Duration.ofSeconds(20), r -> r.size() >= EVENTS);
        Map<String, Integer> seen = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            JsonNode row = JSON.readTree(r.value());
            seen.merge(row.get("id").asText(), 1, Integer::sum);
            assertTrue(row.get("error").isNull(), row.toString());
            assertEquals(48, row.get("embedding").size(), row.toString());
        }
        assertEquals(EVENTS, seen.size(), "ids in the output");
        seen.forEach((id, n) -> assertEquals(1, n, "copies of " + id));
        assertEquals(EVENTS, records.size(), "records under read_committed");
    }

    private static void produce(String topic) throws Exception {
        Properties p = EventProducers.properties(broker.bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < EVENTS; i++) {
                ObjectNode o = JSON.createObjectNode();
                o.put("id", "k" + i);
                o.put("text", SqlModels.TEXTS[i % SqlModels.TEXTS.length] + " (" + i + ")");
                producer.send(new ProducerRecord<>(topic, JSON.writeValueAsBytes(o)));
            }
            producer.flush();
        }
    }
}
