package dev.qsparse.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.jobs.EnrichmentJob;
import dev.qsparse.jobs.JobOptions;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.TopicReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * One end-to-end run: fresh topics on the test broker, events in, the real job on the mini
 * cluster, and every output read back with read_committed.
 */
public final class Pipeline {

    static final Path TEST_MODEL = Path.of("../model-runtime/src/test/resources/test-model");
    private static final Pattern EVENT_ID = Pattern.compile("(evt|bad)-\\d{5}");

    final EmbeddedKafkaBroker broker;
    final String in;
    final String out;
    final String dlq;
    final String runId = UUID.randomUUID().toString().substring(0, 8);

    Pipeline(EmbeddedKafkaBroker broker, int inputPartitions) throws IOException {
        this.broker = broker;
        this.in = "in-" + runId;
        this.out = "out-" + runId;
        this.dlq = "dlq-" + runId;
        broker.createTopics(Map.of(in, inputPartitions, out, 2, dlq, 1));
    }

    /** Job options as the command line would give them, plus extra arguments. */
    JobOptions options(String mode, int parallelism, String... extra) {
        return options(mode, parallelism, TEST_MODEL, extra);
    }

    /** Job options over the model in {@code model}. */
    JobOptions options(String mode, int parallelism, Path model, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--bootstrap-servers",
                broker.bootstrapServers(),
                "--input-topic",
                in,
                "--output-topic",
                out,
                "--dead-letter-topic",
                dlq,
                "--group-id",
                "g-" + runId,
                "--transactional-id-prefix",
                "tx-" + runId,
                "--checkpoint-interval",
                "PT0.5S",
                "--parallelism",
                String.valueOf(parallelism),
                "--model",
                model.toString(),
                "--mode",
                mode,
                "--max-batch-size",
                "8",
                "--restart-attempts",
                "20"));
        args.addAll(List.of(extra));
        return JobOptions.parse(args.toArray(String[]::new));
    }

    /** Writes every event to the input topic; a send that fails fails the test here, naming the event. */
    void produce(List<DemoEvents.Event> events) throws Exception {
        Properties p = EventProducers.properties(broker.bootstrapServers());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (DemoEvents.Event e : events) {
                sent.add(producer.send(new ProducerRecord<>(in, e.payload())));
            }
            producer.flush();
            for (int i = 0; i < sent.size(); i++) {
                try {
                    sent.get(i).get();
                } catch (ExecutionException e) {
                    throw new AssertionError("input event " + events.get(i).id() + " was not written", e.getCause());
                }
            }
        }
    }

    JobClient start(JobOptions options, UnaryOperator<DataStream<byte[]>> beforeModel) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        EnrichmentJob.build(env, options, beforeModel);
        return env.executeAsync("e2e-" + runId);
    }

    /** Reads output + dead letters until {@code expected} records arrived, then a little longer to catch duplicates. */
    Outcome await(int expected, Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                broker.bootstrapServers(), List.of(out, dlq), timeout, rs -> rs.size() >= expected);
        // Anything extra (a duplicate) would be committed within a few checkpoints.
        List<ConsumerRecord<byte[], byte[]>> settled =
                TopicReader.readUntil(broker.bootstrapServers(), List.of(out, dlq), Duration.ofSeconds(3), rs -> false);
        return new Outcome(this, settled.size() >= records.size() ? settled : records);
    }

    static void stop(JobClient job) throws Exception {
        job.cancel().get(1, TimeUnit.MINUTES);
    }

    /** What came out of a run, indexed by input event id. */
    public static final class Outcome {
        public final List<JsonNode> enriched = new ArrayList<>();
        public final List<JsonNode> deadLetters = new ArrayList<>();
        /** Input event id -> how many outputs (enriched or dead letter) name it. */
        public final Map<String, Integer> countsById = new HashMap<>();

        Outcome(Pipeline p, List<ConsumerRecord<byte[], byte[]>> records) {
            this(p.out, records);
        }

        /** Records of the output topic {@code outputTopic} and of the dead-letter topic. */
        public Outcome(String outputTopic, List<ConsumerRecord<byte[], byte[]>> records) {
            ObjectMapper json = new ObjectMapper();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                JsonNode node;
                try {
                    node = json.readTree(r.value());
                } catch (IOException e) {
                    throw new UncheckedIOException(
                            "output record is not JSON: " + new String(r.value(), StandardCharsets.UTF_8), e);
                }
                String id;
                if (r.topic().equals(outputTopic)) {
                    enriched.add(node);
                    id = node.path("id").asText();
                } else {
                    deadLetters.add(node);
                    // Dead letters may have no readable id: find the event by the id inside its payload.
                    Matcher m = EVENT_ID.matcher(node.path("payload").asText());
                    id = node.hasNonNull("id") ? node.get("id").asText() : m.find() ? m.group() : "unidentified";
                }
                countsById.merge(id, 1, Integer::sum);
            }
        }

        public int total() {
            return enriched.size() + deadLetters.size();
        }

        /** Stage and reason of every dead letter, for a failing assertion's message. */
        public List<String> deadLetterReasons() {
            List<String> reasons = new ArrayList<>();
            for (JsonNode d : deadLetters) {
                reasons.add(d.path("stage").asText() + ": " + d.path("reason").asText());
            }
            return reasons;
        }
    }
}
