package dev.qsparse.jobs.demo;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.flink.core.execution.JobClient;

/**
 * What the demo started and must stop: its Flink job (whose end stops the mini cluster), its
 * Kafka broker, and its temporary directory (the broker's log directory, Flink's temporary and
 * upload files). Whoever takes a resource first stops it: the demo itself when it ends, or a JVM
 * shutdown hook on Ctrl-C or SIGTERM, which stops the job, then the broker, then deletes the
 * directory.
 */
final class DemoShutdown implements AutoCloseable {

    private final AtomicReference<JobClient> job = new AtomicReference<>();
    private final AtomicReference<EmbeddedKafkaBroker> broker = new AtomicReference<>();
    private final AtomicReference<Path> directory = new AtomicReference<>();
    private final Thread hook = new Thread(this::stopAll, "qsparse-demo-shutdown");

    /** Registers the JVM shutdown hook. */
    DemoShutdown() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    void job(JobClient j) {
        job.set(j);
    }

    void broker(EmbeddedKafkaBroker b) {
        broker.set(b);
    }

    /** The demo's temporary directory: the broker's log directory and Flink's temporary files. */
    void directory(Path d) {
        directory.set(d);
    }

    /** The job, unless it was taken (and cancelled) already. */
    JobClient takeJob() {
        return job.getAndSet(null);
    }

    /** The broker, unless it was taken (and closed) already. */
    EmbeddedKafkaBroker takeBroker() {
        return broker.getAndSet(null);
    }

    /** Cancels the job, then closes the broker: what the hook does. */
    void stopAll() {
        JobClient j = takeJob();
        if (j != null) {
            try {
                j.cancel().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Finished, or the cluster is already gone: nothing left to stop.
            }
        }
        EmbeddedKafkaBroker b = takeBroker();
        if (b != null) {
            b.close();
        }
        removeDirectory();
    }

    /** Deletes the demo's temporary directory, unless it was deleted already. */
    void removeDirectory() {
        Path d = directory.getAndSet(null);
        if (d == null || !Files.exists(d)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(d)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("Could not delete the demo's temporary directory " + d + ": " + e);
        }
    }

    /** Removes the hook: the demo stopped everything itself. */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // The hook is running or has run.
        }
    }
}
