package dev.qsparse.jobs.demo;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * What the demo holds when a user presses Ctrl-C, in a JVM of its own ({@link DemoShutdownTest}
 * sends it SIGTERM): a Kafka broker in a temporary log directory and a running Flink job, both
 * handed to a {@link DemoShutdown}. Prints the log directory and then READY.
 */
public final class DemoShutdownMain {

    private DemoShutdownMain() {}

    public static void main(String[] args) throws Exception {
        DemoShutdown shutdown = new DemoShutdown();
        Path dir = Files.createTempDirectory("qsparse-demo-kafka");
        shutdown.broker(EmbeddedKafkaBroker.start(dir, 0, 0, true));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        env.fromSequence(0, Long.MAX_VALUE)
                .map(i -> {
                    Thread.sleep(10);
                    return i;
                })
                .sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync("demo shutdown test");
        shutdown.job(job);
        while (job.getJobStatus().get() != JobStatus.RUNNING) {
            Thread.sleep(50);
        }
        System.out.println(dir.toAbsolutePath());
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
