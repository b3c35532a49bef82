package dev.qsparse.jobs;

import dev.qsparse.flink.ModelLocation;
import dev.qsparse.flink.QSparseEnrichment;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.runtime.inference.Task;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Where the job's settings come from, in order: an option given on the command line, then the
 * Flink configuration the job runs with (config.yaml, {@code flink run -D...}, a FlinkDeployment's
 * {@code flinkConfiguration}: what {@link StreamExecutionEnvironment#getConfiguration()} holds),
 * then the job's defaults. A default of a command-line option never overrides a configured value.
 */
public final class JobConfig {

    /** The operator's keys: every {@code qsparse.*} key must be one of {@link QSparseOptions#all()}. */
    static final String PREFIX = "qsparse.";

    /** Restart delay of the fixed-delay strategy {@code --restart-attempts} sets, unless configured. */
    static final Duration DEFAULT_RESTART_DELAY = Duration.ofMillis(500);

    private JobConfig() {}

    /**
     * Checkpointing, restart strategy and parallelism of {@code env}: a flag given on the command
     * line wins, then {@code env}'s configuration, then the job's defaults (checkpoints every
     * {@code --checkpoint-interval}'s default). The restart strategy is {@code --restart-attempts}'s
     * fixed delay when given, else whatever Flink's configuration says or Flink's own default
     * (exponential delay, unbounded, with checkpointing on): a job that restarts a bounded number
     * of times over its whole life ends for good after enough TaskManager losses.
     */
    public static void configure(StreamExecutionEnvironment env, JobOptions o) {
        ReadableConfig flink = env.getConfiguration();
        if (o.given("--parallelism") && o.parallelism > 0) {
            env.setParallelism(o.parallelism);
        }

        CheckpointingMode mode = flink.getOptional(CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE)
                .orElse(
                        o.delivery == JobOptions.Delivery.EXACTLY_ONCE
                                ? CheckpointingMode.EXACTLY_ONCE
                                : CheckpointingMode.AT_LEAST_ONCE);
        if (o.delivery == JobOptions.Delivery.EXACTLY_ONCE && mode != CheckpointingMode.EXACTLY_ONCE) {
            // An at-least-once checkpoint may include records after the barrier: the transactional
            // sink would commit them twice after a restore.
            throw new IllegalArgumentException(
                    "--delivery exactly-once needs " + CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE.key()
                            + " EXACTLY_ONCE, but the Flink configuration sets " + mode
                            + "; use --delivery at-least-once or change the configuration");
        }
        if (o.given("--checkpoint-interval")
                || flink.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL)
                        .isEmpty()) {
            env.enableCheckpointing(
                    positive(o.checkpointInterval, "--checkpoint-interval").toMillis(), mode);
        } else {
            env.getCheckpointConfig().setCheckpointingConsistencyMode(mode);
        }

        if (o.given("--restart-attempts") && o.restartAttempts != null) {
            if (o.restartAttempts < 0) {
                throw new IllegalArgumentException("--restart-attempts must be >= 0, got " + o.restartAttempts);
            }
            Configuration restart = new Configuration();
            restart.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            restart.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, o.restartAttempts);
            restart.set(
                    RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY,
                    flink.getOptional(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY)
                            .orElse(DEFAULT_RESTART_DELAY));
            env.configure(restart);
        }
    }

    /**
     * The operator: the {@code qsparse.*} options of {@code flink}, overridden by {@code --set}
     * entries, overridden by the typed flags given ({@code --model}, {@code --mode},
     * {@code --max-batch-size}, {@code --max-wait}, {@code --threads}). Unknown {@code qsparse.*}
     * keys, a key given twice on the command line, and bad values throw
     * {@link IllegalArgumentException} naming the key and where it came from.
     */
    public static QSparseEnrichment enrichment(ReadableConfig flink, JobOptions o) {
        rejectUnknown(flink.toMap().keySet(), "the Flink configuration");
        Map<String, String> set = o.operatorOptions();
        rejectUnknown(set.keySet(), "--set");
        for (String key : set.keySet()) {
            if (!key.startsWith(PREFIX)) {
                throw new IllegalArgumentException("--set " + key + ": --set takes the operator's " + PREFIX
                        + "* options; give Flink options to Flink (flink run -D" + key + "=..., config.yaml)");
            }
        }
        for (Map.Entry<String, ConfigOption<?>> flag : OperatorFlags.FLAGS.entrySet()) {
            String key = flag.getValue().key();
            if (o.given(flag.getKey()) && set.containsKey(key) && flagValue(o, flag.getKey()) != null) {
                throw new IllegalArgumentException("conflicting values for " + key + " on the command line: "
                        + flag.getKey() + " " + flagValue(o, flag.getKey()) + " and --set " + key + "=" + set.get(key));
            }
        }

        QSparseEnrichment.Builder builder =
                QSparseEnrichment.builder().configuration(flink).configuration(Configuration.fromMap(set));
        if (o.given("--model") && o.model != null) {
            // A remote URI goes as given (Path.of would turn s3://b/m into s3:/b/m); a local path absolute.
            ModelLocation model = ModelLocation.parse(o.model, "--model");
            builder.modelPath(
                    model.isRemote() ? o.model : model.local().toAbsolutePath().toString());
        } else if (flink.getOptional(QSparseOptions.MODEL_PATH).isEmpty()
                && !set.containsKey(QSparseOptions.MODEL_PATH.key())) {
            throw new IllegalArgumentException("no model: pass --model DIR or set " + QSparseOptions.MODEL_PATH.key()
                    + " in the Flink configuration (e.g. flink run -D" + QSparseOptions.MODEL_PATH.key() + "=DIR)");
        }
        if (o.given("--mode") && o.mode != null) {
            builder.mode(Task.fromWireName(o.mode));
        }
        if (o.given("--max-batch-size")) {
            builder.maxBatchSize(o.maxBatchSize);
        }
        if (o.given("--max-wait") && o.maxWait != null) {
            builder.maxWait(o.maxWait);
        }
        if (o.given("--threads")) {
            builder.threads(o.threads);
        }
        return builder.build();
    }

    private static Object flagValue(JobOptions o, String flag) {
        return switch (flag) {
            case "--model" -> o.model;
            case "--mode" -> o.mode;
            case "--max-batch-size" -> o.maxBatchSize;
            case "--max-wait" -> o.maxWait;
            case "--threads" -> o.threads;
            default -> null;
        };
    }

    /** Throws for any {@code qsparse.*} key among {@code keys} that is not an operator option. */
    static void rejectUnknown(Set<String> keys, String where) {
        Set<String> known =
                QSparseOptions.all().stream().map(ConfigOption::key).collect(Collectors.toCollection(TreeSet::new));
        List<String> unknown = new ArrayList<>();
        for (String key : keys) {
            if (key.startsWith(PREFIX) && !known.contains(key)) {
                unknown.add(key);
            }
        }
        if (unknown.isEmpty()) {
            return;
        }
        StringBuilder message = new StringBuilder();
        for (String key : unknown) {
            String near = known.stream()
                    .min(Comparator.comparingInt(k -> distance(k, key)))
                    .orElseThrow();
            message.append(message.length() == 0 ? "" : "; ")
                    .append("unknown operator option ")
                    .append(key)
                    .append(" in ")
                    .append(where);
            if (distance(near, key) <= Math.max(3, key.length() / 4)) {
                message.append(" (did you mean ").append(near).append("?)");
            }
        }
        message.append(". Known ").append(PREFIX).append("* options: ").append(String.join(", ", known));
        throw new IllegalArgumentException(message.toString());
    }

    private static Duration positive(Duration d, String what) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be > 0, got " + d);
        }
        return d;
    }

    /** Levenshtein distance, for "did you mean". */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
