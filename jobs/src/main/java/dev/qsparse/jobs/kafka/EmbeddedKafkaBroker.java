package dev.qsparse.jobs.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real one-node Kafka cluster (KRaft, combined broker + controller) inside this JVM, on
 * loopback, for the demo and the end-to-end tests. Not for production.
 *
 * <p>One-node settings matter: the internal offsets, transaction and share-state topics must have
 * replication factor 1, or consumers and transactional producers wait forever.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

    private final KafkaRaftServer server;
    private final Path dataDir;
    private final boolean deleteDataDir;
    private final String bootstrapServers;
    private final Map<String, String> listenerAddresses;

    private EmbeddedKafkaBroker(
            KafkaRaftServer server,
            Path dataDir,
            boolean deleteDataDir,
            String bootstrapServers,
            Map<String, String> listenerAddresses) {
        this.server = server;
        this.dataDir = dataDir;
        this.deleteDataDir = deleteDataDir;
        this.bootstrapServers = bootstrapServers;
        this.listenerAddresses = Map.copyOf(listenerAddresses);
    }

    /**
     * A listener besides the PLAINTEXT one (which stays the inter-broker listener and serves
     * {@link #admin()}), for clients that must authenticate or encrypt.
     *
     * @param name             listener name, e.g. {@code SASL} or {@code TLS}
     * @param securityProtocol {@code SASL_PLAINTEXT}, {@code SSL} or {@code SASL_SSL}
     * @param settings         broker settings of this listener, without the
     *                         {@code listener.name.<name>.} prefix that is added here, e.g.
     *                         {@code sasl.enabled.mechanisms}, {@code plain.sasl.jaas.config},
     *                         {@code ssl.keystore.location}
     */
    public record Listener(String name, String securityProtocol, Map<String, String> settings) {
        public Listener {
            if (!name.matches("[A-Z][A-Z0-9_]*") || name.equals("PLAINTEXT") || name.equals("CONTROLLER")) {
                throw new IllegalArgumentException(
                        "listener name must be upper case and not PLAINTEXT or CONTROLLER: " + name);
            }
            settings = Map.copyOf(settings);
        }
    }

    /** Starts a broker on free loopback ports with a fresh temporary data directory. */
    public static EmbeddedKafkaBroker start() throws IOException {
        return start(Files.createTempDirectory("qsparse-kafka"), 0, 0, true);
    }

    /**
     * Starts a broker.
     *
     * @param dataDir        log directory (formatted here)
     * @param brokerPort     PLAINTEXT port, 0 for a free one
     * @param controllerPort CONTROLLER port, 0 for a free one
     * @param deleteDataDir  delete the data directory on close
     * @throws PortInUseException when a requested port is taken
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int brokerPort, int controllerPort, boolean deleteDataDir)
            throws IOException {
        return start(dataDir, brokerPort, controllerPort, deleteDataDir, List.of());
    }

    /**
     * Starts a broker with {@code extra} listeners (each on a free loopback port, see
     * {@link #bootstrapServers(String)}) besides the PLAINTEXT and CONTROLLER ones.
     */
    public static EmbeddedKafkaBroker start(
            Path dataDir, int brokerPort, int controllerPort, boolean deleteDataDir, List<Listener> extra)
            throws IOException {
        int port = choosePort(brokerPort, "Kafka broker");
        int cport = choosePort(controllerPort, "Kafka controller");
        Map<String, String> addresses = new LinkedHashMap<>();
        addresses.put("PLAINTEXT", "127.0.0.1:" + port);
        StringBuilder protocols = new StringBuilder("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        Properties props = new Properties();
        for (Listener l : extra) {
            addresses.put(l.name(), "127.0.0.1:" + choosePort(0, "Kafka " + l.name() + " listener"));
            protocols.append(',').append(l.name()).append(':').append(l.securityProtocol());
            String prefix = "listener.name." + l.name().toLowerCase(Locale.ROOT) + ".";
            l.settings().forEach((k, v) -> props.put(prefix + k, v));
        }
        StringBuilder listeners = new StringBuilder();
        addresses.forEach((name, address) ->
                listeners.append(name).append("://").append(address).append(','));
        String advertised = listeners.substring(0, listeners.length() - 1);
        props.put("process.roles", "broker,controller");
        props.put("node.id", "1");
        props.put("controller.quorum.voters", "1@127.0.0.1:" + cport);
        props.put("listeners", listeners + "CONTROLLER://127.0.0.1:" + cport);
        props.put("advertised.listeners", advertised);
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("listener.security.protocol.map", protocols.toString());
        props.put("log.dirs", dataDir.toAbsolutePath().toString());
        props.put("offsets.topic.replication.factor", "1");
        props.put("offsets.topic.num.partitions", "1");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("transaction.state.log.num.partitions", "1");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        props.put("num.partitions", "1");
        // Flink's transactional sink may ask for up to an hour; allow it.
        props.put("transaction.max.timeout.ms", String.valueOf(TimeUnit.HOURS.toMillis(1)));
        props.put("log.flush.interval.messages", String.valueOf(Long.MAX_VALUE));
        props.put("log.segment.bytes", String.valueOf(16 * 1024 * 1024));
        try {
            format(dataDir);
            KafkaRaftServer server = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
            server.startup();
            EmbeddedKafkaBroker broker =
                    new EmbeddedKafkaBroker(server, dataDir, deleteDataDir, "127.0.0.1:" + port, addresses);
            broker.awaitReady(Duration.ofSeconds(60));
            LOG.info("Embedded Kafka broker ready at {}", broker.bootstrapServers);
            return broker;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot start the embedded Kafka broker: " + e.getMessage(), e);
        }
    }

    private static void format(Path dataDir) throws Exception {
        Files.createDirectories(dataDir);
        String dir = dataDir.toAbsolutePath().toString();
        new Formatter()
                .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                .setClusterId(Uuid.randomUuid().toString())
                .setNodeId(1)
                .addDirectory(dir)
                .setMetadataLogDirectory(dir)
                .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
                .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                .setControllerListenerName("CONTROLLER")
                .setIgnoreFormatted(true)
                .run();
    }

    /**
     * {@code requested} if it is free on loopback, a free port if it is 0; a
     * {@link PortInUseException} naming the port and its user otherwise.
     */
    public static int choosePort(int requested, String what) throws IOException {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), requested));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new PortInUseException(what + " port " + requested + " on 127.0.0.1 is already in use ("
                    + e.getMessage() + "); choose another port or stop the process holding it");
        }
    }

    private void awaitReady(Duration timeout) throws Exception {
        try (Admin admin = admin()) {
            admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The address of the listener named {@code listener} (PLAINTEXT or one given to {@link #start}). */
    public String bootstrapServers(String listener) {
        String address = listenerAddresses.get(listener);
        if (address == null) {
            throw new IllegalArgumentException(
                    "no listener " + listener + "; listeners: " + listenerAddresses.keySet());
        }
        return address;
    }

    /** An admin client for this broker; the caller closes it. */
    public Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return Admin.create(p);
    }

    /** Creates topics (name -> partitions) with replication factor 1; existing ones are kept. */
    public void createTopics(Map<String, Integer> partitions) throws IOException {
        KafkaTopics.create(bootstrapServers, partitions);
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
        if (deleteDataDir) {
            deleteRecursively(dataDir);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("Could not delete Kafka data directory {}: {}", dir, e.getMessage());
        }
    }

    /** A requested port is taken. */
    public static final class PortInUseException extends IOException {
        public PortInUseException(String message) {
            super(message);
        }
    }
}
