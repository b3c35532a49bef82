package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.EnrichmentJob;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The enrichment job against a secured Kafka, configured the documented way (Kafka client
 * properties through {@code --kafka-properties-file} and {@code --kafka-property}, see
 * README "Secured Kafka"): a real in-JVM KRaft broker with a SASL_PLAINTEXT listener (mechanism
 * PLAIN, one user) and a TLS listener (a self-signed certificate for 127.0.0.1 made here with the
 * JDK's keytool; clients verify it and the host name). The job runs through {@code main}, as
 * {@code flink run} would start it, creates its topics over the secured listener and runs bounded;
 * a read_committed consumer, itself authenticated, then finds every input id exactly once. Wrong
 * credentials and an untrusted certificate fail the submission within seconds with a message that
 * names what to check and no secret.
 */
class SecuredKafkaTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    static final String USER = "qsparse-job";
    static final String PASSWORD = "pw-" + UUID.randomUUID();
    static final String WRONG_PASSWORD = "wrong-" + UUID.randomUUID();
    static final String STORE_PASSWORD = "store-" + UUID.randomUUID();

    @TempDir
    static Path dir;

    static EmbeddedKafkaBroker broker;
    static Path truststore;
    static List<String> texts;

    @BeforeAll
    static void startSecuredBroker() throws Exception {
        Path keystore = dir.resolve("broker.p12");
        Path cert = dir.resolve("broker.crt");
        truststore = dir.resolve("truststore.p12");
        keytool(
                "-genkeypair",
                "-alias",
                "broker",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
                "-validity",
                "2",
                "-dname",
                "CN=localhost",
                "-ext",
                "SAN=ip:127.0.0.1,dns:localhost",
                "-storetype",
                "PKCS12",
                "-keystore",
                keystore.toString(),
                "-storepass",
                STORE_PASSWORD,
                "-keypass",
                STORE_PASSWORD);
        keytool(
                "-exportcert",
                "-rfc",
                "-alias",
                "broker",
                "-keystore",
                keystore.toString(),
                "-storepass",
                STORE_PASSWORD,
                "-file",
                cert.toString());
        keytool(
                "-importcert",
                "-noprompt",
                "-alias",
                "broker",
                "-file",
                cert.toString(),
                "-storetype",
                "PKCS12",
                "-keystore",
                truststore.toString(),
                "-storepass",
                STORE_PASSWORD);

        EmbeddedKafkaBroker.Listener sasl = new EmbeddedKafkaBroker.Listener(
                "SASL",
                "SASL_PLAINTEXT",
                Map.of(
                        "sasl.enabled.mechanisms",
                        "PLAIN",
                        "plain.sasl.jaas.config",
                        "org.apache.kafka.common.security.plain.PlainLoginModule required" + " user_" + USER + "=\""
                                + PASSWORD + "\";"));
        EmbeddedKafkaBroker.Listener tls = new EmbeddedKafkaBroker.Listener(
                "TLS",
                "SSL",
                Map.of(
                        "ssl.keystore.type",
                        "PKCS12",
                        "ssl.keystore.location",
                        keystore.toString(),
                        "ssl.keystore.password",
                        STORE_PASSWORD,
                        "ssl.key.password",
                        STORE_PASSWORD));
        broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0, 0, true, List.of(sasl, tls));
        texts = DemoEvents.readTexts(Path.of("../models/data/events.txt"));
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool timed out");
        assertEquals(0, p.exitValue(), () -> "keytool " + args[0] + " failed: " + output);
    }

    /** Client properties for the SASL listener with {@code password}. */
    static Properties saslClient(String password) {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", broker.bootstrapServers("SASL"));
        p.setProperty("security.protocol", "SASL_PLAINTEXT");
        p.setProperty("sasl.mechanism", "PLAIN");
        p.setProperty(
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required" + " username=\"" + USER
                        + "\" password=\"" + password + "\";");
        return p;
    }

    /** Client properties for the TLS listener, trusting the broker's certificate. */
    static Properties tlsClient() {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", broker.bootstrapServers("TLS"));
        p.setProperty("security.protocol", "SSL");
        p.setProperty("ssl.truststore.type", "PKCS12");
        p.setProperty("ssl.truststore.location", truststore.toString());
        p.setProperty("ssl.truststore.password", STORE_PASSWORD);
        return p;
    }

    static Path propertiesFile(Properties p, String name) throws IOException {
        Properties withoutBootstrap = new Properties();
        withoutBootstrap.putAll(p);
        withoutBootstrap.remove("bootstrap.servers");
        Path file = dir.resolve(name);
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            withoutBootstrap.store(w, null);
        }
        return file;
    }

    /** The job's command line for one run, reading {@code in} and writing {@code out}/{@code dlq}. */
    static List<String> jobArgs(String bootstrap, String run, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--bootstrap-servers",
                bootstrap,
                "--input-topic",
                "in-" + run,
                "--output-topic",
                "out-" + run,
                "--dead-letter-topic",
                "dlq-" + run,
                "--group-id",
                "g-" + run,
                "--transactional-id-prefix",
                "tx-" + run,
                "--starting-offsets",
                "EARLIEST",
                "--bounded",
                "--topic-partitions",
                "2",
                "--checkpoint-interval",
                "PT0.5S",
                "--parallelism",
                "1",
                "--restart-attempts",
                "0",
                "--model",
                Pipeline.TEST_MODEL.toString(),
                "--mode",
                "embed",
                "--max-batch-size",
                "8"));
        args.addAll(List.of(extra));
        return args;
    }

    /**
     * Creates the topics and produces the events as an authenticated client, runs the job through
     * {@code main} with the given client-property arguments until its bounded input is done, and
     * reads both output topics with read_committed as an authenticated client.
     */
    static void runExactlyOnce(Properties client, String... clientArgs) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        KafkaTopics.create(client, Map.of("in-" + run, 2, "out-" + run, 2, "dlq-" + run, 1));
        List<DemoEvents.Event> events = DemoEvents.build(texts, 30, 6, null, 11);
        Properties producerProps = new Properties();
        producerProps.putAll(client);
        producerProps.putAll(EventProducers.properties(client.getProperty("bootstrap.servers")));
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(producerProps, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (DemoEvents.Event e : events) {
                producer.send(new ProducerRecord<>("in-" + run, e.payload()));
            }
            producer.flush();
        }

        List<String> args = jobArgs(client.getProperty("bootstrap.servers"), run, "--create-topics");
        args.addAll(List.of(clientArgs));
        // Bounded: returns once every input record went through and the final checkpoint committed.
        EnrichmentJob.main(args.toArray(String[]::new));

        List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                client, List.of("out-" + run, "dlq-" + run), Duration.ofSeconds(30), rs -> rs.size() >= events.size());
        List<ConsumerRecord<byte[], byte[]>> settled =
                TopicReader.readUntil(client, List.of("out-" + run, "dlq-" + run), Duration.ofSeconds(2), rs -> false);
        Pipeline.Outcome outcome =
                new Pipeline.Outcome("out-" + run, settled.size() >= records.size() ? settled : records);
        assertEquals(30, outcome.enriched.size(), "enriched");
        assertEquals(6, outcome.deadLetters.size(), "dead letters");
        EndToEndTest.assertExactlyOnce(events, outcome);
    }

    @Test
    void saslPlainFromAPropertiesFileExactlyOnce() throws Exception {
        Properties client = saslClient(PASSWORD);
        runExactlyOnce(
                client,
                "--kafka-properties-file",
                propertiesFile(client, "sasl.properties").toString());
    }

    @Test
    void tlsWithKafkaPropertyFlagsExactlyOnce() throws Exception {
        Properties client = tlsClient();
        runExactlyOnce(
                client,
                "--kafka-property",
                "security.protocol=SSL",
                "--kafka-property",
                "ssl.truststore.type=PKCS12",
                "--kafka-property",
                "ssl.truststore.location=" + truststore,
                "--kafka-property",
                "ssl.truststore.password=" + STORE_PASSWORD);
    }

    @Test
    void aWrongPasswordFailsTheSubmissionFastAndClearly() throws Exception {
        Path wrong = propertiesFile(saslClient(WRONG_PASSWORD), "wrong.properties");
        // Without --create-topics (the start-time check of the output topics is the first call to
        // Kafka) and with it (the admin client creates them): either way the submission fails.
        for (boolean createTopics : new boolean[] {false, true}) {
            String run = UUID.randomUUID().toString().substring(0, 8);
            List<String> args =
                    jobArgs(broker.bootstrapServers("SASL"), run, "--kafka-properties-file", wrong.toString());
            if (createTopics) {
                args.add("--create-topics");
            }
            assertRejected(args, "SaslAuthenticationException", "sasl.jaas.config");
        }
    }

    @Test
    void anUntrustedCertificateFailsTheSubmissionFastAndClearly() throws Exception {
        // The JDK's default trust store does not know the test's self-signed certificate.
        List<String> args = jobArgs(
                broker.bootstrapServers("TLS"),
                UUID.randomUUID().toString().substring(0, 8),
                "--kafka-property",
                "security.protocol=SSL",
                "--create-topics");
        assertRejected(args, "SslAuthenticationException", "ssl.truststore");
    }

    private static void assertRejected(List<String> args, String cause, String hint) {
        long start = System.nanoTime();
        // Preemptive: a submission that hangs (or runs the job into restarts) fails the test too.
        Throwable e = assertTimeoutPreemptively(
                Duration.ofSeconds(60),
                () -> assertThrows(Exception.class, () -> EnrichmentJob.main(args.toArray(String[]::new))));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertInstanceOf(KafkaTopics.KafkaAuthenticationException.class, e, e::toString);
        String message = e.getMessage();
        assertTrue(message.contains("rejected the client's authentication"), message);
        assertTrue(message.contains(cause), message);
        assertTrue(message.contains(hint), message);
        assertTrue(message.contains(args.get(1)), "names the bootstrap servers: " + message);
        assertFalse(
                message.contains(WRONG_PASSWORD) || message.contains(PASSWORD) || message.contains(STORE_PASSWORD),
                "no secret in the message: " + message);
        assertTrue(seconds < 20, "failed after " + seconds + " s, expected within seconds");
    }
}
