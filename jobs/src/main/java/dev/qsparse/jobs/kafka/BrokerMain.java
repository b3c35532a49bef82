package dev.qsparse.jobs.kafka;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs {@link EmbeddedKafkaBroker} as a standalone process (the local multi-process cluster of
 * {@code docker/local/cluster.sh}) until it is killed or receives SIGTERM, which shuts the broker
 * down cleanly. Prints {@code Kafka broker ready at HOST:PORT} on stdout once clients can connect.
 *
 * <pre>
 * java -cp ... dev.qsparse.jobs.kafka.BrokerMain [--port 9092] [--controller-port 9093]
 *      [--data-dir DIR] [--delete-data-dir]
 * </pre>
 *
 * Exit codes: 0 after a clean shutdown, 2 for a usage error, 3 when a port is taken, 1 for any
 * other start failure.
 */
public final class BrokerMain {

    private BrokerMain() {}

    public static void main(String[] args) throws InterruptedException {
        int port = 9092;
        int controllerPort = 9093;
        Path dataDir = Path.of("kafka-data");
        boolean deleteDataDir = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--port" -> port = Integer.parseInt(value(args, ++i));
                    case "--controller-port" -> controllerPort = Integer.parseInt(value(args, ++i));
                    case "--data-dir" -> dataDir = Path.of(value(args, ++i));
                    case "--delete-data-dir" -> deleteDataDir = true;
                    case "-h", "--help" -> {
                        System.out.println(
                                "usage: BrokerMain [--port 9092] [--controller-port 9093] [--data-dir DIR] [--delete-data-dir]");
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("BrokerMain: " + e.getMessage());
            System.exit(2);
        }

        if (java.nio.file.Files.exists(dataDir.resolve("meta.properties"))) {
            // EmbeddedKafkaBroker formats with a fresh cluster id, which a formatted directory rejects.
            System.err.println("BrokerMain: " + dataDir.toAbsolutePath()
                    + " holds the data of an earlier broker; delete it or choose another --data-dir");
            System.exit(2);
        }
        EmbeddedKafkaBroker broker;
        try {
            broker = EmbeddedKafkaBroker.start(dataDir, port, controllerPort, deleteDataDir);
        } catch (EmbeddedKafkaBroker.PortInUseException e) {
            System.err.println("BrokerMain: " + e.getMessage());
            System.exit(3);
            return;
        } catch (Exception e) {
            System.err.println("BrokerMain: cannot start the Kafka broker: " + e);
            e.printStackTrace();
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            System.out.println("Kafka broker shutting down");
                            try {
                                broker.close();
                            } finally {
                                stopped.countDown();
                            }
                            System.out.println("Kafka broker stopped");
                        },
                        "broker-shutdown"));
        System.out.println("Kafka broker ready at " + broker.bootstrapServers());
        System.out.flush();
        // The shutdown hook does the work; this thread only keeps the process alive.
        stopped.await();
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }
}
