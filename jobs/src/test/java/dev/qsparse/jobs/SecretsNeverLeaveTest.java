package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.KafkaTopics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.client.deployment.application.ApplicationConfiguration;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets planted in every place a Kafka secret can be given never reach a log line or an
 * exception (message, cause, stack trace) of a run that succeeds or of one that fails: issue 22's
 * K2 (a PASSWORD key the hand-written list missed), K3 (picocli echoing a mistyped option's
 * value), K4 (Kafka's JAAS parser echoing the text) and K5 (a secret {@code kafka.*} key the
 * Flink UI would show). Logs are captured at INFO, Flink's default level, including Kafka's
 * own client configuration dumps; the succeeding run talks to a real in-JVM broker.
 */
class SecretsNeverLeaveTest {

    private static final String PASSWORD = "pw-" + UUID.randomUUID();
    private static final String PASSPHRASE = "pp-" + UUID.randomUUID();
    private static final String KEY = "key-" + UUID.randomUUID();
    private static final String STORE = "store-" + UUID.randomUUID();
    private static final List<String> PLANTED = List.of(PASSWORD, PASSPHRASE, KEY, STORE);

    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required"
            + " username=\"u\" password=\"" + PASSWORD + "\";";

    static EmbeddedKafkaBroker broker;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = EmbeddedKafkaBroker.start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private static void assertNoSecret(String where, String text) {
        for (String secret : PLANTED) {
            assertFalse(text.contains(secret), where + " contains a planted secret: " + text);
        }
    }

    /** Runs {@code failing}, which must throw; neither the exception nor the logs hold a secret. */
    private static Throwable failsWithoutSecrets(String what, Executable failing) {
        try (CapturedLogs logs = new CapturedLogs()) {
            Throwable e = assertThrows(Throwable.class, failing, what);
            assertNoSecret(what + ": the exception", CapturedLogs.printed(e));
            assertNoSecret(what + ": the logs", logs.text());
            return e;
        }
    }

    private static String[] jobArgs(String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--model", "m", "--bootstrap-servers", broker.bootstrapServers(), "--checkpoint-interval", "PT1S"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    @Test
    void aSucceedingBuildAndTopicSetupLogNoSecret(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("client.properties");
        // PLAINTEXT: the broker needs none of them, and every client still reads (and logs) its config.
        Files.writeString(
                file,
                "sasl.jaas.config=" + JAAS.replace("\"", "\\\"") + "\n"
                        + "sasl.oauthbearer.assertion.private.key.passphrase=" + PASSPHRASE + "\n"
                        + "ssl.keystore.key=" + KEY + "\n");
        try (CapturedLogs logs = new CapturedLogs()) {
            JobOptions o = JobOptions.parse(jobArgs(
                    "--kafka-properties-file",
                    file.toString(),
                    "--kafka-property",
                    "ssl.truststore.password=" + STORE,
                    "--output-topic",
                    "out-secrets",
                    "--dead-letter-topic",
                    "dlq-secrets"));
            Configuration flink = new Configuration();
            flink.setString("kafka.ssl.keystore.password", STORE);
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(flink);
            EnrichmentJob.build(env, o);
            Properties kafka = EnrichmentJob.kafkaClient(env.getConfiguration(), o);
            KafkaTopics.create(kafka, Map.of("out-secrets", 1, "dlq-secrets", 1));
            KafkaTopics.checkMaxMessageBytes(kafka, List.of("out-secrets", "dlq-secrets"), 1000);

            String text = logs.text();
            assertTrue(text.contains("Kafka client properties (secrets masked)"), text);
            assertTrue(text.contains("sasl.oauthbearer.assertion.private.key.passphrase=" + KafkaSecrets.MASK), text);
            assertTrue(text.contains("ssl.keystore.key=" + KafkaSecrets.MASK), text);
            assertTrue(text.contains("AdminClientConfig values"), "Kafka's own config dump is captured too");
            assertNoSecret("the logs of a succeeding run", text);
        }
    }

    /**
     * A job running on a local cluster with its web UI, with secrets in the Flink configuration
     * (the keys Flink masks), in a properties file and on the command line: no log line (Kafka's
     * client configuration dumps of the running source and sinks included) and no REST
     * configuration page shows one.
     */
    @Test
    void aRunningJobShowsNoSecretInLogsOrRestConfiguration(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("client.properties");
        Files.writeString(
                file,
                "sasl.oauthbearer.assertion.private.key.passphrase=" + PASSPHRASE + "\nssl.keystore.key=" + KEY + "\n");
        String run = UUID.randomUUID().toString().substring(0, 8);
        KafkaTopics.create(broker.bootstrapServers(), Map.of("in-" + run, 1, "out-" + run, 1, "dlq-" + run, 1));
        Configuration conf = new Configuration();
        conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        conf.set(RestOptions.ADDRESS, "127.0.0.1");
        conf.set(RestOptions.PORT, EmbeddedKafkaBroker.choosePort(0, "REST"));
        conf.setString("kafka.sasl.jaas.config", JAAS);
        conf.setString("kafka.ssl.truststore.password", STORE);
        String rest = "http://127.0.0.1:" + conf.get(RestOptions.PORT);
        try (CapturedLogs logs = new CapturedLogs()) {
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
            EnrichmentJob.build(
                    env,
                    JobOptions.parse(
                            "--model",
                            "../model-runtime/src/test/resources/test-model",
                            "--bootstrap-servers",
                            broker.bootstrapServers(),
                            "--input-topic",
                            "in-" + run,
                            "--output-topic",
                            "out-" + run,
                            "--dead-letter-topic",
                            "dlq-" + run,
                            "--parallelism",
                            "1",
                            "--kafka-properties-file",
                            file.toString(),
                            "--kafka-property",
                            "ssl.key.password=" + PASSWORD));
            JobClient job = env.executeAsync("secrets " + run);
            try {
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
                // Both config dumps, the sinks' and the source's: the source's reader may start last.
                while (job.getJobStatus().get() != JobStatus.RUNNING
                        || !logs.text().contains("ProducerConfig values")
                        || !logs.text().contains("ConsumerConfig values")) {
                    assertTrue(System.nanoTime() < deadline, "the job's clients did not start: " + logs.text());
                    Thread.sleep(100);
                }
                HttpClient http = HttpClient.newHttpClient();
                String jobManagerConfig = get(http, rest + "/jobmanager/config");
                assertTrue(jobManagerConfig.contains("kafka.sasl.jaas.config"), jobManagerConfig);
                for (String page : List.of(
                        "/jobmanager/config",
                        "/jobs/" + job.getJobID() + "/config",
                        "/jobs/" + job.getJobID() + "/jobmanager/config",
                        "/jobs/" + job.getJobID())) {
                    assertNoSecret("REST " + page, get(http, rest + page));
                }
            } finally {
                job.cancel().get(1, TimeUnit.MINUTES);
            }
            assertTrue(logs.text().contains("ConsumerConfig values"), "the source's Kafka config dump is captured");
            assertNoSecret("the logs of a running job", logs.text());
        }
    }

    private static String get(HttpClient http, String url) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofSeconds(30))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), url + ": " + r.body());
        return r.body();
    }

    @Test
    void aMistypedOptionDoesNotEchoItsValue() {
        // K3: picocli's "Unknown options" quoted every unmatched argument, the JAAS line among them.
        Throwable e = failsWithoutSecrets(
                "--kafka-propery", () -> EnrichmentJob.main(jobArgs("--kafka-propery", "sasl.jaas.config=" + JAAS)));
        assertTrue(e instanceof IllegalArgumentException, e::toString);
        assertNull(e.getCause(), "picocli's exception, which quotes the arguments, is not the cause");
        assertTrue(e.getMessage().contains("--kafka-propery"), e.getMessage());
        assertTrue(e.getMessage().contains("Usage: enrichment-job"), e.getMessage());

        e = failsWithoutSecrets(
                "--kafka-propery=...", () -> EnrichmentJob.main(jobArgs("--kafka-propery=sasl.jaas.config=" + JAAS)));
        assertTrue(e.getMessage().contains("--kafka-propery=" + UsageError.HIDDEN), e.getMessage());

        // A secret pasted where a value of another option belongs.
        e = failsWithoutSecrets(
                "--checkpoint-interval", () -> EnrichmentJob.main(jobArgs("--checkpoint-interval", PASSWORD)));
        assertTrue(e.getMessage().contains("--checkpoint-interval"), e.getMessage());
    }

    @Test
    void aJaasConfigKafkaCannotParseIsRefusedWithoutItsText() {
        // K4: "password=" left out: Kafka's parser takes the password for a key and quotes it.
        String broken =
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" " + PASSWORD + ";";
        Throwable e = failsWithoutSecrets(
                "a JAAS line without password=",
                () -> EnrichmentJob.main(jobArgs(
                        "--create-topics",
                        "--kafka-property",
                        "security.protocol=SASL_PLAINTEXT",
                        "--kafka-property",
                        "sasl.mechanism=PLAIN",
                        "--kafka-property",
                        "sasl.jaas.config=" + broken)));
        assertTrue(e.getMessage().contains("sasl.jaas.config is not a valid JAAS configuration"), e.getMessage());
        assertNull(e.getCause());

        // The admin client the job creates topics with fails the same way on its own.
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", broker.bootstrapServers());
        p.setProperty("security.protocol", "SASL_PLAINTEXT");
        p.setProperty("sasl.mechanism", "PLAIN");
        p.setProperty("sasl.jaas.config", broken);
        e = failsWithoutSecrets("KafkaTopics.create", () -> KafkaTopics.create(p, Map.of("t-secrets", 1)));
        assertTrue(e.getMessage().contains("cannot create a Kafka admin client"), e.getMessage());
        assertNull(e.getCause());
    }

    @Test
    void inApplicationModeSecretsOnTheCommandLineAreRefused() {
        // Application mode: the job's arguments are the configuration key
        // $internal.application.program-args, which Flink's UI and REST API show unmasked.
        String[] args = jobArgs("--kafka-property", "sasl.jaas.config=" + JAAS);
        Configuration application = new Configuration();
        application.set(ApplicationConfiguration.APPLICATION_ARGS, List.of(args));
        Throwable e = failsWithoutSecrets(
                "application mode",
                () -> EnrichmentJob.build(
                        StreamExecutionEnvironment.getExecutionEnvironment(application), JobOptions.parse(args)));
        assertTrue(e.getMessage().contains("--kafka-property sasl.jaas.config"), e.getMessage());
        assertTrue(e.getMessage().contains("--kafka-properties-file"), e.getMessage());
        // Not secret: accepted there too; and the same secret outside application mode.
        String[] plain = jobArgs("--kafka-property", "security.protocol=PLAINTEXT");
        application.set(ApplicationConfiguration.APPLICATION_ARGS, List.of(plain));
        EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(application), JobOptions.parse(plain));
        EnrichmentJob.build(
                StreamExecutionEnvironment.getExecutionEnvironment(new Configuration()), JobOptions.parse(args));
    }

    @Test
    void secretKafkaKeysTheFlinkUiWouldShowAreRefused() {
        // K5: Flink masks keys with "password", "secret", "token" or "jaas.config" in its UI and REST
        // configuration; these two it shows in clear.
        for (Map.Entry<String, String> planted : Map.of(
                        "kafka.ssl.keystore.key", KEY,
                        "kafka.sasl.oauthbearer.assertion.private.key.passphrase", PASSPHRASE)
                .entrySet()) {
            Configuration flink = new Configuration();
            flink.setString(planted.getKey(), planted.getValue());
            Throwable e = failsWithoutSecrets(
                    planted.getKey(),
                    () -> EnrichmentJob.build(
                            StreamExecutionEnvironment.getExecutionEnvironment(flink), JobOptions.parse(jobArgs())));
            assertTrue(e.getMessage().contains(planted.getKey()), e.getMessage());
            assertTrue(e.getMessage().contains("--kafka-properties-file"), e.getMessage());
        }
        // Those Flink masks itself stay accepted in the configuration.
        Configuration flink = new Configuration();
        flink.setString("kafka.sasl.jaas.config", JAAS);
        flink.setString("kafka.ssl.truststore.password", STORE);
        EnrichmentJob.build(StreamExecutionEnvironment.getExecutionEnvironment(flink), JobOptions.parse(jobArgs()));
        assertEquals(
                List.of(),
                List.of(flink.toMap().keySet().stream()
                        .filter(k -> KafkaSecrets.shownByFlink(k.substring("kafka.".length())))
                        .toArray()));
    }
}
