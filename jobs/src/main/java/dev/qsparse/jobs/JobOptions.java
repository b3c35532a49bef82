package dev.qsparse.jobs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * Command-line options of {@link EnrichmentJob}: Kafka, checkpointing, and the operator's options.
 * Every option prints its default in {@code --help}.
 *
 * <p>Options that have a Flink configuration key (the operator's {@code qsparse.*} options,
 * {@code --parallelism}, {@code --checkpoint-interval}, {@code --restart-attempts}) override the
 * Flink configuration only when they are given: their defaults apply only where the configuration
 * does not set the key either. {@link #parse} records which options were given; an instance
 * filled some other way counts every option as given.
 */
@CommandLine.Command(
        name = "enrichment-job",
        mixinStandardHelpOptions = true,
        usageHelpWidth = 120,
        defaultValueProvider = OperatorFlags.class,
        description = {
            "Kafka -> Q-Sparse -> Kafka enrichment job.",
            "Reads qsparse.* operator options and Flink options from the Flink configuration (config.yaml, "
                    + "flink run -D..., a FlinkDeployment's flinkConfiguration); options given here override them."
        })
public final class JobOptions {

    /** How results reach the output topics. */
    public enum Delivery {
        EXACTLY_ONCE,
        AT_LEAST_ONCE;

        static Delivery parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    /** Where a consumer group without committed offsets starts. */
    public enum StartingOffsets {
        COMMITTED_OR_EARLIEST,
        COMMITTED_OR_LATEST,
        EARLIEST,
        LATEST
    }

    @Option(
            names = "--bootstrap-servers",
            defaultValue = "localhost:9092",
            description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
    public String bootstrapServers;

    @Option(
            names = "--input-topic",
            defaultValue = "qsparse-input",
            description = "Topic of JSON text events (default: ${DEFAULT-VALUE}).")
    public String inputTopic;

    @Option(
            names = "--output-topic",
            defaultValue = "qsparse-enriched",
            description = "Topic of enriched events (default: ${DEFAULT-VALUE}).")
    public String outputTopic;

    @Option(
            names = "--dead-letter-topic",
            defaultValue = "qsparse-dead-letters",
            description = "Topic of dead letters (default: ${DEFAULT-VALUE}).")
    public String deadLetterTopic;

    @Option(
            names = "--control-topic",
            description =
                    "Model control topic: each record, {\"model\": \"LOCATION\", \"version\": \"V\"} (version optional), switches the model while the job runs, for the events after the next checkpoint; a refused switch becomes a dead letter (stage model-switch). Read with the same Kafka client properties and --starting-offsets as the input. Not set: the model is fixed (default: not set).")
    public String controlTopic;

    @Option(
            names = "--group-id",
            defaultValue = "qsparse-enrichment",
            description = "Kafka consumer group (default: ${DEFAULT-VALUE}).")
    public String groupId;

    @Option(
            names = "--starting-offsets",
            defaultValue = "COMMITTED_OR_EARLIEST",
            description =
                    "COMMITTED_OR_EARLIEST, COMMITTED_OR_LATEST, EARLIEST or LATEST (default: ${DEFAULT-VALUE}). A restore from a checkpoint always resumes from the checkpointed offsets.")
    public StartingOffsets startingOffsets;

    @Option(
            names = "--bounded",
            defaultValue = "false",
            description =
                    "Stop at the end offsets seen when the job starts, instead of running forever (default: ${DEFAULT-VALUE}).")
    public boolean bounded;

    @Option(
            names = "--checkpoint-interval",
            defaultValue = "PT10S",
            description =
                    "Checkpoint interval, ISO-8601; overrides execution.checkpointing.interval (default: the configured interval, else ${DEFAULT-VALUE}). With exactly-once, output becomes visible at each checkpoint.")
    public Duration checkpointInterval;

    @Option(
            names = "--parallelism",
            defaultValue = "-1",
            description =
                    "Job parallelism; -1 keeps the Flink configuration's parallelism.default (default: ${DEFAULT-VALUE}).")
    public int parallelism;

    @Option(
            names = "--delivery",
            defaultValue = "exactly-once",
            converter = DeliveryConverter.class,
            description = "exactly-once (transactional sink, default) or at-least-once.")
    public Delivery delivery;

    @Option(
            names = "--transactional-id-prefix",
            defaultValue = "qsparse-enrichment",
            description =
                    "Prefix of the sink's Kafka transactional ids; unique per job on a cluster (default: ${DEFAULT-VALUE}).")
    public String transactionalIdPrefix;

    @Option(
            names = "--transaction-timeout",
            defaultValue = "PT10M",
            description =
                    "Kafka transaction timeout of the exactly-once sink; must not exceed the broker's transaction.max.timeout.ms, 15 min by default (default: ${DEFAULT-VALUE}).")
    public Duration transactionTimeout;

    @Option(
            names = "--create-topics",
            defaultValue = "false",
            description =
                    "Create the topics first if they do not exist (the control topic, when given, with one partition) (default: ${DEFAULT-VALUE}).")
    public boolean createTopics;

    @Option(
            names = "--topic-partitions",
            defaultValue = "4",
            description = "Partitions of topics made by --create-topics (default: ${DEFAULT-VALUE}).")
    public int topicPartitions;

    @Option(
            names = "--restart-attempts",
            description =
                    "Restart with fixed delay, at most this many times over the job's life; overrides restart-strategy.* (default: the configured restart strategy, else Flink's default: exponential-delay, unbounded, with checkpointing).")
    public Integer restartAttempts;

    @Option(
            names = "--model",
            description =
                    "Model directory: a local path, readable on every task manager, or a URI of a Flink file system (s3://bucket/models/m, hdfs://...), copied once per task manager into qsparse.model.cache.dir; overrides qsparse.model.path (one of the two is required).")
    public String model;

    @Option(
            names = "--mode",
            description =
                    "Default mode: embed, generate or score; overrides qsparse.mode (default: the configured mode, else ${DEFAULT-VALUE}); events may override it.")
    public String mode;

    @Option(
            names = "--max-batch-size",
            description =
                    "Micro-batch size; overrides qsparse.batch.max-size (default: the configured size, else ${DEFAULT-VALUE}).")
    public int maxBatchSize;

    @Option(
            names = "--max-wait",
            description =
                    "Longest wait before a partial batch is flushed; overrides qsparse.batch.max-wait (default: the configured wait, else ${DEFAULT-VALUE}).")
    public Duration maxWait;

    @Option(
            names = "--threads",
            description =
                    "Inference threads per task; overrides qsparse.threads (default: the configured number, else ${DEFAULT-VALUE}).")
    public int threads;

    @Option(
            names = "--set",
            paramLabel = "KEY=VALUE",
            description =
                    "Any other operator option, e.g. --set qsparse.generate.max-new-tokens=16 (see the operator's QSparseOptions); overrides the Flink configuration's value of the key. Unknown keys are rejected.")
    public List<String> set = new ArrayList<>();

    @Option(
            names = "--kafka-property",
            paramLabel = "KEY=VALUE",
            description =
                    "A Kafka client property for the source, both sinks and the topic admin, e.g. --kafka-property security.protocol=SASL_SSL; repeatable. Overrides --kafka-properties-file and the Flink configuration's kafka.* keys. Secret values are never logged.")
    public List<String> kafkaProperties = new ArrayList<>();

    @Option(
            names = "--kafka-properties-file",
            paramLabel = "FILE",
            description =
                    "Kafka client properties (Java properties format) for the source, both sinks and the topic admin; overrides the Flink configuration's kafka.* keys.")
    public Path kafkaPropertiesFile;

    /** Long names of the options given on the command line; null: unknown, every option counts as given. */
    private Set<String> given;

    /** Parses a command line, recording which options it gives. */
    public static JobOptions parse(String... args) {
        JobOptions options = new JobOptions();
        CommandLine cli = commandLine(options);
        options.recordGiven(cli.parseArgs(args));
        return options;
    }

    /**
     * The command line over {@code options}. The operator flags' defaults come from
     * {@link OperatorFlags} (that is, from {@code QSparseOptions}); the usage ends with every
     * {@code qsparse.*} option, its default and its description.
     */
    public static CommandLine commandLine(JobOptions options) {
        CommandLine cli = new CommandLine(options);
        cli.getCommandSpec().usageMessage().footer(OperatorFlags.help().toArray(String[]::new));
        return cli;
    }

    /** Records which options {@code parsed} (a parse of a command that has these options) gives. */
    void recordGiven(CommandLine.ParseResult parsed) {
        Set<String> names = new TreeSet<>();
        for (OptionSpec o : parsed.matchedOptions()) {
            names.add(o.longestName());
        }
        given = names;
    }

    /** Whether option {@code longName} (e.g. "--max-batch-size") was given on the command line. */
    public boolean given(String longName) {
        return given == null || given.contains(longName);
    }

    /**
     * The {@code --set} entries as a map, in command-line order. Throws {@link IllegalArgumentException}
     * for an entry without '=' and for a key given twice with different values.
     */
    public Map<String, String> operatorOptions() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String entry : set) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(
                        "--set " + entry + ": expected KEY=VALUE, e.g. --set qsparse.generate.max-new-tokens=16");
            }
            String key = entry.substring(0, eq).trim();
            String value = entry.substring(eq + 1);
            String before = out.putIfAbsent(key, value);
            if (before != null && !before.equals(value)) {
                throw new IllegalArgumentException("conflicting values for " + key + " on the command line: --set "
                        + key + "=" + before + " and --set " + key + "=" + value);
            }
        }
        return out;
    }

    /** Converts "exactly-once" / "at-least-once". */
    public static final class DeliveryConverter implements picocli.CommandLine.ITypeConverter<Delivery> {
        @Override
        public Delivery convert(String value) {
            return Delivery.parse(value);
        }
    }
}
