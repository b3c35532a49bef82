package dev.qsparse.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class KafkaClientPropertiesTest {

    private static final String JAAS =
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"s3cret\";";

    @Test
    void configurationThenFileThenFlags(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("client.properties");
        Files.writeString(
                file,
                "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nssl.truststore.location=/etc/kafka/truststore.p12\n");
        Configuration flink = new Configuration();
        flink.setString("kafka.security.protocol", "SASL_PLAINTEXT");
        flink.setString("kafka.sasl.jaas.config", JAAS);
        flink.setString("kafka.bootstrap.servers", "broker-1:9093");
        flink.setString("kafkaesque.other", "not ours");
        JobOptions o = JobOptions.parse(
                "--model",
                "m",
                "--kafka-properties-file",
                file.toString(),
                "--kafka-property",
                "ssl.truststore.password=tpw",
                "--kafka-property",
                "sasl.mechanism=SCRAM-SHA-512");

        Properties p = EnrichmentJob.kafkaClient(flink, o);
        assertEquals("SASL_SSL", p.getProperty("security.protocol"), "the file overrides the configuration");
        assertEquals("SCRAM-SHA-512", p.getProperty("sasl.mechanism"), "a flag overrides the file");
        assertEquals(JAAS, p.getProperty("sasl.jaas.config"));
        assertEquals("/etc/kafka/truststore.p12", p.getProperty("ssl.truststore.location"));
        assertEquals(
                "broker-1:9093", p.getProperty("bootstrap.servers"), "configured, and --bootstrap-servers not given");
        assertFalse(p.containsKey("esque.other"));

        Map<String, String> masked = KafkaSecrets.masked(p);
        assertEquals("******", masked.get("sasl.jaas.config"));
        assertEquals("******", masked.get("ssl.truststore.password"));
        assertEquals("SASL_SSL", masked.get("security.protocol"));
        assertFalse(masked.toString().contains("s3cret") || masked.toString().contains("tpw"), masked.toString());

        JobOptions explicit = JobOptions.parse("--model", "m", "--bootstrap-servers", "other:9092");
        assertEquals("other:9092", EnrichmentJob.kafkaClient(flink, explicit).getProperty("bootstrap.servers"));
        assertEquals(
                "localhost:9092",
                EnrichmentJob.kafkaClient(new Configuration(), JobOptions.parse("--model", "m"))
                        .getProperty("bootstrap.servers"));
    }

    @Test
    void secretKeys() {
        for (String k : new String[] {
            "sasl.jaas.config",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "ssl.keystore.key",
            "sasl.oauthbearer.client.credentials.client.secret",
            "basic.auth.user.info",
            // K2: typed PASSWORD by Kafka's ConfigDef, missed by the hand-written list before.
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "ssl.keystore.certificate.chain",
            "ssl.truststore.certificates",
            "sasl.oauthbearer.assertion.private.key.file.passphrase",
            "some.plugin.api-key"
        }) {
            assertTrue(KafkaSecrets.isSecret(k), k);
        }
        for (String k : KafkaSecrets.PASSWORD_KEYS) {
            assertTrue(KafkaSecrets.isSecret(k), k);
        }
        assertTrue(KafkaSecrets.PASSWORD_KEYS.contains("sasl.oauthbearer.assertion.private.key.passphrase"));
        assertTrue(KafkaSecrets.PASSWORD_KEYS.contains("ssl.keystore.key"));
        for (String k : new String[] {
            "security.protocol", "sasl.mechanism", "ssl.truststore.location", "bootstrap.servers", "ssl.keystore.type"
        }) {
            assertFalse(KafkaSecrets.isSecret(k), k);
        }
    }

    @Test
    void errorsAndHelpNeverShowSecrets(@TempDir Path tmp) {
        IllegalArgumentException noEquals = assertThrows(
                IllegalArgumentException.class,
                () -> KafkaClientProperties.resolve(
                        new Configuration(), JobOptions.parse("--kafka-property", "s3cretWithoutKey")));
        assertFalse(noEquals.getMessage().contains("s3cret"), noEquals.getMessage());
        assertTrue(noEquals.getMessage().contains("--kafka-property expects KEY=VALUE"), noEquals.getMessage());

        Path missing = tmp.resolve("missing.properties");
        IllegalArgumentException noFile = assertThrows(
                IllegalArgumentException.class,
                () -> KafkaClientProperties.resolve(
                        new Configuration(), JobOptions.parse("--kafka-properties-file", missing.toString())));
        assertTrue(noFile.getMessage().contains(missing.toString()), noFile.getMessage());

        StringWriter help = new StringWriter();
        CommandLine cli = EnrichmentJob.commandLine(new JobOptions());
        cli.setOut(new PrintWriter(help));
        cli.execute("--help");
        assertTrue(help.toString().contains("--kafka-property"));
        assertTrue(help.toString().contains("--kafka-properties-file"));
    }

    @Test
    void theJobBuildsWithSecuredClientProperties() {
        Configuration flink = new Configuration();
        flink.setString("kafka.security.protocol", "SASL_PLAINTEXT");
        flink.setString("kafka.sasl.mechanism", "PLAIN");
        flink.setString("kafka.sasl.jaas.config", JAAS);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(flink);
        EnrichmentJob.build(env, JobOptions.parse("--model", "m"));
        assertTrue(env.getStreamGraph().getStreamNodes().size() >= 4);
    }
}
