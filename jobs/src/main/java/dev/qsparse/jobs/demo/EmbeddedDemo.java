package dev.qsparse.jobs.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.jobs.EnrichmentJob;
import dev.qsparse.jobs.JobOptions;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The one-command demo: a real Kafka broker and a Flink mini cluster (with its web UI) in this
 * JVM, the exactly-once enrichment job over the shipped demo model, held-out event texts with
 * malformed events mixed in, and a readable summary. Everything stops before it returns.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run Kafka -> Q-Sparse -> Kafka end to end inside this JVM and print what came out.")
public final class EmbeddedDemo implements Callable<Integer> {

    @Option(names = "--model", defaultValue = "models/qsparse-demo", description = "Model directory (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(names = "--mode", defaultValue = "embed", description = "embed, generate or score (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--events", defaultValue = "300", description = "Well-formed events to send (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(names = "--malformed", defaultValue = "16", description = "Malformed events mixed in (default: ${DEFAULT-VALUE}).")
    int malformed;

    @Option(names = "--events-file", defaultValue = "models/data/events.txt", description = "Held-out event texts, one per line (default: ${DEFAULT-VALUE}).")
    Path eventsFile;

    @Option(names = "--parallelism", defaultValue = "2", description = "Job parallelism (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--max-batch-size", defaultValue = "16", description = "Operator micro-batch size (default: ${DEFAULT-VALUE}).")
    int maxBatchSize;

    @Option(names = "--max-new-tokens", defaultValue = "16", description = "Tokens generated per event in generate mode (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--rate", defaultValue = "0", description = "Events per second to produce; 0 sends all at once (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--kafka-port", defaultValue = "0", description = "Port of the embedded broker; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int kafkaPort;

    @Option(names = "--web-port", defaultValue = "8081", description = "Port of the Flink web UI; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int webPort;

    @Option(names = "--bind-address", defaultValue = "127.0.0.1",
            description = "Address the Flink web UI (which accepts job uploads) and the mini cluster's other listeners"
                    + " bind to; 0.0.0.0 opens them to every interface (default: ${DEFAULT-VALUE}).")
    String bindAddress;

    @Option(names = "--bootstrap-servers", description = "Use this external Kafka instead of the embedded broker.")
    String externalBootstrap;

    @Option(names = "--show", defaultValue = "5", description = "Enriched events to print (default: ${DEFAULT-VALUE}).")
    int show;

    @Option(names = "--timeout", defaultValue = "PT10M", description = "Give up after this long (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final PrintStream out;

    public EmbeddedDemo() {
        this(System.out);
    }

    public EmbeddedDemo(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new EmbeddedDemo()).execute(args));
    }

    /** What a run saw, for the caller (and the tests). */
    public record Summary(int sent, int enriched, int deadLettered, Map<String, Integer> deadLetterReasons,
                          double eventsPerSecond, double p50Millis, double p99Millis, double meanSparsity) {
        public boolean balanced() {
            return enriched + deadLettered == sent;
        }
    }

    private Summary summary;

    public Summary summary() {
        return summary;
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(model.resolve("config.json"))) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "model directory " + model.toAbsolutePath() + " not found (no config.json); pass --model DIR");
        }
        if (!Files.isRegularFile(eventsFile)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "events file " + eventsFile.toAbsolutePath() + " not found; pass --events-file FILE");
        }
        List<DemoEvents.Event> input = DemoEvents.build(DemoEvents.readTexts(eventsFile), events, malformed, null, 7L);
        String runId = Long.toString(System.currentTimeMillis(), 36);
        EmbeddedKafkaBroker broker = null;
        try {
            String bootstrap;
            String suffix;
            if (externalBootstrap == null) {
                broker = EmbeddedKafkaBroker.start(Files.createTempDirectory("qsparse-demo-kafka"), kafkaPort, 0, true);
                bootstrap = broker.bootstrapServers();
                suffix = "";
                out.println("Kafka broker (in this JVM): " + bootstrap);
            } else {
                bootstrap = externalBootstrap;
                suffix = "-" + runId;
                out.println("Kafka broker (external): " + bootstrap);
            }
            String in = "qsparse-demo-input" + suffix;
            String enriched = "qsparse-demo-enriched" + suffix;
            String dlq = "qsparse-demo-dead-letters" + suffix;
            KafkaTopics.create(bootstrap, Map.of(in, 2, enriched, 2, dlq, 1));
            summary = runJob(bootstrap, in, enriched, dlq, runId, input);
            printSummary(summary);
            return summary.balanced() ? 0 : 1;
        } finally {
            if (broker != null) {
                broker.close();
                out.println("Kafka broker stopped.");
            }
        }
    }

    private Summary runJob(String bootstrap, String in, String enrichedTopic, String dlq, String runId,
                           List<DemoEvents.Event> input) throws Exception {
        JobOptions options = JobOptions.parse(
                "--bootstrap-servers", bootstrap, "--input-topic", in, "--output-topic", enrichedTopic,
                "--dead-letter-topic", dlq, "--group-id", "qsparse-demo-" + runId,
                "--transactional-id-prefix", "qsparse-demo-" + runId, "--checkpoint-interval", "PT1S",
                "--parallelism", String.valueOf(parallelism), "--model", model.toString(), "--mode", mode,
                "--max-batch-size", String.valueOf(maxBatchSize),
                "--set", "qsparse.generate.max-new-tokens=" + maxNewTokens);
        Configuration conf = bindTo(new Configuration(), bindAddress,
                EmbeddedKafkaBroker.choosePort(webPort, "Flink web UI"));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
        EnrichmentJob.build(env, options);
        JobClient job = env.executeAsync("qsparse-demo (" + mode + ")");
        out.println("Flink web UI: " + webUiUrl(conf) + "  (job " + job.getJobID() + ")");

        Map<String, Long> sentAt = new ConcurrentHashMap<>();
        long start = System.currentTimeMillis();
        Thread producer = new Thread(() -> produce(bootstrap, in, input, sentAt), "qsparse-demo-producer");
        producer.start();
        int expected = input.size();
        List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(bootstrap, List.of(enrichedTopic, dlq),
                timeout, rs -> rs.size() >= expected);
        producer.join();
        long end = records.stream().mapToLong(ConsumerRecord::timestamp).max().orElse(System.currentTimeMillis());
        job.cancel().get(1, TimeUnit.MINUTES);
        out.println("Flink job stopped.");
        return analyse(records, enrichedTopic, input, sentAt, Math.max(1, end - start));
    }

    /**
     * The local cluster's listeners on {@code address} only: the REST endpoint and web UI (which
     * accept job uploads, that is, code to run), the blob server and RPC of the job manager, and
     * the task manager. Flink's default is every interface.
     */
    public static Configuration bindTo(Configuration conf, String address, int webPort) {
        conf.set(RestOptions.BIND_ADDRESS, address);
        conf.set(RestOptions.ADDRESS, connectHost(address));
        conf.set(RestOptions.PORT, webPort);
        conf.set(JobManagerOptions.BIND_HOST, address);
        conf.set(JobManagerOptions.ADDRESS, connectHost(address));
        conf.set(TaskManagerOptions.BIND_HOST, address);
        conf.set(TaskManagerOptions.HOST, connectHost(address));
        return conf;
    }

    /** Where a client on this machine reaches a listener bound to {@code address}. */
    private static String connectHost(String address) {
        return address.equals("0.0.0.0") || address.equals("::") ? "127.0.0.1" : address;
    }

    /** The web UI's URL, with the address it is bound to (so what is printed is what listens). */
    static String webUiUrl(Configuration conf) {
        String host = conf.get(RestOptions.ADDRESS);
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + conf.get(RestOptions.PORT);
    }

    private void produce(String bootstrap, String topic, List<DemoEvents.Event> input, Map<String, Long> sentAt) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            long begin = System.nanoTime();
            for (int i = 0; i < input.size(); i++) {
                if (rate > 0) {
                    long due = begin + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
                DemoEvents.Event e = input.get(i);
                producer.send(new ProducerRecord<>(topic, e.payload()),
                        (meta, error) -> {
                            if (error == null) {
                                sentAt.put(e.id(), meta.timestamp());
                            }
                        });
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Summary analyse(List<ConsumerRecord<byte[], byte[]>> records, String enrichedTopic,
                            List<DemoEvents.Event> input, Map<String, Long> sentAt, long wallMillis) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> enriched = new ArrayList<>();
        Map<String, Integer> reasons = new TreeMap<>();
        List<Long> latencies = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            JsonNode node = json.readTree(r.value());
            if (r.topic().equals(enrichedTopic)) {
                enriched.add(node);
                Long sent = sentAt.get(node.path("id").asText());
                if (sent != null) {
                    latencies.add(r.timestamp() - sent);
                }
            } else {
                String reason = node.path("reason").asText("?");
                reasons.merge(reason.length() > 60 ? reason.substring(0, 60) + "..." : reason, 1, Integer::sum);
            }
        }
        printExamples(enriched, input);
        latencies.sort(null);
        double sparsity = enriched.stream().mapToDouble(n -> n.path("activation_sparsity").asDouble()).average().orElse(0);
        int deadLettered = records.size() - enriched.size();
        return new Summary(input.size(), enriched.size(), deadLettered, reasons,
                records.size() * 1000.0 / wallMillis, percentile(latencies, 0.50), percentile(latencies, 0.99), sparsity);
    }

    private void printExamples(List<JsonNode> enriched, List<DemoEvents.Event> input) {
        Map<String, String> texts = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (DemoEvents.Event e : input) {
            if (!e.malformed()) {
                try {
                    texts.put(e.id(), json.readTree(e.payload()).path("text").asText());
                } catch (IOException ignored) {
                    // Well-formed events are valid JSON by construction.
                }
            }
        }
        enriched.sort((a, b) -> a.path("id").asText().compareTo(b.path("id").asText()));
        out.println();
        out.println("Some enriched events:");
        for (int i = 0; i < Math.min(show, enriched.size()); i++) {
            JsonNode e = enriched.get(i * Math.max(1, enriched.size() / Math.max(1, show)));
            String id = e.path("id").asText();
            String text = clip(texts.getOrDefault(id, "?"), 90);
            switch (e.path("mode").asText()) {
                case "embed" -> {
                    JsonNode nearest = nearest(e, enriched);
                    out.printf("  %s  \"%s\"%n      nearest: %s  \"%s\"  (cosine %.3f)%n", id, text,
                            nearest == null ? "-" : nearest.path("id").asText(),
                            nearest == null ? "" : clip(texts.getOrDefault(nearest.path("id").asText(), "?"), 90),
                            nearest == null ? 0.0 : cosine(e, nearest));
                }
                case "generate" -> out.printf("  %s  \"%s\"%n      -> \"%s\"%n", id, text,
                        clip(e.path("generated_text").asText(), 120));
                default -> out.printf("  %s  perplexity %.1f  (%d tokens)  \"%s\"%n", id,
                        e.path("perplexity").asDouble(), e.path("scored_tokens").asInt(), text);
            }
        }
    }

    private static JsonNode nearest(JsonNode e, List<JsonNode> all) {
        JsonNode best = null;
        double bestScore = -2;
        for (JsonNode other : all) {
            if (other == e) {
                continue;
            }
            double c = cosine(e, other);
            if (c > bestScore) {
                bestScore = c;
                best = other;
            }
        }
        return best;
    }

    private static double cosine(JsonNode a, JsonNode b) {
        JsonNode x = a.path("embedding");
        JsonNode y = b.path("embedding");
        double dot = 0;
        for (int i = 0; i < x.size() && i < y.size(); i++) {
            dot += x.get(i).asDouble() * y.get(i).asDouble();
        }
        return dot; // both are unit vectors
    }

    private void printSummary(Summary s) {
        out.println();
        out.println("Summary");
        out.printf("  events in        %d%n", s.sent());
        out.printf("  enriched         %d%n", s.enriched());
        out.printf("  dead-lettered    %d%n", s.deadLettered());
        s.deadLetterReasons().forEach((reason, n) -> out.printf("      %3d  %s%n", n, reason));
        out.printf("  accounted for    %s%n", s.balanced() ? "all, exactly once" : "NO: " + (s.enriched() + s.deadLettered()) + " of " + s.sent());
        out.printf("  throughput       %.1f events/s%n", s.eventsPerSecond());
        out.printf("  latency p50/p99  %.0f / %.0f ms (Kafka append of the input to the enriched record's send)%n",
                s.p50Millis(), s.p99Millis());
        out.printf("  sparsity         %.1f%% of linear-layer inputs are zero%n", 100 * s.meanSparsity());
    }

    private static double percentile(List<Long> sorted, double q) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(q * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    private static String clip(String s, int n) {
        String flat = s.replace('\n', ' ');
        return flat.length() <= n ? flat : flat.substring(0, n - 3) + "...";
    }
}
