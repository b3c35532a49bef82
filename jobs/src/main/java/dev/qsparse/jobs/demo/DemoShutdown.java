package dev.qsparse.jobs.demo;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.core.execution.JobClient;

/**
 * What the demo started and must stop: its Flink job (whose end stops the mini cluster) and its
 * Kafka broker (whose close deletes the broker's temporary log directory). Whoever takes a
 * resource first stops it: the demo itself when it ends, or a JVM shutdown hook on Ctrl-C or
 * SIGTERM, which stops the job first, then the broker.
 */
final class DemoShutdown implements AutoCloseable {

    private final AtomicReference<JobClient> job = new AtomicReference<>();
    private final AtomicReference<EmbeddedKafkaBroker> broker = new AtomicReference<>();
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
