package dev.qsparse.e2e.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.e2e.EndToEndTest;
import dev.qsparse.e2e.Pipeline;
import dev.qsparse.flink.DeadLetter;
import dev.qsparse.flink.ModelSwitch;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EventProducers;
import dev.qsparse.jobs.kafka.KafkaTopics;
import dev.qsparse.jobs.kafka.TopicReader;
import dev.qsparse.runtime.model.RandomModels;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * New model versions rolled in mid-stream on the real multi-process cluster
 * ({@code docker/local/cluster.sh}), with a TaskManager process killed (SIGKILL) during each switch.
 * The enrichment job runs with {@code --control-topic} at parallelism 4 over two TaskManagers.
 *
 * <ol>
 *   <li>A switch to a directory that holds no model is refused (a {@code model-switch} dead letter
 *       per subtask) and v1 keeps serving.
 *   <li>v1 -> v2: taskmanager-2 is killed as soon as one of its subtasks has loaded v2, before the
 *       barrier of the checkpoint that carries the switch; the job restores v1 from an earlier
 *       checkpoint and reads the switch again. The spare taskmanager-3 takes over.
 *   <li>v2 -> v3: taskmanager-3 is killed as soon as one of its subtasks takes that barrier, around
 *       the checkpoint's completion (it may complete just before the kill, or never). The spare
 *       taskmanager-4 takes over.
 * </ol>
 *
 * Read back with read_committed: every id exactly once, and in every input partition, in offset
 * order, v1 ... v1 v2 ... v2 v3 ... v3. The three versions are models of different widths, so each
 * output's embedding shows which version really answered it.
 *
 * <p>Not part of the default {@code mvn verify} (about a minute and a half); CI's last stage runs it:
 * {@code mvn -pl tests -am verify -Dtest=StandaloneClusterModelSwitchTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("cluster")
class StandaloneClusterModelSwitchTest {

    private static final int PARTITIONS = 4;
    private static final int PARALLELISM = 4;
    /** Events per slice, a slice every {@link #SLICE_INTERVAL}: about 100 events a second. */
    private static final int SLICE = 20;

    private static final Duration SLICE_INTERVAL = Duration.ofMillis(200);
    /** A bound on the whole stream, should recovery never come (the test then fails on its waits). */
    private static final int MAX_EVENTS = 20_000;
    /** Produced after the last recovery, so that the restarted job has a stream to serve with v3. */
    private static final Duration PRODUCE_AFTER_RECOVERY = Duration.ofSeconds(3);

    private static final Path TEST_MODEL = LocalCluster.ROOT.resolve("model-runtime/src/test/resources/test-model");
    /** The versions in the order they are rolled in. */
    private static final List<String> VERSIONS = List.of("v1", "v2", "v3");
    /** Each version's width, the length of its embeddings (v1: the test model's config.json). */
    private static final Map<String, Integer> WIDTHS = Map.of("v1", 48, "v2", 64, "v3", 32);

    private static final String WEIGHTS = "model.safetensors";
    /** ModelVersionTagger's log line (a format: new version, old version) once a new version is loaded and pending. */
    private static final String LOADED_PENDING = "model version %s \\(.*\\) loaded and checked";
    /** ModelVersionTagger's log line (a format) when the barrier of checkpoint N makes the new version serve. */
    private static final String SWITCH_AT_BARRIER =
            "model version %s \\(.*\\) replaces %s \\(.*\\) after the barrier of checkpoint (\\d+)";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final long started = System.nanoTime();

    @Test
    @Timeout(value = 7, unit = TimeUnit.MINUTES)
    void aSwitchInterruptedByATaskManagerKillKeepsEveryIdOnceAndEachPartitionOldThenNew() throws Exception {
        assumeTrue(
                System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")
                        && Files.isReadable(Path.of("/proc/self/maps")),
                "the local cluster test needs Linux and /proc");
        for (String tool : List.of("bash", "curl", "setsid")) {
            assumeTrue(
                    StandaloneClusterFailoverTest.onPath(tool) != null,
                    tool + " is not on PATH: docker/local/cluster.sh needs it; skipping the local cluster test");
        }
        String mvn = StandaloneClusterFailoverTest.findMaven();
        assumeTrue(mvn != null, "Maven (mvn) not found: docker/local/cluster.sh needs it; skipping");
        for (String jar : List.of("qsparse-enrichment-job.jar", "jobs-0.1.0-SNAPSHOT.jar")) {
            assertTrue(
                    Files.isRegularFile(LocalCluster.ROOT.resolve("jobs/target/" + jar)),
                    "jobs/target/" + jar + " is missing: build it with mvn -pl jobs -am package -DskipTests");
        }

        String run = UUID.randomUUID().toString().substring(0, 8);
        String in = "in-" + run;
        String out = "out-" + run;
        String dlq = "dlq-" + run;
        String control = "control-" + run;

        // Model directories every TaskManager can read: v1 (the test model), v2 and v3 (random
        // models of other widths with the same tokenizer), and one that holds no model.
        Path models = Path.of("target/model-switch-models", run).toAbsolutePath();
        Path v1 = copy(TEST_MODEL, models.resolve("embedder/v1"), "config.json", WEIGHTS, "tokenizer.json");
        Path v2 = randomModel(models.resolve("embedder/v2"), WIDTHS.get("v2"));
        Path v3 = randomModel(models.resolve("embedder/v3"), WIDTHS.get("v3"));
        Path notAModel = Files.createDirectories(models.resolve("embedder/not-a-model"));
        Files.writeString(notAModel.resolve("README.txt"), "no model here\n");

        List<String> texts = DemoEvents.readTexts(LocalCluster.ROOT.resolve("models/data/events.txt"));
        List<DemoEvents.Event> events = Collections.synchronizedList(new ArrayList<>());

        try (LocalCluster cluster = new LocalCluster(
                Path.of("target/cluster-work-switch"),
                mvn,
                StandaloneClusterFailoverTest.freePort("Kafka"),
                StandaloneClusterFailoverTest.freePort("Kafka controller"),
                StandaloneClusterFailoverTest.freePort("Flink RPC"),
                StandaloneClusterFailoverTest.freePort("Flink REST"))) {
            log("work dir (logs, pids, config): " + cluster.work);
            cluster.script(Duration.ofMinutes(4), "start");
            log("cluster up: Kafka broker, JobManager, 2 TaskManagers x 2 slots");
            String bootstrap = cluster.bootstrapServers();
            KafkaTopics.create(bootstrap, Map.of(in, PARTITIONS, out, 2, dlq, 1, control, 1));

            String submitted = cluster.script(
                    Duration.ofMinutes(3),
                    "submit",
                    "--input-topic",
                    in,
                    "--output-topic",
                    out,
                    "--dead-letter-topic",
                    dlq,
                    "--control-topic",
                    control,
                    "--group-id",
                    "g-" + run,
                    "--transactional-id-prefix",
                    "tx-" + run,
                    "--model",
                    v1.toString(),
                    "--mode",
                    "embed",
                    "--parallelism",
                    String.valueOf(PARALLELISM),
                    "--checkpoint-interval",
                    "PT1S",
                    "--max-batch-size",
                    "8");
            String job = submitted.lines().reduce((a, b) -> b).orElseThrow().strip();
            log("job " + job + " submitted with --control-topic " + control);
            StandaloneClusterFailoverTest.await(
                    Duration.ofMinutes(2), "every subtask running", () -> allRunning(cluster, job));

            AtomicBoolean stopProducing = new AtomicBoolean();
            AtomicReference<Throwable> producerError = new AtomicReference<>();
            Thread producer =
                    new Thread(() -> produce(bootstrap, in, texts, events, stopProducing, producerError), "producer");
            producer.setDaemon(true);
            producer.start();
            try (KafkaProducer<byte[], byte[]> switches = new KafkaProducer<>(
                    EventProducers.properties(bootstrap), new ByteArraySerializer(), new ByteArraySerializer())) {

                // A spare TaskManager, so that recovery does not wait for a JVM to start.
                cluster.script(Duration.ofMinutes(1), "taskmanager", "3");

                // A switch to a directory without a model: refused by every subtask, v1 keeps serving.
                publish(switches, control, ModelSwitch.toJson(notAModel.toString(), null));
                List<ConsumerRecord<byte[], byte[]>> atRefusal = TopicReader.readUntil(
                        bootstrap,
                        List.of(out, dlq),
                        Duration.ofSeconds(90),
                        rs -> refusals(rs, dlq).size() >= PARALLELISM);
                List<JsonNode> refusals = refusals(atRefusal, dlq);
                assertEquals(PARALLELISM, refusals.size(), () -> "model-switch dead letters: " + refusals);
                int committedAtRefusal = atRefusal.size() - refusals.size();
                List<JsonNode> afterRefusal =
                        enriched(bootstrap, out, Duration.ofSeconds(60), committedAtRefusal + 100);
                assertTrue(
                        afterRefusal.size() >= committedAtRefusal + 100, "the stream went on after the refused switch");
                assertEquals(
                        List.of("v1"),
                        afterRefusal.stream()
                                .map(e -> e.path("model_version").asText())
                                .distinct()
                                .toList(),
                        "v1 keeps serving after the refused switch");
                log("refused switch: " + refusals.size() + " model-switch dead letters; " + afterRefusal.size()
                        + " outputs committed, all v1");

                // v1 -> v2, taskmanager-2 killed as soon as one of its subtasks has loaded v2: before
                // the barrier of the checkpoint that carries the switch, so the job restores from an
                // earlier checkpoint, with v1, and reads the switch again.
                killDuringSwitch(cluster, job, switches, control, "v1", v2, "taskmanager-2", 3, LOADED_PENDING, events);
                cluster.script(Duration.ofMinutes(1), "taskmanager", "4");
                // Only once v2 serves (committed), else v3 would replace it while still pending.
                TopicReader.readUntil(
                        bootstrap, List.of(out), Duration.ofSeconds(60), rs -> countVersion(rs, "v2") >= 100);

                // v2 -> v3, taskmanager-3 (which took over) killed as soon as one of its subtasks takes the barrier
                // that makes v3 serve: the checkpoint may complete just before the kill or not at all.
                killDuringSwitch(
                        cluster, job, switches, control, "v2", v3, "taskmanager-3", 4, SWITCH_AT_BARRIER, events);

                Thread.sleep(PRODUCE_AFTER_RECOVERY.toMillis());
            } finally {
                stopProducing.set(true);
                producer.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertTrue(producerError.get() == null, () -> "producer failed: " + producerError.get());

            // Everything back with read_committed, then a little longer to catch duplicates.
            int expected = events.size() + PARALLELISM;
            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    bootstrap, List.of(out, dlq), Duration.ofMinutes(2), rs -> rs.size() >= expected);
            List<ConsumerRecord<byte[], byte[]>> settled =
                    TopicReader.readUntil(bootstrap, List.of(out, dlq), Duration.ofSeconds(4), rs -> false);
            if (settled.size() > records.size()) {
                records = settled;
            }
            cluster.cancel(job);

            List<ConsumerRecord<byte[], byte[]>> eventOutputs = new ArrayList<>();
            List<JsonNode> refusals = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                JsonNode node = JSON.readTree(r.value());
                if (r.topic().equals(dlq)
                        && DeadLetter.STAGE_MODEL_SWITCH.equals(
                                node.path("stage").asText())) {
                    refusals.add(node);
                } else {
                    eventOutputs.add(r);
                }
            }
            assertEquals(PARALLELISM, refusals.size(), () -> "the bad switch refused once per subtask: " + refusals);
            for (JsonNode d : refusals) {
                String reason = d.path("reason").asText();
                assertTrue(
                        reason.contains("version v1 keeps serving") && reason.contains("cannot load the model at"),
                        reason);
            }
            Pipeline.Outcome outcome = new Pipeline.Outcome(out, eventOutputs);
            log("read_committed: " + outcome.enriched.size() + " enriched + " + outcome.deadLetters.size()
                    + " dead letters + " + refusals.size() + " refused switches for " + events.size() + " events");
            assertEquals(events.size(), outcome.enriched.size(), () -> "dead letters: " + outcome.deadLetterReasons());
            EndToEndTest.assertExactlyOnce(events, outcome);

            // Each output answered by the model its version names (the embedding's width), and per
            // partition, in offset (= id) order, v1 ... v1 v2 ... v2 v3 ... v3.
            Map<Integer, TreeMap<Integer, String>> byPartition = new TreeMap<>();
            for (JsonNode e : outcome.enriched) {
                String version = e.path("model_version").asText();
                int width = e.path("embedding").size();
                assertEquals(
                        WIDTHS.get(version),
                        width,
                        () -> e.path("id").asText() + ": model_version " + version + " with an embedding of " + width);
                int n = Integer.parseInt(e.path("id").asText().substring(4));
                byPartition
                        .computeIfAbsent(n % PARTITIONS, k -> new TreeMap<>())
                        .put(n, version);
            }
            Map<Integer, Map<String, Integer>> firstByVersion = new TreeMap<>();
            for (Map.Entry<Integer, TreeMap<Integer, String>> partition : byPartition.entrySet()) {
                Map<String, Integer> first = new LinkedHashMap<>();
                int at = 0;
                for (Map.Entry<Integer, String> e : partition.getValue().entrySet()) {
                    int rank = VERSIONS.indexOf(e.getValue());
                    assertTrue(
                            rank >= at,
                            "partition " + partition.getKey() + ": evt " + e.getKey() + " answered by " + e.getValue()
                                    + " after " + VERSIONS.get(at) + " served (first of each version: " + first + ")");
                    at = rank;
                    first.putIfAbsent(e.getValue(), e.getKey());
                }
                assertEquals(
                        VERSIONS,
                        List.copyOf(first.keySet()),
                        "partition " + partition.getKey() + " answered by each version in turn: " + first);
                firstByVersion.put(partition.getKey(), first);
            }
            assertEquals(PARTITIONS, byPartition.size(), "outputs of every input partition");
            log("first event answered by each version, per input partition: " + firstByVersion);
        } finally {
            log("cluster stopped");
        }
    }

    /**
     * Publishes a switch from {@code from} to the model in {@code to} (its version: the directory's
     * name), SIGKILLs {@code victim} the moment its log shows {@code moment} for that version,
     * and waits for the job to recover on the spare TaskManager {@code spare} (started before).
     */
    private void killDuringSwitch(
            LocalCluster cluster,
            String job,
            KafkaProducer<byte[], byte[]> switches,
            String control,
            String from,
            Path to,
            String victim,
            int spare,
            String moment,
            List<DemoEvents.Event> events)
            throws Exception {
        String version = to.getFileName().toString();
        Pattern line = Pattern.compile(String.format(moment, Pattern.quote(version), Pattern.quote(from)));
        Path victimLog = cluster.work.resolve("logs/" + victim + ".log");
        long logFrom = Files.size(victimLog);
        int producedAtSwitch = events.size();
        long publishedNanos = System.nanoTime();
        publish(switches, control, ModelSwitch.toJson(to.toString(), null));
        Matcher seen = awaitLogLine(victimLog, logFrom, line, Duration.ofSeconds(60));
        long seenNanos = System.nanoTime();
        long pid = cluster.pid(victim);
        ProcessHandle process = ProcessHandle.of(pid).orElseThrow();
        long killedAt = System.currentTimeMillis();
        assertTrue(process.destroyForcibly(), "SIGKILL sent");
        long killedNanos = System.nanoTime();
        Map<String, Long> survivorMappings = mappedModels(cluster.pid("taskmanager-1"));
        process.onExit().get(30, TimeUnit.SECONDS);
        log(String.format(
                Locale.ROOT,
                "switch %s -> %s published after %d events; %.2f s later %s logged \"%s\"; SIGKILL %s (pid %d)"
                        + " %d ms after that line was read; mappings of %s in taskmanager-1 by version: %s (a"
                        + " released model's stay until a garbage collection)",
                from,
                version,
                producedAtSwitch,
                (seenNanos - publishedNanos) / 1e9,
                victim,
                seen.group(),
                victim,
                pid,
                (killedNanos - seenNanos) / 1_000_000,
                WEIGHTS,
                survivorMappings));
        StandaloneClusterFailoverTest.await(
                Duration.ofMinutes(2),
                "recovery (every subtask running, a checkpoint completed after the kill)",
                () -> allRunning(cluster, job)
                        && StandaloneClusterFailoverTest.lastCheckpointAck(cluster, job) > killedAt);
        // What the restarted subtasks serve at first: the version in the checkpoint they restored.
        Matcher restored = awaitLogLine(
                cluster.work.resolve("logs/taskmanager-" + spare + ".log"),
                0,
                Pattern.compile("Subtask \\d+ of \\d+ serves model version (\\S+)"),
                Duration.ofSeconds(10));
        int failures = cluster.rest("/jobs/" + job + "/exceptions?maxExceptions=20")
                .path("exceptionHistory")
                .path("entries")
                .size();
        log(String.format(
                Locale.ROOT,
                "recovered %.1f s after the kill, on the spare taskmanager-%d, which restored version %s; %d failure(s) recorded",
                (System.nanoTime() - killedNanos) / 1e9,
                spare,
                restored.group(1),
                failures));
        assertTrue(failures >= 1, "the job failed over after the kill");
    }

    /** Mappings of {@value #WEIGHTS} in process {@code pid}, counted by the name of the model directory. */
    private static Map<String, Long> mappedModels(long pid) throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/" + pid + "/maps"))) {
            return lines.filter(l -> l.endsWith("/" + WEIGHTS))
                    .map(l -> Path.of(l.substring(l.indexOf('/')))
                            .getParent()
                            .getFileName()
                            .toString())
                    .collect(Collectors.groupingBy(d -> d, TreeMap::new, Collectors.counting()));
        }
    }

    /** How many records of {@code records} carry {@code "model_version":"VERSION"}. */
    private static long countVersion(List<ConsumerRecord<byte[], byte[]>> records, String version) {
        String field = "\"model_version\":\"" + version + "\"";
        return records.stream()
                .filter(r -> new String(r.value(), StandardCharsets.UTF_8).contains(field))
                .count();
    }

    /**
     * Event i ({@code evt-0000i}) to partition i % PARTITIONS, so that within a partition offsets
     * follow ids, a slice every {@link #SLICE_INTERVAL} until told to stop.
     */
    private static void produce(
            String bootstrap,
            String topic,
            List<String> texts,
            List<DemoEvents.Event> events,
            AtomicBoolean stop,
            AtomicReference<Throwable> error) {
        Properties p = EventProducers.properties(bootstrap);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            int i = 0;
            while (!stop.get() && i < MAX_EVENTS) {
                List<DemoEvents.Event> slice = new ArrayList<>();
                for (int end = i + SLICE; i < end; i++) {
                    String id = String.format(Locale.ROOT, "evt-%05d", i);
                    byte[] payload = JSON.writeValueAsBytes(Map.of("id", id, "text", texts.get(i % texts.size())));
                    producer.send(new ProducerRecord<>(topic, i % PARTITIONS, null, payload));
                    slice.add(new DemoEvents.Event(id, payload, false));
                }
                producer.flush();
                events.addAll(slice);
                Thread.sleep(SLICE_INTERVAL.toMillis());
            }
        } catch (Throwable t) {
            error.set(t);
        }
    }

    private static void publish(KafkaProducer<byte[], byte[]> producer, String topic, String record) throws Exception {
        producer.send(new ProducerRecord<>(topic, record.getBytes(StandardCharsets.UTF_8)))
                .get();
    }

    /** The committed enriched records of {@code out}, read until there are {@code atLeast} or time runs out. */
    private static List<JsonNode> enriched(String bootstrap, String out, Duration timeout, int atLeast)
            throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r :
                TopicReader.readUntil(bootstrap, List.of(out), timeout, rs -> rs.size() >= atLeast)) {
            nodes.add(JSON.readTree(r.value()));
        }
        return nodes;
    }

    /** The model-switch dead letters among {@code records} (those of the dead-letter topic {@code dlq}). */
    private static List<JsonNode> refusals(List<ConsumerRecord<byte[], byte[]>> records, String dlq) {
        List<JsonNode> nodes = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            if (!r.topic().equals(dlq)) {
                continue;
            }
            try {
                JsonNode node = JSON.readTree(r.value());
                if (DeadLetter.STAGE_MODEL_SWITCH.equals(node.path("stage").asText())) {
                    nodes.add(node);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("dead letter is not JSON", e);
            }
        }
        return nodes;
    }

    /** Every vertex of the job RUNNING with all its subtasks (the control source has one). */
    private static boolean allRunning(LocalCluster cluster, String job) throws Exception {
        JsonNode details = cluster.rest("/jobs/" + job);
        if (!"RUNNING".equals(details.path("state").asText())) {
            return false;
        }
        for (JsonNode v : details.path("vertices")) {
            if (v.path("tasks").path("RUNNING").asInt() != v.path("parallelism").asInt()) {
                return false;
            }
        }
        return details.path("vertices").size() > 0;
    }

    /** Follows {@code file} from byte {@code from} until a line matches {@code pattern}. */
    private static Matcher awaitLogLine(Path file, long from, Pattern pattern, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long position = from;
        StringBuilder partial = new StringBuilder();
        while (System.nanoTime() < deadline) {
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                long length = f.length();
                if (length > position) {
                    byte[] chunk = new byte[(int) (length - position)];
                    f.seek(position);
                    f.readFully(chunk);
                    position = length;
                    partial.append(new String(chunk, StandardCharsets.UTF_8));
                    int end;
                    while ((end = partial.indexOf("\n")) >= 0) {
                        Matcher m = pattern.matcher(partial.substring(0, end));
                        partial.delete(0, end + 1);
                        if (m.find()) {
                            return m;
                        }
                    }
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no line matching /" + pattern + "/ in " + file + " within " + timeout);
    }

    /** A random model {@code width} wide (the test model's vocabulary, so its tokenizer fits). */
    private static Path randomModel(Path dir, int width) throws IOException {
        RandomModels.write(dir, new RandomModels.Shape(1000, width, 4, 2, 2 * width, 128), width);
        Files.copy(TEST_MODEL.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }

    private static Path copy(Path from, Path to, String... files) throws IOException {
        Files.createDirectories(to);
        for (String f : files) {
            Files.copy(from.resolve(f), to.resolve(f));
        }
        return to;
    }

    private void log(String message) {
        System.out.printf(Locale.ROOT, "[switch-test +%5.1fs] %s%n", (System.nanoTime() - started) / 1e9, message);
    }
}
