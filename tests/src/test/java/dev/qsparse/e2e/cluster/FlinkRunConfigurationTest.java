package dev.qsparse.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.e2e.Pipeline;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The job configured as a Flink user configures it: {@code flink run -Dqsparse.batch.max-size=32
 * JAR ...} (Flink's own CLI, {@code docker/local/cluster.sh flink run}) on the real multi-process
 * cluster, no {@code --max-batch-size} flag. With a backlog of events the operator's
 * {@code batchSize} metric, read over the JobManager's REST API, reaches 32, above the operator's
 * default of 16; so do the {@code batch_size} fields of the committed output.
 *
 * <p>Not part of the default {@code mvn verify} (about a minute and a half); it runs in the last
 * stage of {@code .ci/run} (see docker/README.md).
 */
@Tag("cluster")
class FlinkRunConfigurationTest {

    private static final int EVENTS = 600;
    private static final int BATCH = 32;
    private static final Path MODEL = LocalCluster.ROOT.resolve("model-runtime/src/test/resources/test-model");

    private final long started = System.nanoTime();

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void flinkRunDashDReachesTheOperator() throws Exception {
        assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"), "needs Linux");
        for (String tool : List.of("bash", "curl", "setsid")) {
            assumeTrue(StandaloneClusterFailoverTest.onPath(tool) != null, tool + " is not on PATH; skipping");
        }
        String mvn = StandaloneClusterFailoverTest.findMaven();
        assumeTrue(mvn != null, "Maven (mvn) not found: docker/local/cluster.sh needs it; skipping");
        Path jobJar = LocalCluster.ROOT.resolve("jobs/target/qsparse-enrichment-job.jar");
        for (String jar : List.of("qsparse-enrichment-job.jar", "jobs-0.1.0-SNAPSHOT.jar")) {
            assertTrue(
                    Files.isRegularFile(LocalCluster.ROOT.resolve("jobs/target/" + jar)),
                    "jobs/target/" + jar + " is missing: build it with mvn -pl jobs -am package -DskipTests");
        }
        assertTrue(
                BATCH > QSparseOptions.BATCH_MAX_SIZE.defaultValue(), "the configured size differs from the default");

        String run = UUID.randomUUID().toString().substring(0, 8);
        String in = "in-" + run;
        String out = "out-" + run;
        String dlq = "dlq-" + run;
        try (LocalCluster cluster = new LocalCluster(
                Path.of("target/cluster-work-config"),
                mvn,
                StandaloneClusterFailoverTest.freePort("Kafka"),
                StandaloneClusterFailoverTest.freePort("Kafka controller"),
                StandaloneClusterFailoverTest.freePort("Flink RPC"),
                StandaloneClusterFailoverTest.freePort("Flink REST"))) {
            log("work dir (logs, pids, config): " + cluster.work);
            cluster.script(Duration.ofMinutes(4), "start");
            log("cluster up");
            KafkaTopics.create(cluster.bootstrapServers(), Map.of(in, 1, out, 1, dlq, 1));
            // A backlog before the job starts, so that batches fill up to the configured size.
            log(cluster.script(Duration.ofMinutes(2), "produce", String.valueOf(EVENTS), in));

            String cli = cluster.script(
                    Duration.ofMinutes(3),
                    "flink",
                    "run",
                    "-d",
                    "-p",
                    "1",
                    "-D" + QSparseOptions.BATCH_MAX_SIZE.key() + "=" + BATCH,
                    jobJar.toString(),
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
                    "--checkpoint-interval",
                    "PT1S");
            Matcher m = Pattern.compile("JobID ([0-9a-f]{32})").matcher(cli);
            assertTrue(m.find(), "flink run printed no job id: " + cli);
            String job = m.group(1);
            log("flink run -D" + QSparseOptions.BATCH_MAX_SIZE.key() + "=" + BATCH + ": job " + job);

            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    cluster.bootstrapServers(), List.of(out, dlq), Duration.ofMinutes(3), rs -> rs.size() >= EVENTS);
            Pipeline.Outcome outcome = new Pipeline.Outcome(out, records);
            assertEquals(EVENTS, outcome.enriched.size(), "every event enriched");
            int maxInOutput = outcome.enriched.stream()
                    .mapToInt(e -> e.path("batch_size").asInt())
                    .max()
                    .orElse(0);

            // The operator's histogram over the REST API (the JobManager refreshes metrics every few seconds).
            AtomicReference<Map<String, String>> metrics = new AtomicReference<>(Map.of());
            StandaloneClusterFailoverTest.await(
                    Duration.ofMinutes(1), "the batchSize metric over all " + EVENTS + " events", () -> {
                        Map<String, String> v = qsparseMetrics(cluster, job, "batchSize_max", "eventsEnriched");
                        metrics.set(v);
                        return String.valueOf(EVENTS).equals(v.get("eventsEnriched"));
                    });
            log("REST metrics of the operator: " + metrics.get() + "; largest batch_size in the output: "
                    + maxInOutput);
            cluster.cancel(job);
            assertEquals(
                    Map.of("batchSize_max", String.valueOf(BATCH), "eventsEnriched", String.valueOf(EVENTS)),
                    metrics.get(),
                    "the operator ran with " + QSparseOptions.BATCH_MAX_SIZE.key() + "=" + BATCH);
            assertEquals(BATCH, maxInOutput);
        }
    }

    /** The named metrics of the qsparse operator (parallelism 1: one subtask), by short name. */
    private static Map<String, String> qsparseMetrics(LocalCluster cluster, String job, String... names)
            throws Exception {
        Map<String, String> values = new java.util.TreeMap<>();
        for (JsonNode v : cluster.rest("/jobs/" + job).path("vertices")) {
            String base = "/jobs/" + job + "/vertices/" + v.path("id").asText() + "/metrics";
            for (JsonNode metric : cluster.rest(base)) {
                String id = metric.path("id").asText();
                for (String name : names) {
                    if (id.endsWith(".qsparse." + name)) {
                        JsonNode value = cluster.rest(base + "?get="
                                + java.net.URLEncoder.encode(id, java.nio.charset.StandardCharsets.UTF_8));
                        values.put(name, value.path(0).path("value").asText());
                    }
                }
            }
        }
        return values;
    }

    private void log(String message) {
        System.out.printf(Locale.ROOT, "[flink-run-test +%5.1fs] %s%n", (System.nanoTime() - started) / 1e9, message);
    }
}
