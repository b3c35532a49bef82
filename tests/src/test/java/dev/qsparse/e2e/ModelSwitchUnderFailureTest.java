package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.flink.DeadLetter;
import dev.qsparse.flink.FaultInjection;
import dev.qsparse.flink.ModelSwitch;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.TopicReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new model version rolled in mid-stream on the real broker and mini cluster, with task failures
 * during the switch: one just after the switch record is published (before or around the
 * checkpoint that carries it), one in the enrichment task at the moment the first event of the
 * new version reaches it while the old version may still have events in flight. A refused switch
 * (a model that does not exist) comes first. Afterwards, read with read_committed: every id
 * exactly once; the refusal once per subtask; and in every input partition, read in offset order,
 * the outputs carry the old version up to some point and the new one after it.
 */
class ModelSwitchUnderFailureTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    static final int PARTITIONS = 4;
    static final int PARALLELISM = 2;
    static final int EVENTS = 1200;
    static final int BAD_SWITCH_AT = 300;
    static final int SWITCH_AT = 450;
    /** How long after the failure at the switch the second failure is thrown: the new version serves by then. */
    static final Duration SECOND_FAILURE_AFTER = Duration.ofMillis(2500);

    static final AtomicInteger FAILED_AT_SWITCH = new AtomicInteger();
    static final AtomicInteger FAILED_AFTER_SWITCH = new AtomicInteger();
    /** The old version's events in flight each time a new version reached a task. */
    static final List<Integer> IN_FLIGHT_AT_SWITCHES = new CopyOnWriteArrayList<>();
    /**
     * Set from one slice (40 events) before the switch's publication to the first failure: every
     * micro-batch takes 300 ms more, so that a backlog of the old version's events has built up in
     * the tasks when the new version reaches them, however fast the machine drained the stream
     * before (with the slow-down from the publication on, a loaded CI machine once let a task see
     * the switch with nothing in flight).
     */
    static volatile boolean slowBatches;
    /** When the last injected failure was thrown (System.nanoTime()). */
    static final AtomicLong LAST_FAILURE_NANOS = new AtomicLong();
    /** How long the test keeps producing after the last failure: the restarted job switches again and serves v2. */
    static final Duration PRODUCE_AFTER_FAILURES = Duration.ofSeconds(3);

    @TempDir
    Path tmp;

    /** Fails one task once, {@link #SECOND_FAILURE_AFTER} after the failure at the switch. */
    static final class FailAfterSwitch extends RichMapFunction<byte[], byte[]> {
        @Override
        public byte[] map(byte[] value) {
            if (FAILED_AT_SWITCH.get() == 1
                    && System.nanoTime() - LAST_FAILURE_NANOS.get() > SECOND_FAILURE_AFTER.toNanos()
                    && FAILED_AFTER_SWITCH.compareAndSet(0, 1)) {
                LAST_FAILURE_NANOS.set(System.nanoTime());
                throw new IllegalStateException("injected failure while the new version serves");
            }
            return value;
        }
    }

    @AfterEach
    void removeHook() {
        FaultInjection.install(null);
        slowBatches = false;
    }

    private static Path copyModel(Path dir) throws Exception {
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(Pipeline.TEST_MODEL.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    @Test
    void everyIdOnceAndEachPartitionSwitchesOnceFromOldToNew() throws Exception {
        Path v1 = copyModel(tmp.resolve("embedder/v1"));
        Path v2 = copyModel(tmp.resolve("embedder/v2"));
        FAILED_AT_SWITCH.set(0);
        FAILED_AFTER_SWITCH.set(0);
        slowBatches = false;
        IN_FLIGHT_AT_SWITCHES.clear();
        FaultInjection.install((point, subtask, inFlight, batchSize) -> {
            if (point == FaultInjection.Point.INFERENCE_BATCH && slowBatches) {
                Thread.sleep(300);
            }
            if (point != FaultInjection.Point.MODEL_SWITCH) {
                return;
            }
            IN_FLIGHT_AT_SWITCHES.add(inFlight);
            if (FAILED_AT_SWITCH.compareAndSet(0, 1)) {
                slowBatches = false;
                LAST_FAILURE_NANOS.set(System.nanoTime());
                throw new IllegalStateException("injected failure as the new version reaches subtask " + subtask
                        + " with " + inFlight + " events of the old one in flight");
            }
        });
        List<String> texts = DemoEvents.readTexts(Path.of("../models/data/events.txt"));
        ObjectMapper json = new ObjectMapper();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            Pipeline p = new Pipeline(broker, PARTITIONS);
            String control = "control-" + p.runId;
            broker.createTopics(Map.of(control, 1));
            JobClient job = p.start(
                    p.options("embed", PARALLELISM, v1, "--control-topic", control),
                    s -> s.map(new FailAfterSwitch()).name("fail-after-switch"));

            Properties props = EventProducers.properties(broker.bootstrapServers());
            List<DemoEvents.Event> events = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(70).toNanos();
            try (KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
                // Event i goes to partition i % PARTITIONS, in id order: within a partition the
                // offsets follow the ids. Slices of 40 every 100 ms, the first once the job runs
                // (its results are committed), so the switch meets a live stream; extra slices
                // until both failures have happened and for a while after them, so that the
                // restarted job has a stream to switch in.
                int i = 0;
                while (i < EVENTS || !failuresBehind() && System.nanoTime() < deadline) {
                    for (int end = i + 40; i < end; i++) {
                        if (i == BAD_SWITCH_AT) {
                            publish(
                                    producer,
                                    control,
                                    ModelSwitch.toJson(
                                            tmp.resolve("embedder/v9").toString(), null));
                        }
                        if (i == SWITCH_AT - 40) {
                            slowBatches = true;
                        }
                        if (i == SWITCH_AT) {
                            publish(producer, control, ModelSwitch.toJson(v2.toString(), null));
                            slowBatches = true;
                        }
                        String id = String.format("evt-%05d", i);
                        byte[] payload = json.writeValueAsBytes(Map.of("id", id, "text", texts.get(i % texts.size())));
                        producer.send(new ProducerRecord<>(p.in, i % PARTITIONS, null, payload));
                        events.add(new DemoEvents.Event(id, payload, false));
                    }
                    producer.flush();
                    if (i == 40) {
                        TopicReader.readUntil(
                                broker.bootstrapServers(),
                                List.of(p.out),
                                Duration.ofSeconds(60),
                                rs -> rs.size() >= 40);
                    }
                    Thread.sleep(100);
                }
            }
            int refusals = PARALLELISM;
            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    broker.bootstrapServers(),
                    List.of(p.out, p.dlq),
                    Duration.ofSeconds(60),
                    rs -> rs.size() >= events.size() + refusals);
            // Anything extra (a duplicate) would be committed within a few checkpoints.
            List<ConsumerRecord<byte[], byte[]>> settled = TopicReader.readUntil(
                    broker.bootstrapServers(), List.of(p.out, p.dlq), Duration.ofSeconds(3), rs -> false);
            Pipeline.stop(job);
            if (settled.size() > records.size()) {
                records = settled;
            }

            assertEquals(1, FAILED_AT_SWITCH.get(), "a task failure as the new version reached a task");
            assertEquals(1, FAILED_AFTER_SWITCH.get(), "a task failure while the new version served");
            assertTrue(
                    IN_FLIGHT_AT_SWITCHES.get(0) > 0,
                    "the first failure hit with events of the old version in flight: " + IN_FLIGHT_AT_SWITCHES);

            List<ConsumerRecord<byte[], byte[]>> eventOutputs = new ArrayList<>();
            List<JsonNode> switchRefusals = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                JsonNode node = json.readTree(r.value());
                if (r.topic().equals(p.dlq) && node.path("stage").asText().equals(DeadLetter.STAGE_MODEL_SWITCH)) {
                    switchRefusals.add(node);
                } else {
                    eventOutputs.add(r);
                }
            }
            assertEquals(
                    refusals,
                    switchRefusals.size(),
                    () -> "the bad switch refused once per subtask: " + switchRefusals);
            for (JsonNode d : switchRefusals) {
                assertTrue(d.path("reason").asText().contains("cannot load the model at"), d.toString());
                assertTrue(d.path("reason").asText().contains("version v1 keeps serving"), d.toString());
            }

            Pipeline.Outcome outcome = new Pipeline.Outcome(p.out, eventOutputs);
            assertEquals(events.size(), outcome.enriched.size(), () -> "dead letters: " + outcome.deadLetterReasons());
            EndToEndTest.assertExactlyOnce(events, outcome);

            // Per partition, in offset (= id) order: v1 ... v1 v2 ... v2.
            Map<Integer, TreeMap<Integer, String>> byPartition = new TreeMap<>();
            for (JsonNode e : outcome.enriched) {
                int n = Integer.parseInt(e.path("id").asText().substring(4));
                byPartition
                        .computeIfAbsent(n % PARTITIONS, k -> new TreeMap<>())
                        .put(n, e.path("model_version").asText());
            }
            for (Map.Entry<Integer, TreeMap<Integer, String>> partition : byPartition.entrySet()) {
                int firstNew = -1;
                for (Map.Entry<Integer, String> e : partition.getValue().entrySet()) {
                    String version = e.getValue();
                    assertTrue(version.equals("v1") || version.equals("v2"), "model_version " + version);
                    if (version.equals("v2") && firstNew < 0) {
                        firstNew = e.getKey();
                    }
                    if (firstNew >= 0) {
                        assertEquals(
                                "v2",
                                version,
                                "partition " + partition.getKey() + ": evt " + e.getKey() + " after evt " + firstNew
                                        + " (the first answered by v2)");
                    }
                }
                // An event published shortly before the switch record may still reach its task after
                // the switch took effect (two topics, no order between them): the point is the
                // task's barrier, not the publish time. But each partition starts with v1 and ends with v2.
                assertTrue(
                        firstNew > partition.getValue().firstKey(),
                        "partition " + partition.getKey() + " answered by v1 first and then by v2, first v2: evt "
                                + firstNew);
            }
            System.out.printf(
                    "model switch: old version's events in flight each time the new one reached a task %s;"
                            + " first v2 per partition %s%n",
                    IN_FLIGHT_AT_SWITCHES,
                    byPartition.entrySet().stream()
                            .map(en -> en.getKey() + ":"
                                    + en.getValue().entrySet().stream()
                                            .filter(x -> x.getValue().equals("v2"))
                                            .findFirst()
                                            .map(Map.Entry::getKey)
                                            .orElse(-1))
                            .toList());
        }
    }

    private static boolean failuresBehind() {
        return FAILED_AT_SWITCH.get() == 1
                && FAILED_AFTER_SWITCH.get() == 1
                && System.nanoTime() - LAST_FAILURE_NANOS.get() > PRODUCE_AFTER_FAILURES.toNanos();
    }

    private static void publish(KafkaProducer<byte[], byte[]> producer, String topic, String record) throws Exception {
        producer.send(new ProducerRecord<>(topic, record.getBytes(StandardCharsets.UTF_8)))
                .get();
    }
}
