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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The soak of issue 11, on the local multi-process cluster ({@code docker/local/cluster.sh}):
 * steady load with 1% hostile events, one TaskManager killed with SIGKILL (and replaced) every few
 * minutes, for a given time; then zero lost, zero duplicated (every id exactly once under
 * read_committed), TaskManager heap flat, no restart loop. Not part of any build or CI stage
 * (it lives under {@code e2e/cluster}, which surefire excludes, and skips itself unless
 * {@code qsparse.soak.minutes} is set). The 30-minute run (see docker/README.md):
 * <pre>
 * mvn -B -ntp -DskipTests -pl jobs -am package
 * mvn -B -ntp -pl tests -am verify -Dtest=StandaloneClusterSoakTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dqsparse.soak.minutes=30 -Dqsparse.soak.kill-every-minutes=5 -Dqsparse.soak.rate=40
 * </pre>
 * Settings: {@code qsparse.soak.minutes} (load duration), {@code qsparse.soak.kill-every-minutes}
 * (5), {@code qsparse.soak.rate} (events per second, 40), {@code qsparse.soak.mode} (embed).
 */
class StandaloneClusterSoakTest {

    private static final int PARALLELISM = 4;
    private static final Path MODEL = LocalCluster.ROOT.resolve("model-runtime/src/test/resources/test-model");
    /** Heap used by the surviving TaskManager may grow by at most this factor (plus 64 MB) from the first window to the last. */
    private static final double HEAP_GROWTH = 1.5;

    private final long started = System.nanoTime();

    /** The hostile 1%: each names its id inside the payload, so its dead letter can be matched. */
    static byte[] hostile(String id, int kind) {
        String head = "{\"id\":\"" + id + "\",";
        return switch (kind % 6) {
            case 0 -> { // the stopper of issue 11: a huge invalid-UTF-8 text
                byte[] junk = new byte[600 * 1024];
                Arrays.fill(junk, (byte) 0xFF);
                byte[] h = (head + "\"text\":\"").getBytes(StandardCharsets.UTF_8);
                byte[] b = Arrays.copyOf(h, h.length + junk.length);
                System.arraycopy(junk, 0, b, h.length, junk.length);
                yield b;
            }
            case 1 ->
                (head + "\"text\":\"hi\",\"mode\":\"generate\",\"params\":{\"temperature\":1e-300}}")
                        .getBytes(StandardCharsets.UTF_8);
            case 2 -> (head + "\"text\":\"\"}").getBytes(StandardCharsets.UTF_8);
            case 3 -> (head + "\"text\":\"cut").getBytes(StandardCharsets.UTF_8);
            case 4 ->
                (head + "\"text\":\"hi\",\"params\":{\"max_new_tokens\":100000}}").getBytes(StandardCharsets.UTF_8);
            default -> (head + "\"text\":\"a\",\"mode\":\"summarize\"}").getBytes(StandardCharsets.UTF_8);
        };
    }

    @Test
    void soak() throws Exception {
        String minutesProperty = System.getProperty("qsparse.soak.minutes");
        assumeTrue(minutesProperty != null, "the soak runs only with -Dqsparse.soak.minutes=N");
        assumeTrue(Files.isReadable(Path.of("/proc/self/maps")), "needs Linux");
        String mvn = StandaloneClusterFailoverTest.findMaven();
        assumeTrue(mvn != null, "needs Maven");
        double minutes = Double.parseDouble(minutesProperty);
        double killEvery = Double.parseDouble(System.getProperty("qsparse.soak.kill-every-minutes", "5"));
        int rate = Integer.getInteger("qsparse.soak.rate", 40);
        String mode = System.getProperty("qsparse.soak.mode", "embed");
        assumeTrue(minutes * 60 * rate < 99_000, "ids have five digits: lower the rate or the duration");

        String run = UUID.randomUUID().toString().substring(0, 8);
        String in = "in-" + run;
        String out = "out-" + run;
        String dlq = "dlq-" + run;
        List<String> texts = DemoEvents.readTexts(LocalCluster.ROOT.resolve("models/data/events.txt"));
        List<DemoEvents.Event> sent = Collections.synchronizedList(new ArrayList<>());

        try (LocalCluster cluster = new LocalCluster(
                Path.of("target/soak-work"),
                mvn,
                StandaloneClusterFailoverTest.freePort("Kafka"),
                StandaloneClusterFailoverTest.freePort("Kafka controller"),
                StandaloneClusterFailoverTest.freePort("Flink RPC"),
                StandaloneClusterFailoverTest.freePort("Flink REST"))) {
            cluster.script(Duration.ofMinutes(4), "start");
            KafkaTopics.create(cluster.bootstrapServers(), Map.of(in, PARALLELISM, out, 2, dlq, 1));
            String job = cluster.script(
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
                            mode,
                            "--parallelism",
                            String.valueOf(PARALLELISM),
                            "--checkpoint-interval",
                            "PT2S",
                            "--max-batch-size",
                            "8",
                            "--set",
                            "qsparse.generate.max-new-tokens=4")
                    .lines()
                    .reduce((a, b) -> b)
                    .orElseThrow()
                    .strip();
            log("job " + job + " submitted; " + minutes + " min at " + rate + " events/s, 1% hostile, a TaskManager"
                    + " killed every " + killEvery + " min");
            StandaloneClusterFailoverTest.await(
                    Duration.ofMinutes(2),
                    "all subtasks running",
                    () -> StandaloneClusterFailoverTest.runningByTaskManager(cluster, job).values().stream()
                                    .mapToInt(Integer::intValue)
                                    .sum()
                            == PARALLELISM);

            // Steady load on its own thread.
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> producerError = new AtomicReference<>();
            Thread producer = new Thread(
                    () -> {
                        Properties p = EventProducers.properties(cluster.bootstrapServers());
                        try (KafkaProducer<byte[], byte[]> kp =
                                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                            int i = 0;
                            while (!stop.get()) {
                                long second = System.nanoTime();
                                for (int k = 0; k < rate; k++, i++) {
                                    boolean bad = i % 100 == 99;
                                    String id = String.format(Locale.ROOT, bad ? "bad-%05d" : "evt-%05d", i);
                                    byte[] payload = bad
                                            ? hostile(id, i / 100)
                                            : ("{\"id\":\"" + id + "\",\"text\":"
                                                            + TestText.quote(texts.get(i % texts.size())) + "}")
                                                    .getBytes(StandardCharsets.UTF_8);
                                    kp.send(new ProducerRecord<>(in, payload));
                                    sent.add(new DemoEvents.Event(
                                            id, new byte[0], bad)); // ids only: the payloads are not kept
                                }
                                kp.flush();
                                long left = 1_000_000_000L - (System.nanoTime() - second);
                                if (left > 0) {
                                    Thread.sleep(left / 1_000_000);
                                }
                            }
                        } catch (Throwable t) {
                            producerError.set(t);
                        }
                    },
                    "soak-producer");
            producer.setDaemon(true);
            producer.start();

            // Kill the highest TaskManager every killEvery minutes; taskmanager-1 always survives and is watched.
            List<Long> heapSamples = Collections.synchronizedList(new ArrayList<>());
            long end = System.nanoTime() + (long) (minutes * 60e9);
            long nextKill = System.nanoTime() + (long) (killEvery * 60e9);
            int victim = 2;
            int kills = 0;
            while (System.nanoTime() < end) {
                heapSamples.add(heapUsed(cluster, "taskmanager-1"));
                if (System.nanoTime() >= nextKill) {
                    long pid = cluster.pid("taskmanager-" + victim);
                    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
                    ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
                    kills++;
                    victim++;
                    cluster.script(Duration.ofMinutes(1), "taskmanager", String.valueOf(victim));
                    log("SIGKILL #" + kills + ": taskmanager-" + (victim - 1) + " (pid " + pid
                            + "), replaced by taskmanager-" + victim + "; " + sent.size() + " events sent");
                    nextKill += (long) (killEvery * 60e9);
                }
                Thread.sleep(10_000);
            }
            stop.set(true);
            producer.join(60_000);
            assertTrue(producerError.get() == null, () -> "producer failed: " + producerError.get());
            log(sent.size() + " events sent; waiting for all of them to be committed");

            List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readUntil(
                    cluster.bootstrapServers(),
                    List.of(out, dlq),
                    Duration.ofMinutes(5),
                    rs -> rs.size() >= sent.size());
            List<ConsumerRecord<byte[], byte[]>> settled = TopicReader.readUntil(
                    cluster.bootstrapServers(), List.of(out, dlq), Duration.ofSeconds(10), rs -> false);
            Pipeline.Outcome outcome = new Pipeline.Outcome(out, settled.size() >= records.size() ? settled : records);
            int restarts = cluster.rest("/jobs/" + job + "/metrics?get=numRestarts")
                    .path(0)
                    .path("value")
                    .asInt(-1);
            String state = cluster.rest("/jobs/" + job).path("state").asText();
            log("read_committed: " + outcome.enriched.size() + " enriched + " + outcome.deadLetters.size()
                    + " dead letters for " + sent.size() + " events; " + kills + " kills, " + restarts
                    + " restarts, job " + state + "; heap of taskmanager-1 (MB): "
                    + heapSamples.stream().map(b -> b / (1 << 20)).toList());
            cluster.cancel(job);

            EndToEndTest.assertExactlyOnce(new ArrayList<>(sent), outcome);
            long hostileCount =
                    sent.stream().filter(DemoEvents.Event::malformed).count();
            assertEquals(hostileCount, outcome.deadLetters.size(), "each hostile event is one dead letter");
            assertEquals("RUNNING", state, "the job is still running: no restart loop gave up");
            assertTrue(
                    restarts >= 0 && restarts <= 3 * Math.max(1, kills),
                    "restarts " + restarts + " for " + kills + " kills: a restart loop");
            int window = Math.max(1, heapSamples.size() / 6);
            double first = heapSamples.subList(0, window).stream()
                    .mapToLong(Long::longValue)
                    .average()
                    .orElse(0);
            double last = heapSamples.subList(heapSamples.size() - window, heapSamples.size()).stream()
                    .mapToLong(Long::longValue)
                    .average()
                    .orElse(0);
            assertTrue(
                    last <= HEAP_GROWTH * first + 64 * (1 << 20),
                    String.format(
                            Locale.ROOT,
                            "heap of taskmanager-1 grew from %.0f MB to %.0f MB",
                            first / (1 << 20),
                            last / (1 << 20)));
        }
    }

    /**
     * Heap used (bytes) of a TaskManager process, read with the JDK's {@code jstat -gc} on its pid
     * (survivor + eden + old used). The REST API's {@code Status.JVM.Memory.Heap.Used} is not used:
     * in a 30-minute run its value for taskmanager-1 stopped changing after the first kill (a
     * cached metric), which would have made any heap trend invisible. Falls back to it when jstat
     * is missing.
     */
    private static long heapUsed(LocalCluster cluster, String taskManager) throws Exception {
        Path jstat = Path.of(System.getProperty("java.home"), "bin", "jstat");
        if (Files.isExecutable(jstat)) {
            Process p = new ProcessBuilder(jstat.toString(), "-gc", Long.toString(cluster.pid(taskManager)))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() == 0) {
                String[] lines = out.strip().split("\\R");
                if (lines.length >= 2) {
                    List<String> names = Arrays.asList(lines[0].strip().split("\\s+"));
                    String[] values = lines[1].strip().split("\\s+");
                    double kb = 0;
                    for (String column : List.of("S0U", "S1U", "EU", "OU")) {
                        kb += Double.parseDouble(values[names.indexOf(column)]);
                    }
                    return (long) (kb * 1024);
                }
            }
        }
        JsonNode m = cluster.rest("/taskmanagers/" + taskManager + "/metrics?get=Status.JVM.Memory.Heap.Used");
        return m.path(0).path("value").asLong(0);
    }

    /** JSON string literal of a text. */
    static final class TestText {
        static String quote(String s) {
            try {
                return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private void log(String message) {
        System.out.printf(Locale.ROOT, "[soak +%6.1fs] %s%n", (System.nanoTime() - started) / 1e9, message);
    }
}
