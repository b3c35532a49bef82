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
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

/** Topic creation with the plain Kafka client (usable from the job jar, which has no broker). */
public final class KafkaTopics {

    private KafkaTopics() {
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
        partitions.forEach((name, n) -> topics.add(new NewTopic(name, java.util.Optional.of(n), java.util.Optional.empty())));
        Properties p = new Properties();
        p.putAll(clientProperties);
        try (Admin admin = Admin.create(p)) {
            for (Map.Entry<String, KafkaFuture<Void>> e : admin.createTopics(topics).values().entrySet()) {
                try {
                    e.getValue().get(1, TimeUnit.MINUTES);
                } catch (ExecutionException ex) {
                    if (!(ex.getCause() instanceof TopicExistsException)) {
                        throw new IOException("cannot create topic " + e.getKey() + ": " + ex.getCause(), ex.getCause());
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
