package dev.qsparse.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.e2e.EndToEndTest;
import dev.qsparse.e2e.Pipeline;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The exactly-once job on a real multi-process cluster ({@code docker/local/cluster.sh}): a Kafka
 * broker, a JobManager and two TaskManagers with two slots each, every one its own JVM. The job
 * runs at parallelism 4 across both TaskManagers; one TaskManager is killed with SIGKILL while
 * output is being committed, a replacement is started, and after recovery a read_committed
 * consumer finds every input id exactly once. While the job runs, each TaskManager process maps
 * the model's weights exactly once although it runs two of the job's subtasks.
 *
 * <p>Not part of the default {@code mvn verify} (it takes about two minutes): run it with
 * {@code mvn -pl tests verify -Dtest=StandaloneClusterFailoverTest} (see docker/README.md).
 */
@Tag("cluster")
class StandaloneClusterFailoverTest {

    private static final int EVENTS = 2400;
    private static final int MALFORMED = 48;
    private static final int PARALLELISM = 4;
    private static final String WEIGHTS = "model.safetensors";
    private static final Path MODEL = LocalCluster.ROOT.resolve("model-runtime/src/test/resources/test-model");

    private final long started = System.nanoTime();

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void everyIdExactlyOnceAfterATaskManagerIsKilled() throws Exception {
        assumeTrue(
                System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")
                        && Files.isReadable(Path.of("/proc/self/maps")),
                "the local cluster test needs Linux and /proc");
        for (String tool : List.of("bash", "curl", "setsid")) {
            assumeTrue(
                    onPath(tool) != null,
                    tool + " is not on PATH: docker/local/cluster.sh needs it; skipping the local cluster test");
        }
        String mvn = findMaven();
        assumeTrue(
                mvn != null,
                "Maven (mvn) not found on PATH or in MAVEN_HOME: docker/local/cluster.sh resolves"
                        + " Flink's class path with it; skipping the local cluster test");
        for (String jar : List.of("qsparse-enrichment-job.jar", "jobs-0.1.0-SNAPSHOT.jar")) {
            assertTrue(
                    Files.isRegularFile(LocalCluster.ROOT.resolve("jobs/target/" + jar)),
                    "jobs/target/" + jar + " is missing: build it with mvn -pl jobs -am package -DskipTests");
        }

        String run = UUID.randomUUID().toString().substring(0, 8);
        String in = "in-" + run;
        String out = "out-" + run;
        String dlq = "dlq-" + run;
        List<DemoEvents.Event> events = DemoEvents.build(
                DemoEvents.readTexts(LocalCluster.ROOT.resolve("models/data/events.txt")), EVENTS, MALFORMED, null, 11);

        try (LocalCluster cluster = new LocalCluster(
                Path.of("target/cluster-work"),
                mvn,
                freePort("Kafka"),
                freePort("Kafka controller"),
                freePort("Flink RPC"),
                freePort("Flink REST"))) {
            log("work dir (logs, pids, config): " + cluster.work);
            cluster.script(Duration.ofMinutes(4), "start");
            log("cluster up: Kafka broker, JobManager, 2 TaskManagers x 2 slots");
            KafkaTopics.create(cluster.bootstrapServers(), Map.of(in, PARALLELISM, out, 2, dlq, 1));

            String jobId = cluster.script(
                    Duration.ofMinutes(3),
                    "submit",
                    "--bootstrap-servers",
                    cluster.bootstrapServers(),
                    "--input-topic",
                    in,
                    "--output-topic",
                    out,
                    "--dead-letter-topic",
                    dlq,
                    "--group-id",
                    "g-" + run,
                    "--transactional-id-prefix",
                    "tx-" + run,
                    "--model",
                    MODEL.toString(),
                    "--mode",
                    "embed",
                    "--parallelism",
                    String.valueOf(PARALLELISM),
                    "--checkpoint-interval",
                    "PT1S",
                    "--max-batch-size",
                    "8");
            jobId = jobId.lines().reduce((a, b) -> b).orElseThrow().strip();
            final String job = jobId;
            log("job " + job + " submitted through the REST API");

            // All four subtasks running, two in each TaskManager.
            await(
                    Duration.ofMinutes(2),
                    "all " + PARALLELISM + " subtasks running",
                    () -> runningByTaskManager(cluster, job).values().stream()
                                    .mapToInt(Integer::intValue)
                                    .sum()
                            == PARALLELISM);
            Map<String, Integer> placement = runningByTaskManager(cluster, job);
            log("subtasks per TaskManager: " + placement);
            assertEquals(Map.of("taskmanager-1", 2, "taskmanager-2", 2), placement, "two subtasks in each TaskManager");

            AtomicInteger produced = new AtomicInteger();
            AtomicReference<Throwable> producerError = new AtomicReference<>();
            Thread producer = new Thread(
                    () -> produce(cluster.bootstrapServers(), in, events, produced, producerError), "producer");
            producer.setDaemon(true);
            producer.start();

            // Some output committed (read_committed), well before all of it.
            int committed = TopicReader.readUntil(
                            cluster.bootstrapServers(),
                            List.of(out, dlq),
                            Duration.ofSeconds(90),
                            rs -> rs.size() >= 300)
                    .size();
            assertTrue(committed >= 300, "only " + committed + " outputs committed after 90 s");

            // One mapping of the weights per TaskManager process, though each runs two subtasks.
            Map<String, Long> mapsBefore = new TreeMap<>();
            for (String tm : List.of("taskmanager-1", "taskmanager-2")) {
                mapsBefore.put(tm, LocalCluster.mappings(cluster.pid(tm), WEIGHTS));
            }
            log("mappings of " + WEIGHTS + " per TaskManager process: " + mapsBefore);
            assertEquals(
                    Map.of("taskmanager-1", 1L, "taskmanager-2", 1L),
                    mapsBefore,
                    "each TaskManager maps the weights once, not once per slot");

            // SIGKILL one TaskManager mid-run, then start a replacement.
            int producedAtKill = produced.get();
            long killedPid = cluster.pid("taskmanager-2");
            ProcessHandle victim = ProcessHandle.of(killedPid).orElseThrow();
            long killedAt = System.currentTimeMillis();
            long killedNanos = System.nanoTime();
            assertTrue(victim.destroyForcibly(), "SIGKILL sent");
            victim.onExit().get(30, TimeUnit.SECONDS);
            log("SIGKILL taskmanager-2 (pid " + killedPid + ") with " + committed + " of " + events.size()
                    + " outputs committed and " + producedAtKill + " events produced");
            assertTrue(committed < events.size(), "killed before all output was committed");

            cluster.script(Duration.ofMinutes(1), "taskmanager", "3");
            log("replacement taskmanager-3 started");

            // Recovered: all subtasks running again and a checkpoint completed after the kill.
            AtomicLong registered = new AtomicLong();
            AtomicLong running = new AtomicLong();
            await(
                    Duration.ofMinutes(2),
                    "recovery (all subtasks running, a checkpoint completed after the kill)",
                    () -> {
                        if (registered.get() == 0
                                && cluster.rest("/taskmanagers")
                                        .findValuesAsText("id")
                                        .contains("taskmanager-3")) {
                            registered.set(System.nanoTime());
                        }
                        boolean allRunning = runningByTaskManager(cluster, job).values().stream()
                                        .mapToInt(Integer::intValue)
                                        .sum()
                                == PARALLELISM;
                        if (allRunning && running.get() == 0) {
                            running.set(System.nanoTime());
                        }
                        return allRunning && lastCheckpointAck(cluster, job) > killedAt;
                    });
            double recoverySeconds = (System.nanoTime() - killedNanos) / 1e9;
            Map<String, Integer> placementAfter = runningByTaskManager(cluster, job);
            // The JobManager's REST metrics are a cache the metric fetcher refreshes every 10 s by
            // default: right after a fast recovery numRestarts may still read 0. Poll it a while.
            String restarts = "?";
            long metricDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            do {
                restarts = cluster.rest("/jobs/" + job + "/metrics?get=numRestarts")
                        .path(0)
                        .path("value")
                        .asText("?");
                if (restarts.matches("[1-9][0-9]*") || System.nanoTime() > metricDeadline) {
                    break;
                }
                Thread.sleep(1000);
            } while (true);
            JsonNode failures = cluster.rest("/jobs/" + job + "/exceptions?maxExceptions=20")
                    .path("exceptionHistory")
                    .path("entries");
            log(String.format(
                    Locale.ROOT,
                    "recovered %.1f s after the kill (replacement registered at %.1f s, all subtasks"
                            + " running at %.1f s, then the first checkpoint); %d failure(s) recorded, first: %s; restarts (numRestarts) %s;"
                            + " subtasks per TaskManager %s",
                    recoverySeconds,
                    (registered.get() - killedNanos) / 1e9,
                    (running.get() - killedNanos) / 1e9,
                    failures.size(),
                    failures.path(0)
                            .path("stacktrace")
                            .asText("-")
                            .lines()
                            .findFirst()
                            .orElse("-"),
                    restarts,
                    placementAfter));
            assertEquals(Map.of("taskmanager-1", 2, "taskmanager-3", 2), placementAfter, "the replacement took over");
            assertTrue(
                    restarts.matches("[1-9][0-9]*"),
                    "the job restarted after the loss (numRestarts " + restarts + " 30 s after recovery)");

            Map<String, Long> mapsAfter = new TreeMap<>();
            for (String tm : List.of("taskmanager-1", "taskmanager-3")) {
                mapsAfter.put(tm, LocalCluster.mappings(cluster.pid(tm), WEIGHTS));
            }
            log("mappings of " + WEIGHTS + " per TaskManager process after recovery: " + mapsAfter);

            producer.join(TimeUnit.MINUTES.toMillis(2));
            assertTrue(producerError.get() == null, () -> "producer failed: " + producerError.get());
            assertEquals(events.size(), produced.get(), "every event produced");

            // Read everything back with read_committed, then a little longer to catch duplicates.
            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    cluster.bootstrapServers(),
                    List.of(out, dlq),
                    Duration.ofMinutes(2),
                    rs -> rs.size() >= events.size());
            List<ConsumerRecord<byte[], byte[]>> settled = TopicReader.readUntil(
                    cluster.bootstrapServers(), List.of(out, dlq), Duration.ofSeconds(4), rs -> false);
            Pipeline.Outcome outcome = new Pipeline.Outcome(out, settled.size() >= records.size() ? settled : records);
            log("read_committed: " + outcome.enriched.size() + " enriched + " + outcome.deadLetters.size()
                    + " dead letters for " + events.size() + " input events");

            cluster.cancel(job);
            EndToEndTest.assertExactlyOnce(events, outcome);
            assertEquals(EVENTS, outcome.enriched.size());
            assertEquals(MALFORMED, outcome.deadLetters.size());
            assertTrue(
                    outcome.enriched.stream().allMatch(e -> e.path("embedding").size() > 0), "embeddings present");
            assertEquals(
                    Map.of("taskmanager-1", 1L, "taskmanager-3", 1L),
                    mapsAfter,
                    "after recovery each TaskManager still maps the weights once");
        } finally {
            log("cluster stopped");
        }
    }

    private static void produce(
            String bootstrap,
            String topic,
            List<DemoEvents.Event> events,
            AtomicInteger produced,
            AtomicReference<Throwable> error) {
        Properties p = EventProducers.properties(bootstrap);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            // About 100 events a second, so that the stream is still flowing when the TaskManager dies.
            for (int i = 0; i < events.size(); i += 100) {
                for (DemoEvents.Event e : events.subList(i, Math.min(events.size(), i + 100))) {
                    producer.send(new ProducerRecord<>(topic, e.payload()));
                }
                producer.flush();
                produced.set(Math.min(events.size(), i + 100));
                Thread.sleep(1000);
            }
        } catch (Throwable t) {
            error.set(t);
        }
    }

    /** RUNNING subtasks of the job per TaskManager id. */
    static Map<String, Integer> runningByTaskManager(LocalCluster cluster, String job) throws Exception {
        Map<String, Integer> running = new TreeMap<>();
        JsonNode details = cluster.rest("/jobs/" + job);
        if (!"RUNNING".equals(details.path("state").asText())) {
            return running;
        }
        for (JsonNode v : details.path("vertices")) {
            for (JsonNode tm : cluster.rest(
                            "/jobs/" + job + "/vertices/" + v.path("id").asText() + "/taskmanagers")
                    .path("taskmanagers")) {
                int n = tm.path("status-counts").path("RUNNING").asInt();
                if (n > 0) {
                    running.merge(tm.path("taskmanager-id").asText(), n, Integer::sum);
                }
            }
        }
        return running;
    }

    /** Wall-clock time the latest completed checkpoint was acknowledged, 0 if none. */
    static long lastCheckpointAck(LocalCluster cluster, String job) throws Exception {
        return cluster.rest("/jobs/" + job + "/checkpoints")
                .path("latest")
                .path("completed")
                .path("latest_ack_timestamp")
                .asLong(0);
    }

    static void await(Duration timeout, String what, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (condition.call()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("timed out after " + timeout + " waiting for " + what
                + (last == null ? "" : " (last error: " + last + ")"));
    }

    static int freePort(String what) throws Exception {
        return ClusterPorts.free(what);
    }

    static String findMaven() {
        for (String home :
                new String[] {System.getenv("MAVEN_HOME"), System.getenv("M2_HOME"), System.getProperty("maven.home")
                }) {
            if (home != null && Files.isExecutable(Path.of(home, "bin", "mvn"))) {
                return Path.of(home, "bin", "mvn").toString();
            }
        }
        return onPath("mvn");
    }

    static String onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    private void log(String message) {
        System.out.printf(Locale.ROOT, "[cluster-test +%5.1fs] %s%n", (System.nanoTime() - started) / 1e9, message);
    }
}
