package dev.qsparse.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shipped SQL script ({@code sql/examples/enrichment.sql}) on the real multi-process cluster,
 * the way a Flink SQL user runs it: Flink's SQL gateway ({@code cluster.sh sql-gateway}) plans it
 * and submits the job. The session is first configured with the image's init file
 * ({@code docker/sql-init.sql}, as {@code sql-client.sh -i} does), whose {@code ADD JAR}s name
 * {@code sql/target/qsparse-sql.jar} and {@code sql/target/flink-sql-connector-kafka.jar} here:
 * neither is on any process's class path (the cluster has only what a Flink distribution's lib/
 * has). Only the script's two EDIT values (the Kafka address and the model path) are replaced. Kafka in, ML_PREDICT on the TaskManagers, the
 * exactly-once Kafka sink out. While events arrive, one TaskManager is killed with SIGKILL and a
 * replacement started: after recovery a {@code read_committed} consumer finds every input id
 * exactly once, an embedding for each text and the reason for each blank one.
 *
 * <p>Not part of the default {@code mvn verify}; it runs in the last stage of {@code .ci/run} (see
 * docker/README.md).
 */
@Tag("cluster")
class SqlEnrichmentScriptTest {

    private static final Path SCRIPT = LocalCluster.ROOT.resolve("sql/examples/enrichment.sql");
    private static final Path INIT = LocalCluster.ROOT.resolve("docker/sql-init.sql");
    private static final String IMAGE_SQL_DIR = "/opt/qsparse/sql/";
    private static final Path SQL_JAR = LocalCluster.ROOT.resolve("sql/target/qsparse-sql.jar");
    private static final Path KAFKA_SQL_JAR = LocalCluster.ROOT.resolve("sql/target/flink-sql-connector-kafka.jar");
    private static final Path MODEL = LocalCluster.ROOT.resolve("model-runtime/src/test/resources/test-model");
    private static final String INPUT = "qsparse-input";
    private static final String OUTPUT = "qsparse-enriched-sql";
    private static final int EVENTS = 600;
    private static final int BLANK = 8;
    private static final int BACKLOG = 200;
    private static final int HIDDEN_SIZE = 48; // the test model's config.json
    private static final Pattern EDIT = Pattern.compile("'([^']*)',\\s*-- EDIT");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final long started = System.nanoTime();

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void theShippedScriptRunsWithAddJarAndWritesEveryIdOnce() throws Exception {
        assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"), "needs Linux");
        for (String tool : List.of("bash", "curl", "setsid", "awk")) {
            assumeTrue(StandaloneClusterFailoverTest.onPath(tool) != null, tool + " is not on PATH; skipping");
        }
        String mvn = StandaloneClusterFailoverTest.findMaven();
        assumeTrue(mvn != null, "Maven (mvn) not found: docker/local/cluster.sh needs it; skipping");
        for (Path jar : List.of(
                SQL_JAR,
                KAFKA_SQL_JAR,
                LocalCluster.ROOT.resolve("jobs/target/qsparse-enrichment-job.jar"),
                LocalCluster.ROOT.resolve("jobs/target/jobs-0.1.0-SNAPSHOT.jar"))) {
            assertTrue(
                    Files.isRegularFile(jar),
                    LocalCluster.ROOT.relativize(jar) + " is missing: build it with mvn -pl sql,jobs -am package"
                            + " -DskipTests");
        }
        assertOnlyOwnPackages(SQL_JAR);

        List<DemoEvents.Event> events = new ArrayList<>(DemoEvents.build(
                DemoEvents.readTexts(LocalCluster.ROOT.resolve("models/data/events.txt")), EVENTS, 0, null, 29));
        // Rows the model cannot take: each must come out once, with its reason and no embedding.
        Set<String> blank = new HashSet<>();
        for (int i = 0; i < BLANK; i++) {
            String id = String.format(Locale.ROOT, "blank-%03d", i);
            blank.add(id);
            events.add(new DemoEvents.Event(
                    id, ("{\"id\":\"" + id + "\",\"text\":\"   \"}").getBytes(StandardCharsets.UTF_8), false));
        }

        try (LocalCluster cluster = new LocalCluster(
                Path.of("target/cluster-work-sql"),
                mvn,
                StandaloneClusterFailoverTest.freePort("Kafka"),
                StandaloneClusterFailoverTest.freePort("Kafka controller"),
                StandaloneClusterFailoverTest.freePort("Flink RPC"),
                StandaloneClusterFailoverTest.freePort("Flink REST"))) {
            cluster.sqlGatewayPort(StandaloneClusterFailoverTest.freePort("SQL gateway"));
            log("work dir (logs, pids, config): " + cluster.work);
            cluster.script(Duration.ofMinutes(4), "start");
            cluster.script(Duration.ofMinutes(3), "sql-gateway");
            log("cluster up: Kafka broker, JobManager, 2 TaskManagers x 2 slots, SQL gateway");
            KafkaTopics.create(cluster.bootstrapServers(), Map.of(INPUT, 4, OUTPUT, 2));

            Path init = cluster.work.resolve("init-run.sql");
            Files.writeString(init, localJars(Files.readString(INIT)));
            Path script = cluster.work.resolve("enrichment-run.sql");
            Files.writeString(script, runnable(Files.readString(SCRIPT), cluster.bootstrapServers()));
            String submitted = cluster.script(Duration.ofMinutes(3), "sql", "-i", init.toString(), script.toString());
            Matcher id = Pattern.compile("(?m)^([0-9a-f]{32})$").matcher(submitted);
            assertTrue(id.find(), "the script's INSERT submitted no job: " + submitted);
            String job = id.group(1);
            log("cluster.sh sql ran the script: job " + job);
            StandaloneClusterFailoverTest.await(
                    Duration.ofMinutes(2),
                    "the SQL job's 4 subtasks running",
                    () -> StandaloneClusterFailoverTest.runningByTaskManager(cluster, job).values().stream()
                                    .mapToInt(Integer::intValue)
                                    .sum()
                            == 4);
            assertEquals(
                    Map.of("taskmanager-1", 2, "taskmanager-2", 2),
                    StandaloneClusterFailoverTest.runningByTaskManager(cluster, job),
                    "two subtasks of the SQL job in each TaskManager");

            // A backlog, then the rest while the job runs; TaskManager 2 dies with rows committed
            // and events still arriving.
            AtomicInteger produced = new AtomicInteger();
            AtomicReference<Throwable> producerError = new AtomicReference<>();
            produce(cluster.bootstrapServers(), events.subList(0, BACKLOG), 0, produced, producerError);
            int committed = TopicReader.readUntil(
                            cluster.bootstrapServers(), List.of(OUTPUT), Duration.ofSeconds(90), rs -> rs.size() >= 50)
                    .size();
            assertTrue(committed >= 50, "only " + committed + " rows committed after 90 s");
            Thread producer = new Thread(
                    () -> produce(
                            cluster.bootstrapServers(),
                            events.subList(BACKLOG, events.size()),
                            500,
                            produced,
                            producerError),
                    "producer");
            producer.setDaemon(true);
            producer.start();
            StandaloneClusterFailoverTest.await(
                    Duration.ofSeconds(30), "events arriving", () -> produced.get() >= BACKLOG + 100);
            ProcessHandle victim =
                    ProcessHandle.of(cluster.pid("taskmanager-2")).orElseThrow();
            assertTrue(victim.destroyForcibly(), "SIGKILL sent");
            victim.onExit().get(30, TimeUnit.SECONDS);
            log("SIGKILL taskmanager-2 with " + committed + "+ rows committed, " + produced.get() + " of "
                    + events.size() + " events produced");
            assertTrue(producer.isAlive(), "events still arriving when the TaskManager died");
            cluster.script(Duration.ofMinutes(1), "taskmanager", "3");
            producer.join(TimeUnit.MINUTES.toMillis(1));
            assertTrue(producerError.get() == null, () -> "producer failed: " + producerError.get());
            assertEquals(events.size(), produced.get(), "every event produced");

            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    cluster.bootstrapServers(),
                    List.of(OUTPUT),
                    Duration.ofMinutes(3),
                    rs -> rs.size() >= events.size());
            // A little longer, to catch duplicates committed after the last expected row.
            List<ConsumerRecord<byte[], byte[]>> settled = TopicReader.readUntil(
                    cluster.bootstrapServers(), List.of(OUTPUT), Duration.ofSeconds(4), rs -> false);
            settled = settled.size() >= records.size() ? settled : records;
            Map<String, Integer> placement = StandaloneClusterFailoverTest.runningByTaskManager(cluster, job);
            int failures = cluster.rest("/jobs/" + job + "/exceptions?maxExceptions=20")
                    .path("exceptionHistory")
                    .path("entries")
                    .size();
            cluster.cancel(job);
            log("read_committed: " + settled.size() + " rows for " + events.size() + " events; " + failures
                    + " failure(s) recorded; subtasks per TaskManager " + placement);

            assertEquals(
                    Map.of("taskmanager-1", 2, "taskmanager-3", 2),
                    placement,
                    "the job recovered onto the survivor and the replacement, and still runs");
            assertTrue(failures > 0, "the kill is in the job's exception history");
            Map<String, JsonNode> byId = new HashMap<>();
            Map<String, Integer> duplicates = new TreeMap<>();
            for (ConsumerRecord<byte[], byte[]> r : settled) {
                JsonNode row = JSON.readTree(r.value());
                if (byId.put(row.path("id").asText(), row) != null) {
                    duplicates.merge(row.path("id").asText(), 2, (a, b) -> a + 1);
                }
            }
            assertEquals(Map.of(), duplicates, "ids written more than once");
            for (DemoEvents.Event e : events) {
                JsonNode row = byId.get(e.id());
                assertTrue(row != null, e.id() + " has no output row");
                if (blank.contains(e.id())) {
                    assertTrue(row.path("embedding").isNull(), "no embedding for a blank text: " + row);
                    assertFalse(row.path("error").asText("").isBlank(), "a reason for a blank text: " + row);
                } else {
                    assertTrue(row.path("error").isNull(), "no error: " + row);
                    assertEquals(
                            HIDDEN_SIZE, row.path("embedding").size(), "an embedding of the model's width: " + row);
                    assertTrue(row.path("input_tokens").asInt() > 0, row.toString());
                }
            }
            assertEquals(events.size(), byId.size(), "no row for an id that was not sent");
        } finally {
            log("cluster stopped");
        }
    }

    /**
     * The script with the session's jars added first and its two EDIT values (Kafka, model path)
     * replaced by this cluster's; everything else as shipped.
     */
    static String runnable(String script, String bootstrapServers) {
        Matcher m = EDIT.matcher(script);
        StringBuilder out = new StringBuilder();
        int edits = 0;
        while (m.find()) {
            String value = m.group(1);
            String replacement = value.startsWith("/") ? MODEL.toString() : bootstrapServers;
            m.appendReplacement(out, Matcher.quoteReplacement("'" + replacement + "',  -- EDIT"));
            edits++;
        }
        m.appendTail(out);
        assertEquals(3, edits, "the script marks two Kafka addresses and one model path EDIT");
        return out.toString();
    }

    /**
     * The image's init file ({@code docker/sql-init.sql}, run as {@code sql-client.sh -i}) with its
     * jars taken from {@code sql/target/}, where the build leaves them under the same names.
     */
    static String localJars(String init) {
        String local = init.replace(IMAGE_SQL_DIR, SQL_JAR.getParent() + "/");
        assertTrue(local.contains("ADD JAR '" + SQL_JAR + "'"), init);
        assertTrue(local.contains("ADD JAR '" + KAFKA_SQL_JAR + "'"), init);
        return local;
    }

    /**
     * The provider jar can sit in Flink's lib/ or beside other jars in a session: every class in it
     * is under dev/qsparse/ (Jackson relocated to dev.qsparse.sql.shaded), so it never shadows
     * another copy of a library, and the relocated Jackson is really there.
     */
    static void assertOnlyOwnPackages(Path jar) throws IOException {
        List<String> foreign = new ArrayList<>();
        boolean relocatedJackson = false;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                String name = e.getName();
                if (name.endsWith(".class") && !name.startsWith("dev/qsparse/")) {
                    foreign.add(name);
                }
                relocatedJackson |=
                        name.equals("dev/qsparse/sql/shaded/com/fasterxml/jackson/databind/ObjectMapper.class");
            }
        }
        assertEquals(
                List.of(), foreign.subList(0, Math.min(10, foreign.size())), "classes outside dev/qsparse/ in " + jar);
        assertTrue(relocatedJackson, "relocated Jackson in " + jar);
    }

    /** Sends the events, 20 at a time, {@code pauseMillis} apart (0: all at once). */
    private static void produce(
            String bootstrap,
            List<DemoEvents.Event> events,
            long pauseMillis,
            AtomicInteger produced,
            AtomicReference<Throwable> error) {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                EventProducers.properties(bootstrap), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < events.size(); i += 20) {
                for (DemoEvents.Event e : events.subList(i, Math.min(events.size(), i + 20))) {
                    producer.send(new ProducerRecord<>(INPUT, e.payload()));
                }
                producer.flush();
                produced.addAndGet(Math.min(events.size(), i + 20) - i);
                if (pauseMillis > 0) {
                    Thread.sleep(pauseMillis);
                }
            }
        } catch (Throwable t) {
            error.set(t);
        }
    }

    private void log(String message) {
        System.out.printf(Locale.ROOT, "[sql-cluster-test +%5.1fs] %s%n", (System.nanoTime() - started) / 1e9, message);
    }
}
