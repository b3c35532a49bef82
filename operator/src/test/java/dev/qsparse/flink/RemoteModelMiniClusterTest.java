package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
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
 * A model at a remote location ({@link LocalBackedFileSystem}'s scheme, through Flink's
 * FileSystem factory lookup) served by a job on a mini cluster of one task manager with two slots:
 * copied once into the task manager's cache for both tasks, served from the cache by the next job,
 * and a corrupted copy refused at open naming the file.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RemoteModelMiniClusterTest {

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

    private static StreamExecutionEnvironment env(int parallelism) {
        Configuration conf = new Configuration();
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        return env;
    }

    private static QSparseEnrichment.Builder builder(String model, Path cache) {
        Configuration c = new Configuration();
        c.set(QSparseOptions.MODEL_CACHE_DIR, cache.toString());
        return QSparseEnrichment.builder()
                .configuration(c)
                .modelPath(model)
                .maxBatchSize(8)
                .maxWait(Duration.ofMillis(5));
    }

    /** Runs {@code total} events through two tasks; returns the ids out and the job's qsparse metrics. */
    private static Map<String, Metric> run(String model, Path cache, int total, List<String> ids) throws Exception {
        StreamExecutionEnvironment env = env(2);
        DataStream<byte[]> events = env.fromSource(
                        new DataGeneratorSource<>(i -> TestEvents.event(i.intValue()), total, QSparseEnrichment.BYTES),
                        WatermarkStrategy.noWatermarks(),
                        "events")
                .setParallelism(1)
                .rebalance();
        QSparseEnrichment.Streams out = builder(model, cache).build().apply(events);
        String job = "qsparse-remote-" + System.nanoTime();
        try (CloseableIterator<String> it = out.enriched()
                .map(e -> e.id + " " + e.modelVersion)
                .returns(Types.STRING)
                .executeAndCollect(job)) {
            it.forEachRemaining(ids::add);
        }
        Map<String, Metric> metrics = new HashMap<>();
        CollectingReporter.METRICS.forEach((k, v) -> {
            if (k.contains(job) && k.contains(".qsparse.")) {
                metrics.put(k, v);
            }
        });
        return metrics;
    }

    private static List<Metric> byName(Map<String, Metric> metrics, String name) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().endsWith(".qsparse." + name))
                .map(Map.Entry::getValue)
                .toList();
    }

    private static long bytesFetched(Map<String, Metric> metrics) {
        List<Metric> found = byName(metrics, OperatorMetrics.MODEL_BYTES_FETCHED);
        assertEquals(2, found.size(), "one per subtask");
        return found.stream().mapToLong(m -> ((Counter) m).getCount()).sum();
    }

    @Test
    void tasksShareOneCopyOfARemoteModelAndTheNextJobFindsItCached(@TempDir Path tmp) throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/embedder/v7"), "v7");
        String uri = LocalBackedFileSystem.uriOf(src);
        Path cache = tmp.resolve("cache");
        int opensBefore = LocalBackedFileSystem.opens("model.safetensors");
        long loadsBefore = SharedModels.loadCount();
        int total = 60;

        List<String> ids = new ArrayList<>();
        Map<String, Metric> metrics = run(uri, cache, total, ids);
        assertEquals(total, ids.size());
        assertEquals(total, new HashSet<>(ids).size(), "every id once");
        assertTrue(ids.stream().allMatch(line -> line.endsWith(" v7")), "the manifest's version on every record");
        assertEquals(RemoteModels.size(src), bytesFetched(metrics), "copied once for the two tasks");
        assertEquals(opensBefore + 1, LocalBackedFileSystem.opens("model.safetensors"));
        assertEquals(loadsBefore + 1, SharedModels.loadCount(), "loaded once for the two tasks");
        assertEquals(1, new ModelCache(cache, 1L << 30).entries().size());
        List<Metric> loadTimes = byName(metrics, OperatorMetrics.MODEL_LOAD_TIME_MS);
        assertEquals(2, loadTimes.size());
        for (Metric m : loadTimes) {
            assertTrue(((Number) ((Gauge<?>) m).getValue()).longValue() >= 0);
        }
        assertEquals(0, SharedModels.references(uri), "released after the job");

        // The next job (a restart would do the same) finds the copy: nothing fetched.
        List<String> again = new ArrayList<>();
        assertEquals(0, bytesFetched(run(uri, cache, 10, again)));
        assertEquals(10, again.size());
        assertEquals(opensBefore + 1, LocalBackedFileSystem.opens("model.safetensors"));
    }

    @Test
    void aCorruptedRemoteFileFailsTheTaskAtOpenNamingIt(@TempDir Path tmp) throws Exception {
        Path src = RemoteModels.copy(tmp.resolve("store/broken"), "v1");
        byte[] t = Files.readAllBytes(src.resolve("tokenizer.json"));
        t[10] ^= 1;
        Files.write(src.resolve("tokenizer.json"), t);
        String uri = LocalBackedFileSystem.uriOf(src);
        StreamExecutionEnvironment env = env(1);
        builder(uri, tmp.resolve("cache"))
                .build()
                .apply(env.fromData(QSparseEnrichment.BYTES, TestEvents.event(1)))
                .enriched()
                .map(e -> e.id)
                .returns(Types.STRING);
        Exception e = assertThrows(Exception.class, () -> env.execute("qsparse-corrupt-remote"));
        ModelUnavailableException cause = ExceptionUtils.findThrowable(e, ModelUnavailableException.class)
                .orElseThrow(() -> new AssertionError("no ModelUnavailableException in", e));
        assertTrue(cause.getMessage().startsWith("cannot load the Q-Sparse model at " + uri), cause.getMessage());
        assertTrue(cause.getMessage().contains(uri + "/tokenizer.json: SHA-256 "), cause.getMessage());
        assertEquals(Set.of(), Set.copyOf(new ModelCache(tmp.resolve("cache"), 1L << 30).entries()));
    }
}
