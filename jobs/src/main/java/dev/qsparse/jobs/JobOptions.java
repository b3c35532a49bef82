package dev.qsparse.jobs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Command-line options of {@link EnrichmentJob}: Kafka, checkpointing, and the operator's options.
 * Every option prints its default in {@code --help}.
 */
public final class JobOptions {

    /** How results reach the output topics. */
    public enum Delivery {
        EXACTLY_ONCE, AT_LEAST_ONCE;

        static Delivery parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    /** Where a consumer group without committed offsets starts. */
    public enum StartingOffsets { COMMITTED_OR_EARLIEST, COMMITTED_OR_LATEST, EARLIEST, LATEST }

    @Option(names = "--bootstrap-servers", defaultValue = "localhost:9092", description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
    public String bootstrapServers;

    @Option(names = "--input-topic", defaultValue = "qsparse-input", description = "Topic of JSON text events (default: ${DEFAULT-VALUE}).")
    public String inputTopic;

    @Option(names = "--output-topic", defaultValue = "qsparse-enriched", description = "Topic of enriched events (default: ${DEFAULT-VALUE}).")
    public String outputTopic;

    @Option(names = "--dead-letter-topic", defaultValue = "qsparse-dead-letters", description = "Topic of dead letters (default: ${DEFAULT-VALUE}).")
    public String deadLetterTopic;

    @Option(names = "--group-id", defaultValue = "qsparse-enrichment", description = "Kafka consumer group (default: ${DEFAULT-VALUE}).")
    public String groupId;

    @Option(names = "--starting-offsets", defaultValue = "COMMITTED_OR_EARLIEST",
            description = "COMMITTED_OR_EARLIEST, COMMITTED_OR_LATEST, EARLIEST or LATEST (default: ${DEFAULT-VALUE}). A restore from a checkpoint always resumes from the checkpointed offsets.")
    public StartingOffsets startingOffsets;

    @Option(names = "--bounded", defaultValue = "false",
            description = "Stop at the end offsets seen when the job starts, instead of running forever (default: ${DEFAULT-VALUE}).")
    public boolean bounded;

    @Option(names = "--checkpoint-interval", defaultValue = "PT10S",
            description = "Checkpoint interval, ISO-8601 (default: ${DEFAULT-VALUE}); with exactly-once, output becomes visible at each checkpoint.")
    public Duration checkpointInterval;

    @Option(names = "--parallelism", defaultValue = "-1", description = "Job parallelism; -1 keeps the cluster's default (default: ${DEFAULT-VALUE}).")
    public int parallelism;

    @Option(names = "--delivery", defaultValue = "exactly-once", converter = DeliveryConverter.class,
            description = "exactly-once (transactional sink, default) or at-least-once.")
    public Delivery delivery;

    @Option(names = "--transactional-id-prefix", defaultValue = "qsparse-enrichment",
            description = "Prefix of the sink's Kafka transactional ids; unique per job on a cluster (default: ${DEFAULT-VALUE}).")
    public String transactionalIdPrefix;

    @Option(names = "--transaction-timeout", defaultValue = "PT10M",
            description = "Kafka transaction timeout of the exactly-once sink; must not exceed the broker's transaction.max.timeout.ms, 15 min by default (default: ${DEFAULT-VALUE}).")
    public Duration transactionTimeout;

    @Option(names = "--max-request-size", defaultValue = "1048576",
            description = "max.request.size of the sinks' Kafka producers, in bytes (default: ${DEFAULT-VALUE}, Kafka's default)."
                    + " The job refuses to start unless qsparse.output.max-record-size plus room for the key and record"
                    + " headers fits under it and under the output topics' max.message.bytes.")
    public int maxRequestSize;

    @Option(names = "--create-topics", defaultValue = "false",
            description = "Create the three topics first if they do not exist (default: ${DEFAULT-VALUE}).")
    public boolean createTopics;

    @Option(names = "--topic-partitions", defaultValue = "4",
            description = "Partitions of topics made by --create-topics (default: ${DEFAULT-VALUE}).")
    public int topicPartitions;

    @Option(names = "--restart-attempts", defaultValue = "10",
            description = "Fixed-delay restart attempts after a task failure (default: ${DEFAULT-VALUE}).")
    public int restartAttempts;

    @Option(names = "--model", required = true, description = "Model directory, readable on every task manager.")
    public Path model;

    @Option(names = "--mode", defaultValue = "embed", description = "Default mode: embed, generate or score (default: ${DEFAULT-VALUE}); events may override it.")
    public String mode;

    @Option(names = "--max-batch-size", defaultValue = "16", description = "Micro-batch size (default: ${DEFAULT-VALUE}).")
    public int maxBatchSize;

    @Option(names = "--max-wait", defaultValue = "PT0.01S", description = "Longest wait before a partial batch is flushed (default: ${DEFAULT-VALUE}).")
    public Duration maxWait;

    @Option(names = "--threads", defaultValue = "1", description = "Inference threads per task (default: ${DEFAULT-VALUE}).")
    public int threads;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Any other operator option, e.g. --set qsparse.generate.max-new-tokens=16 (see the operator's QSparseOptions).")
    public Map<String, String> operatorOptions = new LinkedHashMap<>();

    /** Converts "exactly-once" / "at-least-once". */
    public static final class DeliveryConverter implements picocli.CommandLine.ITypeConverter<Delivery> {
        @Override
        public Delivery convert(String value) {
            return Delivery.parse(value);
        }
    }
}
