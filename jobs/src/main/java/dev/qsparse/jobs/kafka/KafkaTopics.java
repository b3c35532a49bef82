package dev.qsparse.jobs.kafka;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Topic creation with the plain Kafka client (usable from the job jar, which has no broker). */
public final class KafkaTopics {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaTopics.class);

    private KafkaTopics() {}

    /**
     * Refuses to go on when an existing topic's {@code max.message.bytes} is below
     * {@code requiredBytes}: the job would produce records the broker rejects, failing on every
     * restart. Topics that do not exist yet are skipped (they get the broker's default); a broker
     * that cannot be asked within 30 s only gives a warning (the job may be submitted from a host
     * that does not reach Kafka). A broker that refuses the client's credentials or TLS handshake
     * fails the submission with a {@link KafkaAuthenticationException}: the job could not run.
     */
    public static void checkMaxMessageBytes(Properties clientProperties, List<String> topics, int requiredBytes) {
        Properties p = new Properties();
        p.putAll(clientProperties);
        List<ConfigResource> resources = new ArrayList<>();
        for (String t : new java.util.LinkedHashSet<>(topics)) {
            resources.add(new ConfigResource(ConfigResource.Type.TOPIC, t));
        }
        try (Admin admin = admin(p)) {
            for (Map.Entry<ConfigResource, KafkaFuture<Config>> e :
                    admin.describeConfigs(resources).values().entrySet()) {
                Config config;
                try {
                    config = e.getValue().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException ex) {
                    if (ex.getCause() instanceof UnknownTopicOrPartitionException) {
                        continue;
                    }
                    rejectIfNotLetIn(ex.getCause(), p);
                    LOG.warn(
                            "cannot read max.message.bytes of topic {}: {}",
                            e.getKey().name(),
                            ex.getCause().toString());
                    continue;
                } catch (TimeoutException ex) {
                    LOG.warn(
                            "cannot read max.message.bytes of topic {} within 30 s",
                            e.getKey().name());
                    continue;
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    return;
                }
                ConfigEntry entry = config.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
                if (entry != null && entry.value() != null && Long.parseLong(entry.value()) < requiredBytes) {
                    throw new IllegalArgumentException("topic " + e.getKey().name() + " has max.message.bytes = "
                            + entry.value() + ", below the " + requiredBytes + " bytes a record of this job can take"
                            + " (qsparse.output.max-record-size plus key and headers): raise the topic's"
                            + " max.message.bytes or lower qsparse.output.max-record-size");
                }
            }
        }
    }

    /**
     * An admin client over {@code p}. Kafka's errors at creation (a JAAS configuration it cannot
     * parse, a bad value) quote the offending text, which may be a secret: they are rethrown with
     * the exception classes only, and without the original as the cause.
     */
    static Admin admin(Properties p) {
        try {
            return Admin.create(p);
        } catch (KafkaException | IllegalArgumentException e) {
            StringBuilder chain = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                chain.append(chain.length() == 0 ? "" : " <- ")
                        .append(t.getClass().getName());
            }
            throw new IllegalArgumentException("cannot create a Kafka admin client for "
                    + p.getProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG) + " from the Kafka client properties ("
                    + chain + "; Kafka's message is not shown, it may quote a secret): check security.protocol,"
                    + " sasl.mechanism, sasl.jaas.config and ssl.*");
        }
    }

    /**
     * Throws {@link KafkaAuthenticationException} when {@code failure} (or a cause of it) says the
     * cluster did not let the client in: wrong user name or password, an unknown SASL mechanism, a
     * certificate the client does not trust. No retry helps then, so the job must not start. The
     * message names the bootstrap servers and the properties to check, never a secret value.
     */
    static void rejectIfNotLetIn(Throwable failure, Properties clientProperties) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof AuthenticationException) {
                throw new KafkaAuthenticationException(
                        "Kafka at "
                                + clientProperties.getProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG)
                                + " rejected the client's authentication (security.protocol="
                                + clientProperties.getProperty("security.protocol", "PLAINTEXT") + "): "
                                + t.getClass().getSimpleName() + ": " + t.getMessage()
                                + ". Check the Kafka client properties security.protocol, sasl.mechanism, sasl.jaas.config"
                                + " (user name and password) and ssl.truststore.*, given as kafka.* keys of the Flink"
                                + " configuration, --kafka-properties-file or --kafka-property",
                        t);
            }
        }
    }

    /** The Kafka cluster refused the client's credentials or the TLS handshake. */
    public static final class KafkaAuthenticationException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public KafkaAuthenticationException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Creates topics (name -> partitions, replication factor 1 unless the broker says otherwise); existing ones are kept. */
    public static void create(String bootstrapServers, Map<String, Integer> partitions) throws IOException {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        create(p, partitions);
    }

    /**
     * The same with any admin client properties ({@code bootstrap.servers} and, for a secured
     * cluster, {@code security.protocol}, {@code sasl.*}, {@code ssl.*}).
     */
    public static void create(Properties clientProperties, Map<String, Integer> partitions) throws IOException {
        String bootstrapServers = clientProperties.getProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG);
        List<NewTopic> topics = new ArrayList<>();
        partitions.forEach(
                (name, n) -> topics.add(new NewTopic(name, java.util.Optional.of(n), java.util.Optional.empty())));
        Properties p = new Properties();
        p.putAll(clientProperties);
        try (Admin admin = admin(p)) {
            for (Map.Entry<String, KafkaFuture<Void>> e :
                    admin.createTopics(topics).values().entrySet()) {
                try {
                    e.getValue().get(1, TimeUnit.MINUTES);
                } catch (ExecutionException ex) {
                    rejectIfNotLetIn(ex.getCause(), p);
                    if (!(ex.getCause() instanceof TopicExistsException)) {
                        throw new IOException(
                                "cannot create topic " + e.getKey() + ": " + ex.getCause(), ex.getCause());
                    }
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while creating topic " + e.getKey(), ex);
                } catch (TimeoutException ex) {
                    throw new IOException("timed out creating topic " + e.getKey() + " on " + bootstrapServers, ex);
                }
            }
        }
    }
}
