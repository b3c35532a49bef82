package dev.qsparse.jobs;

import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;

/**
 * Which Kafka client property values are secrets, and keeping them out of logs, errors and the
 * Flink UI. A secret is every key Kafka's own consumer, producer or admin configuration types as
 * {@link ConfigDef.Type#PASSWORD} ({@code sasl.jaas.config}, {@code ssl.keystore.key},
 * {@code sasl.oauthbearer.assertion.private.key.passphrase}, ...), any key Flink itself treats as
 * sensitive ({@link GlobalConfiguration#isSensitive}), and any key with one of the usual words
 * (password, passphrase, secret, token, credential, a keystore or truststore key).
 */
public final class KafkaSecrets {

    static final String MASK = "******";

    /** Every key the Kafka clients' ConfigDefs type as PASSWORD. */
    static final Set<String> PASSWORD_KEYS = passwordKeys();

    private static final Pattern WORDS = Pattern.compile(
            "(?i).*(password|passphrase|secret|token|credential|jaas\\.config|user\\.info|private\\.key).*"
                    + "|.*(\\.key|keystore\\.certificate\\.chain|truststore\\.certificates)$");

    private KafkaSecrets() {}

    private static Set<String> passwordKeys() {
        Set<String> keys = new TreeSet<>();
        Stream.of(ConsumerConfig.configDef(), ProducerConfig.configDef(), AdminClientConfig.configDef())
                .flatMap(def -> def.configKeys().values().stream())
                .filter(k -> k.type == ConfigDef.Type.PASSWORD)
                .forEach(k -> keys.add(k.name));
        return keys;
    }

    /** Whether the value of Kafka client property {@code key} is a secret. */
    public static boolean isSecret(String key) {
        return PASSWORD_KEYS.contains(key) || WORDS.matcher(key).matches() || GlobalConfiguration.isSensitive(key);
    }

    /**
     * Whether Flink's web UI and REST API would show the value of {@code kafka.KEY} in the Flink
     * configuration in clear: a secret that Flink's own sensitive-key list misses.
     */
    static boolean shownByFlink(String key) {
        return isSecret(key) && !GlobalConfiguration.isSensitive(KafkaClientProperties.PREFIX + key);
    }

    /** The properties, sorted, with every secret value replaced by {@value #MASK}: for logs and errors. */
    public static Map<String, String> masked(Properties p) {
        Map<String, String> out = new TreeMap<>();
        for (String k : p.stringPropertyNames()) {
            out.put(k, isSecret(k) ? MASK : p.getProperty(k));
        }
        return out;
    }

    /**
     * Parses {@code sasl.jaas.config} as the clients will when the security protocol is SASL, and
     * throws without Kafka's parser message, which quotes the text (the password among it): a bad
     * value fails the job's build instead of every client at run time with the secret in the
     * exception.
     */
    static void checkJaasConfig(Properties p) {
        String jaas = p.getProperty(SaslConfigs.SASL_JAAS_CONFIG);
        String protocol = p.getProperty(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "");
        if (jaas == null || !protocol.trim().toUpperCase(Locale.ROOT).startsWith("SASL_")) {
            return;
        }
        try {
            JaasContext.loadClientContext(Map.of(SaslConfigs.SASL_JAAS_CONFIG, new Password(jaas)));
        } catch (RuntimeException e) {
            // Neither the parser's message nor the exception as a cause: both may quote the value.
            throw new IllegalArgumentException("Kafka client property " + SaslConfigs.SASL_JAAS_CONFIG
                    + " is not a valid JAAS configuration for a Kafka client ("
                    + e.getClass().getSimpleName()
                    + "; the parser's message is not shown, it may quote a secret). Expected one login module:"
                    + " CLASS required key=\"value\" ...; e.g. org.apache.kafka.common.security.plain.PlainLoginModule"
                    + " required username=\"USER\" password=\"PASSWORD\";");
        }
    }
}
