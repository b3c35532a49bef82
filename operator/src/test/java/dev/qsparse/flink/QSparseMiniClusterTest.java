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
                .map(e -> "E " + e.id)
                .returns(Types.STRING)
                .union(out.deadLetters().map(d -> "D " + d.id + " " + d.reason).returns(Types.STRING));

        List<String> collected = new ArrayList<>();
        String jobName = "qsparse-sharing-" + System.nanoTime();
        try (CloseableIterator<String> it = ids.executeAndCollect(jobName)) {
            it.forEachRemaining(collected::add);
        }

        // Exactly once: every id out once, on one side or the other.
        assertEquals(total, collected.size(), "enriched + dead-lettered = received");
        Map<String, Integer> seen = new HashMap<>();
        int deadLetters = 0;
        for (String line : collected) {
            String[] parts = line.split(" ", 3);
            if (parts[0].equals("D")) {
                deadLetters++;
                if (!parts[1].equals("null")) {
                    seen.merge(parts[1], 1, Integer::sum);
                }
            } else {
                seen.merge(parts[1], 1, Integer::sum);
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
        assertEquals(bad, sumCounters(metrics, "deadLetters"));
        assertEquals(total - bad, sumHistogramCounts(metrics, "eventLatencyUs"));
        long batches = sumHistogramCounts(metrics, "batchSize");
        assertEquals(batches, sumHistogramCounts(metrics, "batchLatencyUs"));
        assertTrue(batches >= (total - bad) / 8 && batches <= total - bad, "batches: " + batches);
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
