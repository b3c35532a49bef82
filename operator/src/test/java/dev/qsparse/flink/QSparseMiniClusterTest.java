package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real jobs on a Flink mini cluster of one task manager with two slots, with a real metric
 * reporter: per-task-manager weight sharing, exactly-once output, metrics, and a model that cannot
 * be loaded.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QSparseMiniClusterTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .setConfiguration(reporterConfig())
            .build());

    private static Configuration reporterConfig() {
        Configuration c = new Configuration();
        c.setString("metrics.reporter.collect.factory.class", CollectingReporter.Factory.class.getName());
        return c;
    }

    /** What the job's first event saw, from inside the task manager, once both tasks were open. */
    static final AtomicInteger REFERENCES_SEEN = new AtomicInteger(-1);

    static final AtomicLong LOADS_SEEN = new AtomicLong(-1);
    static final AtomicLong MAPPINGS_SEEN = new AtomicLong(-1);

    /**
     * Events for the job. Event 0 first waits until both parallel enrichment tasks hold the model,
     * then records what the registry and {@code /proc/self/maps} say; every 10th event is bad.
     */
    static final class Events implements GeneratorFunction<Long, byte[]> {
        private static final long serialVersionUID = 1L;
        private final String modelDir;

        Events(String modelDir) {
            this.modelDir = modelDir;
        }

        @Override
        public byte[] map(Long i) throws Exception {
            if (i == 0) {
                Path dir = Path.of(modelDir);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (SharedModels.references(dir) < 2 && System.nanoTime() < deadline) {
                    TimeUnit.MILLISECONDS.sleep(5);
                }
                REFERENCES_SEEN.set(SharedModels.references(dir));
                LOADS_SEEN.set(SharedModels.loadCount());
                MAPPINGS_SEEN.set(mappings(dir.resolve("model.safetensors")));
            }
            int n = i.intValue();
            if (n % 10 == 9) {
                return TestEvents.utf8(n % 20 == 9 ? "{\"id\": \"e" + n + "\", \"text\": \"\"}" : "garbage " + n);
            }
            return TestEvents.event(n);
        }
    }

    /** Lines of this JVM's memory map that map {@code file}. */
    static long mappings(Path file) throws IOException {
        String name = file.toRealPath().toString();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(" " + name)).count();
        }
    }

    private static Path copyOfTestModel(Path dir) throws IOException {
        Path model = dir.resolve("shared-model");
        Files.createDirectories(model);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(TestEvents.MODEL.resolve(f), model.resolve(f));
        }
        return model;
    }

    private static StreamExecutionEnvironment env(int parallelism) {
        Configuration conf = new Configuration();
        conf.set(PipelineOptions.GENERIC_TYPES, false); // any Kryo fallback fails the job
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        return env;
    }

    @Test
    void outputTypesArePojosNotKryo() {
        assertInstanceOf(PojoTypeInfo.class, QSparseEnrichment.RESULT);
        assertInstanceOf(PojoTypeInfo.class, QSparseEnrichment.ENRICHED);
        assertInstanceOf(PojoTypeInfo.class, QSparseEnrichment.DEAD_LETTER);
    }

    @Test
    void twoTasksShareOneModelEveryEventComesOutOnceAndMetricsAddUp(@TempDir Path tmp) throws Exception {
        Path model = copyOfTestModel(tmp);
        Path weights = model.resolve("model.safetensors");
        int total = 300;
        int bad = total / 10;
        long loadsBefore = SharedModels.loadCount();
        long closesBefore = SharedModels.closeCount();
        assertEquals(0, mappings(weights));

        StreamExecutionEnvironment env = env(2);
        DataStream<byte[]> events = env.fromSource(
                        new DataGeneratorSource<>(new Events(model.toString()), total, QSparseEnrichment.BYTES),
                        WatermarkStrategy.noWatermarks(),
                        "events")
                .setParallelism(1)
                .rebalance();
        QSparseEnrichment.Streams out = QSparseEnrichment.builder()
                .modelPath(model.toString())
                .maxBatchSize(8)
                .maxWait(Duration.ofMillis(5))
                .build()
                .apply(events);
        DataStream<String> ids = out.enriched()
                .map(e -> "E " + e.id + " " + e.inputTokens)
                .returns(Types.STRING)
                .union(out.deadLetters().map(d -> "D " + d.id + " " + d.reason).returns(Types.STRING));

        List<String> collected = new ArrayList<>();
        String jobName = "qsparse-sharing-" + System.nanoTime();
        GaugeWatch watch = new GaugeWatch(jobName);
        FaultInjection.install(watch);
        try (CloseableIterator<String> it = ids.executeAndCollect(jobName)) {
            it.forEachRemaining(collected::add);
        } finally {
            FaultInjection.install(null);
        }

        // Exactly once: every id out once, on one side or the other.
        assertEquals(total, collected.size(), "enriched + dead-lettered = received");
        Map<String, Integer> seen = new HashMap<>();
        int deadLetters = 0;
        long inputTokens = 0;
        for (String line : collected) {
            String[] parts = line.split(" ", 3);
            if (parts[0].equals("D")) {
                deadLetters++;
                if (!parts[1].equals("null")) {
                    seen.merge(parts[1], 1, Integer::sum);
                }
            } else {
                seen.merge(parts[1], 1, Integer::sum);
                inputTokens += Integer.parseInt(parts[2]);
            }
        }
        assertEquals(bad, deadLetters);
        assertEquals(total - bad / 2, seen.size(), "ids of enriched events and of empty-text dead letters");
        seen.forEach((id, n) -> assertEquals(1, n, id));

        // One load, two references, one mapping of the weights while both tasks ran.
        assertEquals(2, REFERENCES_SEEN.get(), "both parallel tasks held the model");
        assertEquals(loadsBefore + 1, LOADS_SEEN.get(), "loaded once for two tasks");
        assertEquals(1, MAPPINGS_SEEN.get(), "one mapping of model.safetensors for two tasks");

        // Clean release after the job: no reference, the model closed, and the mapping goes away.
        assertEquals(0, SharedModels.references(model));
        assertEquals(loadsBefore + 1, SharedModels.loadCount());
        assertEquals(closesBefore + 1, SharedModels.closeCount());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (mappings(weights) > 0 && System.nanoTime() < deadline) {
            System.gc();
            TimeUnit.MILLISECONDS.sleep(50);
        }
        assertEquals(0, mappings(weights), "the weights are unmapped once nothing references them");

        // Metrics, read back through the reporter, summed over the two subtasks.
        Map<String, Metric> metrics = new HashMap<>();
        CollectingReporter.METRICS.forEach((k, v) -> {
            if (k.contains(jobName) && k.contains(".qsparse.")) {
                metrics.put(k, v);
            }
        });
        assertEquals(total, sumCounters(metrics, "eventsReceived"));
        assertEquals(total - bad, sumCounters(metrics, "eventsEnriched"));
        // Dead letters by stage (a label): garbage fails to parse, an empty text fails validation.
        assertEquals(bad / 2, sumCounters(metrics, "stage.parse.deadLetters"));
        assertEquals(bad / 2, sumCounters(metrics, "stage.validate.deadLetters"));
        for (String stage : List.of("decode", "inference", "timeout", "output")) {
            assertEquals(0, sumCounters(metrics, "stage." + stage + ".deadLetters"), stage + " registered at 0");
        }
        for (String id : metrics.keySet()) {
            if (id.endsWith(".deadLetters")) {
                String stage = CollectingReporter.VARIABLES.get(id).get("<" + OperatorMetrics.STAGE + ">");
                assertTrue(OperatorMetrics.STAGES.contains(stage), id + " has the stage label: " + stage);
            }
        }
        assertEquals(inputTokens, sumCounters(metrics, "inputTokens"), "input tokens of the enriched events");
        assertTrue(inputTokens >= total - bad, "at least one token per event: " + inputTokens);
        assertEquals(total - bad, sumHistogramCounts(metrics, "eventLatencyMs"));
        long batches = sumHistogramCounts(metrics, "batchSize");
        assertEquals(batches, sumHistogramCounts(metrics, "batchLatencyMs"));
        assertTrue(batches >= (total - bad) / 8 && batches <= total - bad, "batches: " + batches);
        // Milliseconds, with the resolution of a sub-millisecond batch: never all zeros.
        for (String name : List.of("batchLatencyMs", "eventLatencyMs")) {
            for (Metric m : byName(metrics, name)) {
                double mean = ((Histogram) m).getStatistics().getMean();
                assertTrue(mean > 0 && mean < 60_000, name + " mean " + mean + " ms");
            }
        }
        // The in-flight and queue gauges, read while batches ran (see GaugeWatch), and drained after.
        assertTrue(
                watch.maxInFlight.get() >= 1 && watch.maxInFlight.get() <= 2 * 8,
                "in flight: " + watch.maxInFlight.get());
        assertTrue(watch.queuedWhileBlocked.get() >= 1, "queued: " + watch.queuedWhileBlocked.get());
        for (String name : List.of("inFlightEvents", "queuedEvents")) {
            List<Metric> gauges = byName(metrics, name);
            assertEquals(2, gauges.size(), name);
            for (Metric m : gauges) {
                assertEquals(0, ((Gauge<?>) m).getValue(), name + " after the job");
            }
        }
        assertExportedNamesAreTheListedOnes(jobName);
        String expectedBackend;
        try (SharedModels.Lease lease = SharedModels.acquire(model)) {
            expectedBackend = OperatorMetrics.kernelBackend(lease.model());
        }
        assertTrue(Set.of("scalar", "vector-256", "vector-512").contains(expectedBackend), expectedBackend);
        // Backend names are labels (key/value groups), not string gauges a Prometheus reporter exports as 0.
        assertTrue(byName(metrics, "kernelBackend").isEmpty()
                && byName(metrics, "batchBackend").isEmpty());
        for (String key : List.of(OperatorMetrics.KERNEL_BACKEND, OperatorMetrics.BATCH_BACKEND)) {
            List<String> infos = metrics.keySet().stream()
                    .filter(k -> k.contains(".qsparse." + key + ".") && k.endsWith("." + OperatorMetrics.INFO))
                    .toList();
            assertEquals(2, infos.size(), "one per subtask: " + infos);
            for (String id : infos) {
                assertEquals(1, ((Gauge<?>) metrics.get(id)).getValue());
                String label = CollectingReporter.VARIABLES.get(id).get("<" + key + ">");
                if (key.equals(OperatorMetrics.KERNEL_BACKEND)) {
                    assertEquals(expectedBackend, label, id);
                } else {
                    assertTrue(label != null && !label.isBlank(), id);
                }
            }
        }
        for (Metric m : byName(metrics, "activationSparsity")) {
            double s = ((Number) ((Gauge<?>) m).getValue()).doubleValue();
            assertTrue(s > 0.3 && s < 0.7, "sparsity " + s);
        }
        assertEquals(2, byName(metrics, "eventsPerSecond").size());
        assertEquals(2, byName(metrics, "generatedTokensPerSecond").size());
    }

    @Test
    void aModelThatCannotBeLoadedFailsTheTaskAtOpenNamingThePath(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("no-such-model");
        StreamExecutionEnvironment env = env(1);
        QSparseEnrichment.builder()
                .modelPath(missing.toString())
                .build()
                .apply(env.fromData(QSparseEnrichment.BYTES, TestEvents.event(1)))
                .enriched()
                .map(e -> e.id)
                .returns(Types.STRING);
        Exception e = assertThrows(Exception.class, () -> env.execute("qsparse-missing-model"));
        ModelUnavailableException cause = ExceptionUtils.findThrowable(e, ModelUnavailableException.class)
                .orElseThrow(() -> new AssertionError("no ModelUnavailableException in", e));
        assertTrue(
                cause.getMessage().startsWith("cannot load the Q-Sparse model at " + missing.toAbsolutePath()),
                cause.getMessage());
        assertTrue(cause.getMessage().contains("model directory does not exist"), cause.getMessage());
        assertEquals(0, SharedModels.references(missing));
    }

    @Test
    void aCorruptModelFailsWithTheRuntimesReason(@TempDir Path tmp) throws Exception {
        Path model = copyOfTestModel(tmp);
        // Cut short, but still holding more bytes than the config's shapes need at 2 bits per weight
        // (a 3-byte file now fails earlier, at config.json's weight budget check).
        byte[] weights = Files.readAllBytes(model.resolve("model.safetensors"));
        Files.write(model.resolve("model.safetensors"), java.util.Arrays.copyOf(weights, weights.length / 2));
        StreamExecutionEnvironment env = env(1);
        QSparseEnrichment.builder()
                .modelPath(model.toString())
                .build()
                .applyOneAtATime(env.fromData(QSparseEnrichment.BYTES, TestEvents.event(1)))
                .enriched()
                .map(e -> e.id)
                .returns(Types.STRING);
        Exception e = assertThrows(Exception.class, () -> env.execute("qsparse-corrupt-model"));
        ModelUnavailableException cause = ExceptionUtils.findThrowable(e, ModelUnavailableException.class)
                .orElseThrow(() -> new AssertionError("no ModelUnavailableException in", e));
        assertTrue(cause.getMessage().contains(model.toString()), cause.getMessage());
        assertTrue(cause.getMessage().contains("truncated"), cause.getMessage());
    }

    /**
     * Reads the operator's gauges from inside the job (the hook runs on an inference thread of the
     * mini cluster, in this JVM): the largest {@code inFlightEvents} seen while a batch ran, and
     * {@code queuedEvents} of subtask 0 while its first batch is held until events queue behind it.
     */
    static final class GaugeWatch implements FaultInjection.Hook {
        final String jobName;
        final AtomicInteger maxInFlight = new AtomicInteger();
        final AtomicInteger queuedWhileBlocked = new AtomicInteger(-1);

        GaugeWatch(String jobName) {
            this.jobName = jobName;
        }

        private int gauge(String name, int subtask) {
            int value = 0;
            for (Map.Entry<String, Metric> e : CollectingReporter.METRICS.entrySet()) {
                String id = e.getKey();
                if (id.contains(jobName)
                        && id.endsWith(".qsparse." + name)
                        && String.valueOf(subtask)
                                .equals(CollectingReporter.VARIABLES.get(id).get("<subtask_index>"))) {
                    value = Math.max(value, ((Number) ((Gauge<?>) e.getValue()).getValue()).intValue());
                }
            }
            return value;
        }

        @Override
        public void at(FaultInjection.Point point, int subtask, int inFlight, int batchSize) throws Exception {
            if (point != FaultInjection.Point.INFERENCE_BATCH) {
                return;
            }
            maxInFlight.accumulateAndGet(gauge("inFlightEvents", subtask), Math::max);
            if (subtask == 0 && queuedWhileBlocked.compareAndSet(-1, 0)) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                int queued = 0;
                while (queued < 1 && System.nanoTime() < deadline) {
                    TimeUnit.MILLISECONDS.sleep(5);
                    queued = gauge("queuedEvents", 0);
                }
                queuedWhileBlocked.set(queued);
            }
        }
    }

    /**
     * The contract with the Grafana dashboard and the alert rules (docker/validate.py checks their
     * queries against the same file): the job's Prometheus names under the qsparse group are
     * exactly the listed ones, each of its kind and with its labels; the listed Flink metrics exist.
     */
    private static void assertExportedNamesAreTheListedOnes(String jobName) throws IOException {
        Map<String, String[]> listed = new HashMap<>();
        for (String line : Files.readAllLines(Path.of("src/test/resources/prometheus-metrics.txt"))) {
            String trimmed = line.strip();
            if (!trimmed.isEmpty() && !trimmed.startsWith("#")) {
                String[] fields = trimmed.split("\\s+");
                listed.put(fields[0], fields);
            }
        }
        Map<String, List<String>> reported = new HashMap<>();
        CollectingReporter.PROMETHEUS_NAMES.forEach((id, name) -> {
            if (id.contains(jobName)) {
                reported.computeIfAbsent(name, n -> new ArrayList<>()).add(id);
            }
        });
        Set<String> ours = new java.util.TreeSet<>();
        reported.keySet().stream()
                .filter(n -> n.startsWith("flink_taskmanager_job_task_operator_qsparse_"))
                .forEach(ours::add);
        Set<String> listedOurs = new java.util.TreeSet<>();
        listed.keySet().stream()
                .filter(n -> n.startsWith("flink_taskmanager_job_task_operator_qsparse_"))
                .forEach(listedOurs::add);
        assertEquals(listedOurs, ours, "the qsparse metrics a scrape shows = prometheus-metrics.txt");
        for (String[] entry : listed.values()) {
            List<String> ids = reported.get(entry[0]);
            assertTrue(ids != null, entry[0] + " is reported");
            for (String id : ids) {
                Metric m = CollectingReporter.METRICS.get(id);
                Class<?> kind = switch (entry[1]) {
                    case "counter" -> Counter.class;
                    case "gauge" -> Gauge.class;
                    case "histogram" -> Histogram.class;
                    case "meter" -> org.apache.flink.metrics.Meter.class;
                    default -> throw new AssertionError("unknown kind " + entry[1]);
                };
                assertInstanceOf(kind, m, id);
                for (int i = 2; i < entry.length; i++) {
                    assertTrue(
                            CollectingReporter.VARIABLES.get(id).containsKey("<" + entry[i] + ">"),
                            id + " has label " + entry[i]);
                }
            }
        }
    }

    private static List<Metric> byName(Map<String, Metric> metrics, String name) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().endsWith(".qsparse." + name))
                .map(Map.Entry::getValue)
                .toList();
    }

    private static long sumCounters(Map<String, Metric> metrics, String name) {
        List<Metric> found = byName(metrics, name);
        assertEquals(
                2,
                found.size(),
                () -> name + " per subtask in "
                        + CollectingReporter.METRICS.keySet().stream()
                                .filter(k -> k.contains("qsparse"))
                                .toList());
        return found.stream().mapToLong(m -> ((Counter) m).getCount()).sum();
    }

    private static long sumHistogramCounts(Map<String, Metric> metrics, String name) {
        List<Metric> found = byName(metrics, name);
        assertEquals(2, found.size(), name + " per subtask");
        return found.stream().mapToLong(m -> ((Histogram) m).getCount()).sum();
    }
}
