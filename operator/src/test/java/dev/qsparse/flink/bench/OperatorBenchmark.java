package dev.qsparse.flink.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.QSparseEnrichment;
import dev.qsparse.runtime.inference.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * Throughput and per-event latency of the micro-batching operator, for several batch sizes at
 * parallelism 1 and 2, each on a fresh local mini cluster in this JVM. Not a test. Embed mode by
 * default (batch sizes 1, 8, 32); {@code -Dbench.mode=generate} runs generate mode (greedy, 16 new
 * tokens, batch sizes 1 and 16: the generate requests of a micro-batch decode together).
 * {@code -Dbench.batches=1,8,32} and {@code -Dbench.parallelism=1,2} override the lists,
 * {@code -Dbench.maxNewTokens=64} the generation length.
 *
 * <p>Run: {@code mvn -q -pl operator -am -Pbench verify -DskipTests} (or call {@link #main} with
 * {@code [model-dir] [events] [events-file]}). Events are the lines of
 * {@code models/data/events.txt} (cycled to the requested count, each with its own id), else
 * generated sentences. The source emits as fast as the operator takes them (saturation), so
 * events/s is the operator's capacity and latency includes queueing in the async operator (whose
 * capacity is 2 x batch size).
 *
 * <p>events/s: results per second between the first and the last result, measured in a map after
 * the operator (model loading and job start-up excluded). Latency: the output's latency_ms, from
 * the event's arrival at the operator to its result.
 */
public final class OperatorBenchmark {

    static final ConcurrentLinkedQueue<Double> LATENCIES = new ConcurrentLinkedQueue<>();
    static final AtomicLong FIRST = new AtomicLong(Long.MAX_VALUE);
    static final AtomicLong LAST = new AtomicLong(Long.MIN_VALUE);
    /** Sum over events of 1 / (size of the event's batch) = the number of batches. */
    static final DoubleAdder BATCHES = new DoubleAdder();

    /** Records when each result passes and its latency. */
    static final class Probe implements MapFunction<EnrichedEvent, Double> {
        private static final long serialVersionUID = 1L;

        @Override
        public Double map(EnrichedEvent e) {
            long now = System.nanoTime();
            FIRST.accumulateAndGet(now, Math::min);
            LAST.accumulateAndGet(now, Math::max);
            LATENCIES.add(e.latencyMs);
            BATCHES.add(1.0 / e.batchSize);
            return e.latencyMs;
        }
    }

    record Row(
            int parallelism, int batch, int events, double eventsPerSecond, double p50, double p99, double meanBatch) {}

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args.length > 0 ? args[0] : "../model-runtime/src/test/resources/test-model");
        int events = args.length > 1 ? Integer.parseInt(args[1]) : 4000;
        Path eventsFile = Path.of(args.length > 2 ? args[2] : "../models/data/events.txt");
        List<byte[]> payloads = payloads(eventsFile, events);
        System.out.printf(
                Locale.ROOT,
                "model %s, %d events from %s, %d cores%n",
                model.toRealPath(),
                events,
                Files.isRegularFile(eventsFile) ? eventsFile.toRealPath() : "generated sentences",
                Runtime.getRuntime().availableProcessors());

        Task mode = Task.valueOf(System.getProperty("bench.mode", "embed").toUpperCase(Locale.ROOT));
        String batchList = System.getProperty("bench.batches", "");
        int[] batches = ints(batchList.isBlank() ? (mode == Task.GENERATE ? "1,16" : "1,8,32") : batchList);
        int[] parallelisms = ints(System.getProperty("bench.parallelism", "1,2"));
        System.out.printf(Locale.ROOT, "mode %s%n", mode);
        // warm-up, not reported
        run(model, payloads.subList(0, Math.min(mode == Task.GENERATE ? 100 : 1000, payloads.size())), 1, 8, mode);
        List<Row> rows = new ArrayList<>();
        for (int parallelism : parallelisms) {
            for (int batch : batches) {
                Row row = run(model, payloads, parallelism, batch, mode);
                rows.add(row);
                System.out.printf(
                        Locale.ROOT,
                        "p=%d batch=%d: %.1f events/s, p50 %.2f ms, p99 %.2f ms%n",
                        parallelism,
                        batch,
                        row.eventsPerSecond(),
                        row.p50(),
                        row.p99());
            }
        }
        System.out.println();
        System.out.println(
                "| parallelism | max batch | mean batch | events | events/s | p50 latency (ms) | p99 latency (ms) |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            System.out.printf(
                    Locale.ROOT,
                    "| %d | %d | %.1f | %d | %.1f | %.2f | %.2f |%n",
                    r.parallelism(),
                    r.batch(),
                    r.meanBatch(),
                    r.events(),
                    r.eventsPerSecond(),
                    r.p50(),
                    r.p99());
        }
        int largest = batches[batches.length - 1];
        for (int p : parallelisms) {
            Row b1 = rows.stream()
                    .filter(r -> r.parallelism() == p && r.batch() == batches[0])
                    .findFirst()
                    .orElseThrow();
            Row bn = rows.stream()
                    .filter(r -> r.parallelism() == p && r.batch() == largest)
                    .findFirst()
                    .orElseThrow();
            System.out.printf(
                    Locale.ROOT,
                    "parallelism %d: batch %d / batch %d = %.2fx events/s%n",
                    p,
                    largest,
                    batches[0],
                    bn.eventsPerSecond() / b1.eventsPerSecond());
        }
    }

    static int[] ints(String list) {
        return java.util.Arrays.stream(list.split(","))
                .map(String::strip)
                .mapToInt(Integer::parseInt)
                .toArray();
    }

    static List<byte[]> payloads(Path file, int count) throws Exception {
        List<String> texts = new ArrayList<>();
        if (Files.isRegularFile(file)) {
            for (String line : Files.readAllLines(file)) {
                if (!line.isBlank()) {
                    texts.add(line.strip());
                }
            }
        }
        if (texts.isEmpty()) {
            for (int i = 0; i < 100; i++) {
                texts.add("Generated sentence number " + i + " flows through the stream to the sparse model.");
            }
        }
        ObjectMapper json = new ObjectMapper();
        List<byte[]> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ObjectNode o = json.createObjectNode();
            o.put("id", i);
            o.put("text", texts.get(i % texts.size()));
            out.add(json.writeValueAsBytes(o));
        }
        return out;
    }

    static Row run(Path model, List<byte[]> payloads, int parallelism, int batch, Task mode) throws Exception {
        LATENCIES.clear();
        FIRST.set(Long.MAX_VALUE);
        LAST.set(Long.MIN_VALUE);
        BATCHES.reset();
        Configuration conf = new Configuration();
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        conf.set(TaskManagerOptions.NUM_TASK_SLOTS, 2);
        conf.set(CoreOptions.DEFAULT_PARALLELISM, parallelism);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        env.setRuntimeMode(RuntimeExecutionMode.STREAMING);
        env.setParallelism(parallelism);
        DataStream<byte[]> events = env.fromData(payloads, QSparseEnrichment.BYTES)
                .setParallelism(1)
                .rebalance();
        QSparseEnrichment.Streams out = QSparseEnrichment.builder()
                .modelPath(model.toString())
                .mode(mode)
                .maxNewTokens(Integer.getInteger("bench.maxNewTokens", 16))
                .maxBatchSize(batch)
                .maxWait(Duration.ofMillis(10))
                .build()
                .apply(events);
        out.enriched().map(new Probe()).sinkTo(new DiscardingSink<>());
        out.deadLetters().sinkTo(new DiscardingSink<>());
        env.execute("qsparse-benchmark p" + parallelism + " b" + batch);

        double[] latencies =
                LATENCIES.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (latencies.length != payloads.size()) {
            throw new IllegalStateException(latencies.length + " results for " + payloads.size() + " events");
        }
        double seconds = (LAST.get() - FIRST.get()) / 1e9;
        double perSecond = (latencies.length - 1) / seconds;
        return new Row(
                parallelism,
                batch,
                payloads.size(),
                perSecond,
                percentile(latencies, 0.50),
                percentile(latencies, 0.99),
                latencies.length / BATCHES.sum());
    }

    static double percentile(double[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private OperatorBenchmark() {}
}
