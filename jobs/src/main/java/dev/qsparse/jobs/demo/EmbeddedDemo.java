package dev.qsparse.jobs.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.flink.DeadLetter;
import dev.qsparse.flink.ModelSwitch;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.jobs.EnrichmentJob;
import dev.qsparse.jobs.JobOptions;
import dev.qsparse.jobs.OperatorFlags;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.runtime.inference.Task;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
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
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.BlobServerOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The one-command demo: a real Kafka broker and a Flink mini cluster (with its web UI) in this
 * JVM, the exactly-once enrichment job over the shipped demo model, held-out event texts with
 * malformed events mixed in, and a readable summary. Everything stops before it returns.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        defaultValueProvider = OperatorFlags.class,
        description = "Run Kafka -> Q-Sparse -> Kafka end to end inside this JVM and print what came out.")
public final class EmbeddedDemo implements Callable<Integer> {

    /**
     * Default input rate, events per second: below what the demo model serves in any mode on two
     * cores at parallelism 2, so that the latencies measure the pipeline and not a backlog.
     */
    public static final int DEFAULT_RATE = 25;

    static final String WARM_UP_ID = "warmup-";

    @Option(
            names = "--model",
            defaultValue = "models/qsparse-demo",
            description = "Model directory (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(names = "--mode", description = "embed, generate or score; sets qsparse.mode (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(
            names = "--events",
            defaultValue = "300",
            description = "Well-formed events to send (default: ${DEFAULT-VALUE}).")
    int events;

    @Option(
            names = "--malformed",
            defaultValue = "16",
            description = "Malformed events mixed in (default: ${DEFAULT-VALUE}).")
    int malformed;

    @Option(
            names = "--events-file",
            defaultValue = "models/data/events.txt",
            description = "Held-out event texts, one per line (default: ${DEFAULT-VALUE}).")
    Path eventsFile;

    @Option(names = "--parallelism", defaultValue = "2", description = "Job parallelism (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(
            names = "--max-batch-size",
            description = "Operator micro-batch size; sets qsparse.batch.max-size (default: ${DEFAULT-VALUE}).")
    int maxBatchSize;

    /** The demo's own choice, shorter than the operator's default (qsparse.generate.max-new-tokens). */
    @Option(
            names = "--max-new-tokens",
            defaultValue = "16",
            description =
                    "Tokens generated per event in generate mode; sets qsparse.generate.max-new-tokens (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(
            names = "--rate",
            defaultValue = "" + DEFAULT_RATE,
            description = "Events per second to produce, steadily, once the job is warm; 0 sends all at once"
                    + " (then the latencies include queueing behind the whole backlog) (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(
            names = "--checkpoint-interval",
            defaultValue = "PT1S",
            description = "Checkpoint interval, ISO-8601. With exactly-once output a read_committed consumer sees a"
                    + " result only when the checkpoint after it completes (default: ${DEFAULT-VALUE}).")
    Duration checkpointInterval;

    @Option(
            names = "--warm-up",
            defaultValue = "2",
            description = "Warm-up events per input partition, sent once the job runs; measuring starts when all of"
                    + " them came out (model loaded in every task, first batches through); not counted"
                    + " (default: ${DEFAULT-VALUE}).")
    int warmUp;

    @Option(
            names = "--kafka-port",
            defaultValue = "0",
            description = "Port of the embedded broker; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int kafkaPort;

    @Option(
            names = "--web-port",
            defaultValue = "8081",
            description = "Port of the Flink web UI; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int webPort;

    @Option(
            names = "--bind-address",
            defaultValue = "127.0.0.1",
            description = "Address the Flink web UI (which accepts job uploads) and the mini cluster's other listeners"
                    + " bind to; 0.0.0.0 opens them to every interface (default: ${DEFAULT-VALUE}).")
    String bindAddress;

    @Option(
            names = "--switch-model-at",
            arity = "2",
            paramLabel = "N DIR",
            hideParamSyntax = true,
            description = "After N events, publish a switch to the model in DIR on the demo's model control topic:"
                    + " the job loads it beside the running one and serves the events after the next checkpoint"
                    + " with it; the summary counts the outputs per model_version. DIR's version is its"
                    + " manifest's, else the directory name (e.g. a copy of the demo model as models/qsparse-demo-v2).")
    List<String> switchModelAt;

    @Option(names = "--bootstrap-servers", description = "Use this external Kafka instead of the embedded broker.")
    String externalBootstrap;

    @Option(names = "--show", defaultValue = "5", description = "Enriched events to print (default: ${DEFAULT-VALUE}).")
    int show;

    @Option(
            names = "--timeout",
            defaultValue = "PT10M",
            description = "Give up after this long (default: ${DEFAULT-VALUE}).")
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
    public record Summary(
            int sent,
            int enriched,
            int deadLettered,
            Map<String, Integer> deadLetterReasons,
            double eventsPerSecond,
            Latency operator,
            Latency committed,
            Duration checkpointInterval,
            double meanSparsity,
            Map<String, Integer> modelVersions,
            List<String> modelSwitchesRefused) {
        public boolean balanced() {
            return enriched + deadLettered == sent;
        }
    }

    /** p50 and p99 of a latency, in milliseconds, over {@code count} events. */
    public record Latency(double p50Millis, double p99Millis, int count) {
        static Latency of(List<Double> millis) {
            List<Double> sorted = new ArrayList<>(millis);
            sorted.sort(null);
            return new Latency(percentile(sorted, 0.50), percentile(sorted, 0.99), sorted.size());
        }
    }

    private Summary summary;

    /** What this run started, stopped by a shutdown hook on Ctrl-C or SIGTERM. */
    private DemoShutdown shutdown;

    /** This run's temporary directory: the broker's log directory and Flink's temporary files. */
    private Path workDir;

    public Summary summary() {
        return summary;
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(model.resolve("config.json"))) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "model directory " + model.toAbsolutePath() + " not found (no config.json); pass --model DIR");
        }
        if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--checkpoint-interval must be > 0 (exactly-once output is committed at checkpoints), got "
                            + checkpointInterval);
        }
        if (!Files.isRegularFile(eventsFile)) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "events file " + eventsFile.toAbsolutePath() + " not found; pass --events-file FILE");
        }
        if (switchModelAt != null) {
            parseSwitch();
        }
        List<DemoEvents.Event> input = DemoEvents.build(DemoEvents.readTexts(eventsFile), events, malformed, null, 7L);
        String runId = Long.toString(System.currentTimeMillis(), 36);
        // Ctrl-C or SIGTERM stops the job and the broker, and removes the broker's log directory.
        try (DemoShutdown stop = new DemoShutdown()) {
            shutdown = stop;
            workDir = Files.createTempDirectory("qsparse-demo");
            stop.directory(workDir);
            try {
                return runOnKafka(runId, input);
            } finally {
                EmbeddedKafkaBroker broker = stop.takeBroker();
                if (broker != null) {
                    broker.close();
                    out.println("Kafka broker stopped.");
                }
                stop.removeDirectory();
            }
        }
    }

    /** Events to send before the model switch, or -1 for none. */
    private int switchAfter = -1;

    private Path switchModel;

    private void parseSwitch() {
        String n = switchModelAt.get(0);
        try {
            switchAfter = Integer.parseInt(n);
        } catch (NumberFormatException e) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "--switch-model-at N DIR: N must be a number of events, got '" + n + "'");
        }
        if (switchAfter < 0 || switchAfter > events + malformed) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--switch-model-at N DIR: N must be between 0 and the events sent (" + (events + malformed)
                            + "), got " + switchAfter);
        }
        switchModel = Path.of(switchModelAt.get(1)).toAbsolutePath();
        if (!Files.isRegularFile(switchModel.resolve("config.json"))) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--switch-model-at N DIR: model directory " + switchModel + " not found (no config.json)");
        }
    }

    /** Starts the embedded broker unless --bootstrap-servers names one, makes the topics and runs the job. */
    private int runOnKafka(String runId, List<DemoEvents.Event> input) throws Exception {
        String bootstrap;
        String suffix;
        if (externalBootstrap == null) {
            EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(workDir.resolve("kafka"), kafkaPort, 0, true);
            shutdown.broker(broker);
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
        int partitions = Math.max(2, parallelism);
        Map<String, Integer> topics = new HashMap<>(Map.of(in, partitions, enriched, 2, dlq, 1));
        if (switchModel != null) {
            control = "qsparse-demo-model-control" + suffix;
            topics.put(control, 1);
        }
        KafkaTopics.create(bootstrap, topics);
        summary = runJob(bootstrap, in, partitions, enriched, dlq, runId, input);
        printSummary(summary);
        return summary.balanced() ? 0 : 1;
    }

    private Summary runJob(
            String bootstrap,
            String in,
            int partitions,
            String enrichedTopic,
            String dlq,
            String runId,
            List<DemoEvents.Event> input)
            throws Exception {
        // Configured the way a Flink job is: the operator's options, checkpointing and parallelism in
        // the Flink configuration; only Kafka and the topics on the job's command line.
        int uiPort = EmbeddedKafkaBroker.choosePort(webPort, "Flink web UI");
        Configuration conf = webUiConfiguration(bindAddress, uiPort);
        // Flink's temporary, upload and blob files in this run's directory, removed with it.
        conf.set(WebOptions.TMP_DIR, workDir.resolve("web").toString());
        conf.set(CoreOptions.TMP_DIRS, workDir.resolve("io").toString());
        conf.set(BlobServerOptions.STORAGE_DIRECTORY, workDir.resolve("blobs").toString());
        conf.set(QSparseOptions.MODEL_PATH, model.toAbsolutePath().toString());
        conf.set(QSparseOptions.MODE, Task.fromWireName(mode));
        conf.set(QSparseOptions.BATCH_MAX_SIZE, maxBatchSize);
        conf.set(QSparseOptions.GENERATE_MAX_NEW_TOKENS, maxNewTokens);
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, checkpointInterval);
        conf.set(CoreOptions.DEFAULT_PARALLELISM, parallelism);
        List<String> jobArgs = new ArrayList<>(List.of(
                "--bootstrap-servers",
                bootstrap,
                "--input-topic",
                in,
                "--output-topic",
                enrichedTopic,
                "--dead-letter-topic",
                dlq,
                "--group-id",
                "qsparse-demo-" + runId,
                "--transactional-id-prefix",
                "qsparse-demo-" + runId));
        if (control != null) {
            jobArgs.addAll(List.of("--control-topic", control));
        }
        JobOptions options = JobOptions.parse(jobArgs.toArray(String[]::new));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
        EnrichmentJob.build(env, options);
        long deadline = System.nanoTime() + timeout.toNanos();
        JobClient job = env.executeAsync("qsparse-demo (" + mode + ")");
        shutdown.job(job);
        try (ReadOnlyWebUi webUi = serveWebUi(conf, bindAddress, uiPort);
                KafkaConsumer<byte[], byte[]> consumer = readCommitted(bootstrap, List.of(enrichedTopic, dlq));
                KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            // Warm-up: the job runs, every task has loaded the model and served a batch, and the
            // sinks' transactions are set up, before anything is measured.
            out.println("Flink web UI: " + webUi.url() + "  (read-only; job " + job.getJobID() + ")");
            awaitRunning(job, deadline);
            long warmStart = System.nanoTime();
            int warmUpEvents = warmUp(producer, in, partitions, input);
            Map<String, Long> seenAt = new HashMap<>();
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            poll(consumer, records, seenAt, deadline, () -> countWarmUp(records) >= warmUpEvents);
            out.printf(
                    "Job warm after %.1f s (%d warm-up events, not counted); now producing %s%n",
                    (System.nanoTime() - warmStart) / 1e9,
                    warmUpEvents,
                    rate > 0 ? String.format("%.0f events/s steadily", rate) : "all events at once");
            records.clear();

            Map<String, Long> sentAt = new ConcurrentHashMap<>();
            long start = System.currentTimeMillis();
            Thread sender = new Thread(() -> produce(producer, in, input, sentAt), "qsparse-demo-producer");
            sender.start();
            int expected = input.size();
            poll(
                    consumer,
                    records,
                    seenAt,
                    deadline,
                    () -> records.size() - countWarmUp(records) - countSwitchRefusals(records) >= expected);
            sender.join();
            records.removeIf(EmbeddedDemo::isWarmUp);
            long end = seenAt.values().stream().mapToLong(Long::longValue).max().orElse(System.currentTimeMillis());
            return analyse(records, enrichedTopic, input, sentAt, seenAt, Math.max(1, end - start));
        } finally {
            if (shutdown.takeJob() != null) {
                job.cancel().get(1, TimeUnit.MINUTES);
                out.println("Flink job stopped.");
            }
        }
    }

    private static KafkaConsumer<byte[], byte[]> readCommitted(String bootstrap, List<String> topics) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "qsparse-demo-reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(topics);
        return consumer;
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = EventProducers.properties(bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static void awaitRunning(JobClient job, long deadline) throws Exception {
        while (job.getJobStatus().get(1, TimeUnit.MINUTES) != JobStatus.RUNNING) {
            JobStatus status = job.getJobStatus().get(1, TimeUnit.MINUTES);
            if (status.isTerminalState()) {
                throw new IllegalStateException("the demo job ended before it ran: " + status);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the demo job did not start within --timeout");
            }
            Thread.sleep(50);
        }
    }

    /** Sends {@link #warmUp} events to every input partition; returns how many. */
    private int warmUp(
            KafkaProducer<byte[], byte[]> producer, String topic, int partitions, List<DemoEvents.Event> input)
            throws Exception {
        String text = input.stream()
                .filter(e -> !e.malformed())
                .findFirst()
                .map(e -> new String(e.payload(), StandardCharsets.UTF_8))
                .map(json -> {
                    try {
                        return new ObjectMapper().readTree(json).path("text").asText();
                    } catch (IOException e) {
                        return "warm-up";
                    }
                })
                .orElse("warm-up");
        int n = 0;
        for (int partition = 0; partition < partitions; partition++) {
            for (int i = 0; i < warmUp; i++) {
                String json = "{\"id\":\"" + WARM_UP_ID + partition + "-" + i + "\",\"text\":"
                        + new ObjectMapper().writeValueAsString(text) + "}";
                producer.send(new ProducerRecord<>(topic, partition, null, json.getBytes(StandardCharsets.UTF_8)));
                n++;
            }
        }
        producer.flush();
        return n;
    }

    private static boolean isWarmUp(ConsumerRecord<byte[], byte[]> r) {
        return r.key() != null && new String(r.key(), StandardCharsets.UTF_8).startsWith(WARM_UP_ID);
    }

    private static int countWarmUp(List<ConsumerRecord<byte[], byte[]>> records) {
        return (int) records.stream().filter(EmbeddedDemo::isWarmUp).count();
    }

    /** A dead letter about the control record, not about an input event. */
    private static boolean isSwitchRefusal(ConsumerRecord<byte[], byte[]> r) {
        return new String(r.value(), StandardCharsets.UTF_8)
                .contains("\"stage\":\"" + DeadLetter.STAGE_MODEL_SWITCH + "\"");
    }

    private static int countSwitchRefusals(List<ConsumerRecord<byte[], byte[]>> records) {
        return (int) records.stream().filter(EmbeddedDemo::isSwitchRefusal).count();
    }

    /**
     * Polls until {@code done} or the deadline, noting when each record became visible to this
     * read_committed consumer (key: topic/partition/offset).
     */
    private static void poll(
            KafkaConsumer<byte[], byte[]> consumer,
            List<ConsumerRecord<byte[], byte[]>> records,
            Map<String, Long> seenAt,
            long deadline,
            java.util.function.BooleanSupplier done) {
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(
                        "timed out (--timeout) with " + records.size() + " output records read");
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                records.add(r);
                seenAt.put(position(r), System.currentTimeMillis());
            }
        }
    }

    private static String position(ConsumerRecord<byte[], byte[]> r) {
        return r.topic() + "/" + r.partition() + "/" + r.offset();
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

    /**
     * The demo's cluster configuration: its listeners on {@code bindAddress} ({@link #bindTo}), the
     * web UI at {@code bindAddress:uiPort} served by {@link #serveWebUi}, and Flink's own REST
     * endpoint on loopback behind it ({@link #lockDown}).
     */
    static Configuration webUiConfiguration(String bindAddress, int uiPort) throws IOException {
        return lockDown(
                bindTo(new Configuration(), bindAddress, uiPort),
                EmbeddedKafkaBroker.choosePort(0, "Flink REST endpoint"));
    }

    /** The read-only web UI of a cluster configured by {@link #webUiConfiguration}; the caller closes it. */
    static ReadOnlyWebUi serveWebUi(Configuration conf, String bindAddress, int uiPort) throws IOException {
        return ReadOnlyWebUi.start(
                bindAddress, uiPort, URI.create(webUiUrl(conf)), conf.get(WebOptions.ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    /**
     * The web UI for watching only. Flink's REST endpoint moves to {@code 127.0.0.1:restPort},
     * where only {@link ReadOnlyWebUi} (on the address and port {@link #bindTo} chose) talks to it:
     * Flink cannot make its REST API read-only ({@code web.cancel.enable} only hides the UI's
     * button; a plain GET still cancels a job). Job uploads and runs ({@code web.submit.enable})
     * and rescaling are off, the cancel button hidden, and CORS names only the UI's own origin
     * instead of Flink's default {@code *}.
     */
    static Configuration lockDown(Configuration conf, int restPort) {
        String ui = webUiUrl(conf);
        conf.set(WebOptions.SUBMIT_ENABLE, false);
        conf.set(WebOptions.CANCEL_ENABLE, false);
        conf.set(WebOptions.RESCALE_ENABLE, false);
        conf.set(WebOptions.ACCESS_CONTROL_ALLOW_ORIGIN, ui);
        conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        conf.set(RestOptions.ADDRESS, "127.0.0.1");
        conf.set(RestOptions.PORT, restPort);
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

    private void produce(
            KafkaProducer<byte[], byte[]> producer,
            String topic,
            List<DemoEvents.Event> input,
            Map<String, Long> sentAt) {
        try {
            long begin = System.nanoTime();
            for (int i = 0; i < input.size(); i++) {
                if (rate > 0) {
                    long due = begin + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
                if (i == switchAfter) {
                    publishSwitch(producer);
                }
                DemoEvents.Event e = input.get(i);
                // The record's timestamp (CreateTime) is taken here, on this JVM's clock.
                producer.send(new ProducerRecord<>(topic, e.payload()), (meta, error) -> {
                    if (error == null) {
                        sentAt.put(e.id(), meta.timestamp());
                    }
                });
            }
            if (switchAfter == input.size()) {
                publishSwitch(producer);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The demo's model control topic, when --switch-model-at is given. */
    private String control;

    /** Writes the switch record to the control topic: what an operator of the job would publish. */
    private void publishSwitch(KafkaProducer<byte[], byte[]> producer) {
        String record = ModelSwitch.toJson(switchModel.toString(), null);
        producer.send(new ProducerRecord<>(control, record.getBytes(StandardCharsets.UTF_8)));
        producer.flush();
        out.printf("Published to %s after %d events: %s%n", control, switchAfter, record);
    }

    private Summary analyse(
            List<ConsumerRecord<byte[], byte[]>> records,
            String enrichedTopic,
            List<DemoEvents.Event> input,
            Map<String, Long> sentAt,
            Map<String, Long> seenAt,
            long wallMillis)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> enriched = new ArrayList<>();
        Map<String, Integer> reasons = new TreeMap<>();
        List<Double> operator = new ArrayList<>();
        List<Double> committed = new ArrayList<>();
        Map<String, Integer> versions = new TreeMap<>();
        List<String> refusals = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            JsonNode node = json.readTree(r.value());
            if (isSwitchRefusal(r)) {
                refusals.add(node.path("reason").asText());
            } else if (r.topic().equals(enrichedTopic)) {
                enriched.add(node);
                versions.merge(node.path("model_version").asText("?"), 1, Integer::sum);
                operator.add(node.path("latency_ms").asDouble());
                Long sent = sentAt.get(node.path("id").asText());
                Long seen = seenAt.get(position(r));
                if (sent != null && seen != null) {
                    committed.add((double) (seen - sent));
                }
            } else {
                String reason = node.path("reason").asText("?");
                reasons.merge(reason.length() > 60 ? reason.substring(0, 60) + "..." : reason, 1, Integer::sum);
            }
        }
        printExamples(enriched, input);
        double sparsity = enriched.stream()
                .mapToDouble(n -> n.path("activation_sparsity").asDouble())
                .average()
                .orElse(0);
        int deadLettered = records.size() - enriched.size() - refusals.size();
        return new Summary(
                input.size(),
                enriched.size(),
                deadLettered,
                reasons,
                records.size() * 1000.0 / wallMillis,
                Latency.of(operator),
                Latency.of(committed),
                checkpointInterval,
                sparsity,
                versions,
                refusals);
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
                    out.printf(
                            "  %s  \"%s\"%n      nearest: %s  \"%s\"  (cosine %.3f)%n",
                            id,
                            text,
                            nearest == null ? "-" : nearest.path("id").asText(),
                            nearest == null
                                    ? ""
                                    : clip(texts.getOrDefault(nearest.path("id").asText(), "?"), 90),
                            nearest == null ? 0.0 : cosine(e, nearest));
                }
                case "generate" ->
                    out.printf(
                            "  %s  \"%s\"%n      -> \"%s\"%n",
                            id, text, clip(e.path("generated_text").asText(), 120));
                default ->
                    out.printf(
                            "  %s  perplexity %.1f  (%d tokens)  \"%s\"%n",
                            id,
                            e.path("perplexity").asDouble(),
                            e.path("scored_tokens").asInt(),
                            text);
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
        s.modelVersions().forEach((version, n) -> out.printf("      %3d  by model version %s%n", n, version));
        out.printf("  dead-lettered    %d%n", s.deadLettered());
        s.modelSwitchesRefused().forEach(reason -> out.printf("  model switch     %s%n", reason));
        s.deadLetterReasons().forEach((reason, n) -> out.printf("      %3d  %s%n", n, reason));
        out.printf(
                "  accounted for    %s%n",
                s.balanced() ? "all, exactly once" : "NO: " + (s.enriched() + s.deadLettered()) + " of " + s.sent());
        out.printf("  throughput       %.1f events/s%n", s.eventsPerSecond());
        out.printf(
                "  input rate       %s, after the warm-up%n",
                rate > 0 ? String.format("%.0f events/s, steady", rate) : "all at once (--rate 0)");
        out.printf(
                "  operator latency p50 %.0f ms, p99 %.0f ms%n",
                s.operator().p50Millis(), s.operator().p99Millis());
        out.println("      event reaching the Q-Sparse operator -> its result: waiting for a micro-batch and"
                + " inference (the records' latency_ms)");
        out.printf(
                "  visible latency  p50 %.0f ms, p99 %.0f ms%n",
                s.committed().p50Millis(), s.committed().p99Millis());
        out.printf(
                "      input appended to Kafka -> readable by a read_committed consumer: the above, Kafka both ways,"
                        + " and the wait%n      for the checkpoint that commits the output (exactly-once; a checkpoint every %s,"
                        + " --checkpoint-interval)%n",
                human(s.checkpointInterval()));
        out.printf("  sparsity         %.1f%% of linear-layer inputs are zero%n", 100 * s.meanSparsity());
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static double percentile(List<Double> sorted, double q) {
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
