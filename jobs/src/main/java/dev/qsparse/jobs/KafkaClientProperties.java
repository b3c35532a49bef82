package dev.qsparse.jobs;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.client.deployment.application.ApplicationConfiguration;
import org.apache.flink.configuration.ReadableConfig;

/**
 * Kafka client properties for the job's source, both sinks and the topic admin: what a secured
 * cluster needs ({@code security.protocol}, {@code sasl.mechanism}, {@code sasl.jaas.config},
 * {@code ssl.truststore.location}, ...). From, in increasing precedence:
 * <ol>
 *   <li>{@code kafka.*} keys of the Flink configuration, prefix removed
 *       ({@code -Dkafka.security.protocol=SASL_SSL}, config.yaml, flinkConfiguration);</li>
 *   <li>{@code --kafka-properties-file FILE} (Java properties format);</li>
 *   <li>{@code --kafka-property KEY=VALUE}, repeatable.</li>
 * </ol>
 * The job's own settings for exactly-once (isolation level, transactional ids, transaction
 * timeout) and {@code --bootstrap-servers}, when given, are applied after these; keys the job owns
 * are checked by {@link KafkaOwnedKeys}. Secret values ({@link KafkaSecrets}) never appear in logs
 * or errors; a secret {@code kafka.*} key that Flink's UI would show in clear is refused, and so
 * is a secret {@code --kafka-property} in application mode, where the job's arguments are a
 * configuration key Flink shows.
 */
public final class KafkaClientProperties {

    /** The Flink configuration prefix of Kafka client properties. */
    public static final String PREFIX = "kafka.";

    private KafkaClientProperties() {}

    /** The properties from the three sources; errors name the source, never a secret value. */
    public static Properties resolve(ReadableConfig flink, JobOptions o) {
        Properties p = new Properties();
        for (Map.Entry<String, String> e : flink.toMap().entrySet()) {
            if (e.getKey().startsWith(PREFIX) && e.getKey().length() > PREFIX.length()) {
                String key = e.getKey().substring(PREFIX.length());
                if (KafkaSecrets.shownByFlink(key)) {
                    throw new IllegalArgumentException("the Flink configuration sets " + e.getKey()
                            + ", a secret that Flink's web UI and REST API show in clear: put " + key
                            + " in --kafka-properties-file instead (a file readable only by the job's user)");
                }
                p.setProperty(key, e.getValue());
            }
        }
        if (o.kafkaPropertiesFile != null) {
            Properties file = new Properties();
            try (Reader r = Files.newBufferedReader(o.kafkaPropertiesFile, StandardCharsets.UTF_8)) {
                file.load(r);
            } catch (IOException e) {
                throw new IllegalArgumentException(
                        "--kafka-properties-file " + o.kafkaPropertiesFile + ": cannot read it ("
                                + e.getClass().getSimpleName() + ")",
                        e);
            }
            file.stringPropertyNames().forEach(k -> p.setProperty(k, file.getProperty(k)));
        }
        // In application mode the job's arguments are a configuration key that Flink does not mask.
        boolean argumentsShown = flink.toMap().containsKey(ApplicationConfiguration.APPLICATION_ARGS.key());
        for (String entry : o.kafkaProperties) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                // Never echo the entry: it may be a secret pasted without its key.
                throw new IllegalArgumentException(
                        "--kafka-property expects KEY=VALUE, e.g. --kafka-property security.protocol=SASL_SSL"
                                + " (an entry without '=' was given)");
            }
            String key = entry.substring(0, eq).trim();
            if (argumentsShown && KafkaSecrets.isSecret(key)) {
                throw new IllegalArgumentException("--kafka-property " + key + ": in application mode the job's"
                        + " arguments are part of the Flink configuration ("
                        + ApplicationConfiguration.APPLICATION_ARGS.key()
                        + "), which Flink's web UI and REST API show in clear: put " + key
                        + " in --kafka-properties-file instead (a file readable only by the job's user)");
            }
            p.setProperty(key, entry.substring(eq + 1));
        }
        return p;
    }
}
