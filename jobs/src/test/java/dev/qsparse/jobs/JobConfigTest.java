package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.QSparseSettings;
import dev.qsparse.runtime.inference.Task;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.runtime.executiongraph.failover.RestartBackoffTimeStrategyFactoryLoader;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/**
 * The job reads its settings the way Flink users configure jobs: the Flink configuration
 * ({@code flink run -D}, config.yaml, flinkConfiguration), overridden only by options actually
 * given on the command line.
 */
class JobConfigTest {

    private static Configuration flink(String... keyValues) {
        Configuration c = new Configuration();
        for (int i = 0; i < keyValues.length; i += 2) {
            c.setString(keyValues[i], keyValues[i + 1]);
        }
        return c;
    }

    private static QSparseSettings settings(Configuration flink, String... args) {
        return JobConfig.enrichment(flink, JobOptions.parse(args)).settings();
    }

    @Test
    void configuredBatchSizeReachesTheOperator() {
        // flink run -Dqsparse.batch.max-size=32 ...: the --max-batch-size default (16) must not win.
        assertEquals(
                32,
                settings(flink("qsparse.batch.max-size", "32"), "--model", "m").maxBatchSize());
        // The whole job as EnrichmentJob builds it, on an environment with that configuration.
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(
                flink("qsparse.batch.max-size", "32", "qsparse.threads", "2", "qsparse.mode", "score"));
        JobOptions options = JobOptions.parse("--model", "m");
        EnrichmentJob.build(env, options);
        QSparseSettings s =
                JobConfig.enrichment(env.getConfiguration(), options).settings();
        assertEquals(32, s.maxBatchSize());
        assertEquals(2, s.threads());
        assertEquals(Task.SCORE, s.defaultMode());
    }

    @Test
    void aRemoteModelUriReachesTheOperatorAsGiven() {
        // java.nio.file.Path used to turn s3://bucket/m into the local path s3:/bucket/m.
        QSparseSettings s = settings(new Configuration(), "--model", "s3://bucket/models/embedder/v3");
        assertEquals("s3://bucket/models/embedder/v3", s.modelPath());
        assertTrue(s.modelLocation().isRemote());
        assertEquals("v3", s.modelName());
        assertEquals(
                java.nio.file.Path.of("m").toAbsolutePath().toString(),
                settings(new Configuration(), "--model", "m").modelPath());
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> settings(new Configuration(), "--model", "s3://b"))
                        .getMessage()
                        .startsWith("--model = s3://b: names no directory"));
    }

    @Test
    void setEntryIsNotOverriddenByTypedDefaults() {
        assertEquals(
                32,
                settings(new Configuration(), "--model", "m", "--set", "qsparse.batch.max-size=32")
                        .maxBatchSize());
        assertEquals(
                Duration.ofMillis(40),
                settings(new Configuration(), "--model", "m", "--set", "qsparse.batch.max-wait=40ms")
                        .maxWait());
    }

    @Test
    void givenFlagsOverrideTheConfigurationAndDefaultsApplyOtherwise() {
        Configuration conf =
                flink("qsparse.batch.max-size", "32", "qsparse.mode", "score", "qsparse.model.path", "/models/a");
        QSparseSettings s = settings(conf, "--max-batch-size", "8", "--mode", "generate");
        assertEquals(8, s.maxBatchSize());
        assertEquals(Task.GENERATE, s.defaultMode());
        assertEquals("/models/a", s.modelPath());
        QSparseSettings defaults = settings(new Configuration(), "--model", "m");
        assertEquals(16, defaults.maxBatchSize());
        assertEquals(Task.EMBED, defaults.defaultMode());
        assertEquals(Duration.ofMillis(10), defaults.maxWait());
        assertEquals(1, defaults.threads());
    }

    @Test
    void unknownOperatorKeysAreRejected() {
        IllegalArgumentException fromConfig = assertThrows(
                IllegalArgumentException.class, () -> settings(flink("qsparse.batch.maxsize", "32"), "--model", "m"));
        assertTrue(
                fromConfig
                        .getMessage()
                        .contains(
                                "unknown operator option qsparse.batch.maxsize in the Flink configuration (did you mean qsparse.batch.max-size?)"),
                fromConfig.getMessage());
        IllegalArgumentException fromSet = assertThrows(
                IllegalArgumentException.class,
                () -> settings(new Configuration(), "--model", "m", "--set", "qsparse.generate.max-tokens=5"));
        assertTrue(
                fromSet.getMessage().contains("unknown operator option qsparse.generate.max-tokens in --set"),
                fromSet.getMessage());
        IllegalArgumentException notOperator = assertThrows(
                IllegalArgumentException.class,
                () -> settings(new Configuration(), "--model", "m", "--set", "parallelism.default=3"));
        assertTrue(
                notOperator.getMessage().contains("--set takes the operator's qsparse.* options"),
                notOperator.getMessage());
        // Keys outside qsparse.* belong to Flink and pass through.
        assertDoesNotThrow(() -> settings(flink("parallelism.default", "3", "some.plugin.key", "x"), "--model", "m"));
    }

    @Test
    void conflictingCommandLineValuesAreRejected() {
        IllegalArgumentException typed = assertThrows(
                IllegalArgumentException.class,
                () -> settings(
                        new Configuration(),
                        "--model",
                        "m",
                        "--max-batch-size",
                        "8",
                        "--set",
                        "qsparse.batch.max-size=32"));
        assertTrue(
                typed.getMessage()
                        .contains(
                                "conflicting values for qsparse.batch.max-size on the command line: --max-batch-size 8 and --set qsparse.batch.max-size=32"),
                typed.getMessage());
        IllegalArgumentException twice = assertThrows(
                IllegalArgumentException.class,
                () -> settings(
                        new Configuration(),
                        "--model",
                        "m",
                        "--set",
                        "qsparse.threads=1",
                        "--set",
                        "qsparse.threads=2"));
        assertTrue(twice.getMessage().contains("conflicting values for qsparse.threads"), twice.getMessage());
        IllegalArgumentException noModel =
                assertThrows(IllegalArgumentException.class, () -> settings(new Configuration()));
        assertTrue(
                noModel.getMessage().contains("no model: pass --model DIR or set qsparse.model.path"),
                noModel.getMessage());
    }

    @Test
    void checkpointingAndRestartStrategyComeFromFlinkWhenSet() {
        StreamExecutionEnvironment configured = StreamExecutionEnvironment.getExecutionEnvironment(
                flink("execution.checkpointing.interval", "3s", "restart-strategy.type", "exponential-delay"));
        JobConfig.configure(configured, JobOptions.parse("--model", "m"));
        assertEquals(3000, configured.getCheckpointConfig().getCheckpointInterval());
        assertEquals(
                CheckpointingMode.EXACTLY_ONCE, configured.getCheckpointConfig().getCheckpointingConsistencyMode());
        assertEquals("exponential-delay", configured.getConfiguration().get(RestartStrategyOptions.RESTART_STRATEGY));

        StreamExecutionEnvironment plain = StreamExecutionEnvironment.getExecutionEnvironment(new Configuration());
        JobConfig.configure(plain, JobOptions.parse("--model", "m"));
        assertEquals(10_000, plain.getCheckpointConfig().getCheckpointInterval());
        assertTrue(
                plain.getConfiguration()
                        .getOptional(RestartStrategyOptions.RESTART_STRATEGY)
                        .isEmpty(),
                "no restart strategy configured: the job leaves Flink's default");

        StreamExecutionEnvironment flags = StreamExecutionEnvironment.getExecutionEnvironment(flink(
                "execution.checkpointing.interval", "3s", "restart-strategy.type", "none", "parallelism.default", "3"));
        JobConfig.configure(
                flags,
                JobOptions.parse(
                        "--model",
                        "m",
                        "--checkpoint-interval",
                        "PT1S",
                        "--restart-attempts",
                        "4",
                        "--parallelism",
                        "5"));
        assertEquals(1000, flags.getCheckpointConfig().getCheckpointInterval());
        assertEquals("fixed-delay", flags.getConfiguration().get(RestartStrategyOptions.RESTART_STRATEGY));
        assertEquals(4, flags.getConfiguration().get(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS));
        assertEquals(5, flags.getParallelism());

        StreamExecutionEnvironment configuredParallelism =
                StreamExecutionEnvironment.getExecutionEnvironment(flink("parallelism.default", "3"));
        JobConfig.configure(configuredParallelism, JobOptions.parse("--model", "m"));
        assertEquals(3, configuredParallelism.getParallelism());

        StreamExecutionEnvironment atLeastOnce = StreamExecutionEnvironment.getExecutionEnvironment(
                flink("execution.checkpointing.mode", "AT_LEAST_ONCE"));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> JobConfig.configure(atLeastOnce, JobOptions.parse("--model", "m")));
        assertTrue(
                e.getMessage().contains("--delivery exactly-once needs execution.checkpointing.mode EXACTLY_ONCE"),
                e.getMessage());
    }

    /**
     * F1: with no restart strategy configured and no --restart-attempts, the restart strategy the
     * scheduler builds from the job's effective configuration is Flink's default (exponential
     * delay, unbounded), not a fixed delay with a lifetime budget of attempts.
     */
    @Test
    void withoutARestartStrategyFlinksDefaultApplies() {
        assertEquals(
                "ExponentialDelayRestartBackoffTimeStrategyFactory", effectiveRestartStrategy(new Configuration()));
        assertEquals(
                "FixedDelayRestartBackoffTimeStrategyFactory",
                effectiveRestartStrategy(new Configuration(), "--restart-attempts", "3"));
        assertEquals(
                "FailureRateRestartBackoffTimeStrategyFactory",
                effectiveRestartStrategy(flink("restart-strategy.type", "failure-rate")));
        assertEquals(
                "FixedDelayRestartBackoffTimeStrategyFactory",
                effectiveRestartStrategy(flink("restart-strategy.type", "failure-rate"), "--restart-attempts", "3"));
        assertThrows(
                IllegalArgumentException.class,
                () -> effectiveRestartStrategy(new Configuration(), "--restart-attempts", "-1"));
    }

    /** The restart strategy factory Flink's scheduler builds for the job as configured. */
    private static String effectiveRestartStrategy(Configuration cluster, String... args) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(cluster);
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of("--model", "m"));
        all.addAll(java.util.List.of(args));
        EnrichmentJob.build(env, JobOptions.parse(all.toArray(String[]::new)));
        Configuration job = env.getStreamGraph().getJobConfiguration();
        return RestartBackoffTimeStrategyFactoryLoader.createRestartBackoffTimeStrategyFactory(
                        job, cluster, env.getCheckpointConfig().isCheckpointingEnabled())
                .getClass()
                .getSimpleName();
    }

    @Test
    void mainThrowsInsteadOfExiting() {
        IllegalArgumentException badFlag = assertThrows(
                IllegalArgumentException.class,
                () -> EnrichmentJob.main(new String[] {"--model", "m", "--no-such-option"}));
        assertTrue(badFlag.getMessage().contains("--no-such-option"), badFlag.getMessage());
        assertTrue(badFlag.getMessage().contains("Usage: enrichment-job"), badFlag.getMessage());
        // A bad configuration is rejected before any topic is created or anything runs.
        IllegalArgumentException badKey = assertThrows(
                IllegalArgumentException.class,
                () -> EnrichmentJob.main(new String[] {
                    "--model", "m", "--create-topics", "--bootstrap-servers", "127.0.0.1:1", "--set", "qsparse.nope=1"
                }));
        assertTrue(badKey.getMessage().contains("unknown operator option qsparse.nope in --set"), badKey.getMessage());
    }

    @Test
    void helpReturnsNormally() throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            EnrichmentJob.main(new String[] {"--help"});
        } finally {
            System.setOut(stdout);
        }
        String help = captured.toString(StandardCharsets.UTF_8).replaceAll("\\s+", "");
        assertTrue(help.contains("overridesqsparse.batch.max-size"), help);
        assertTrue(help.contains("fromtheFlinkconfiguration"), help);
    }

    @Test
    void operatorOptionsMap() {
        assertEquals(
                Map.of("qsparse.threads", "2"),
                JobOptions.parse("--set", "qsparse.threads=2", "--set", "qsparse.threads=2")
                        .operatorOptions());
        assertThrows(
                IllegalArgumentException.class,
                () -> JobOptions.parse("--set", "qsparse.threads").operatorOptions());
    }
}
