package dev.qsparse.sql.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.QSparseEnrichment;
import dev.qsparse.runtime.inference.Task;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * Throughput of the same events through the DataStream operator ({@code QSparseEnrichment.apply})
 * and through {@code ML_PREDICT} on the {@code qsparse} provider, alternating, each run on a fresh
 * local mini cluster in this JVM, parallelism 1, one inference thread, the same micro-batch size and
 * the same number of events in flight (the operator's capacity 2 x batch x threads = ML_PREDICT's
 * 'max-concurrent-operations'). After one short warm-up run of each, the two alternate, so each
 * round's ratio compares runs seconds apart on a shared, noisy machine. Not a test.
 *
 * <p>events/s: results per second between the first and the last result, counted in a map after
 * the predict operator (job start-up and model loading excluded); and the process's CPU time per
 * result over the same span, which other processes on a shared machine disturb less. The operator
 * reads JSON events
 * (and parses them); the SQL path reads rows (id, text).
 *
 * <p>Run: {@code mvn -q -pl sql -am -Psql-bench verify -DskipTests} ({@code -Dbench.model=DIR},
 * {@code -Dbench.events=N}, {@code -Dbench.rounds=N}).
 */
public final class SqlVsOperatorBenchmark {

    static final AtomicLong FIRST = new AtomicLong();
    static final AtomicLong LAST = new AtomicLong();
    static final AtomicLong COUNT = new AtomicLong();
    /** Process CPU time at the first and at the last result: CPU per event, less hurt by other load. */
    static final AtomicLong CPU_FIRST = new AtomicLong();

    static final AtomicLong CPU_LAST = new AtomicLong();

    static volatile long expected;

    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    static void resetProbe(int events) {
        FIRST.set(Long.MAX_VALUE);
        LAST.set(Long.MIN_VALUE);
        COUNT.set(0);
        expected = events;
    }

    static void tick() {
        long now = System.nanoTime();
        FIRST.accumulateAndGet(now, Math::min);
        LAST.accumulateAndGet(now, Math::max);
        long n = COUNT.incrementAndGet();
        if (n == 1) {
            CPU_FIRST.set(OS.getProcessCpuTime());
        } else if (n == expected) {
            CPU_LAST.set(OS.getProcessCpuTime());
        }
    }

    /** Process CPU microseconds per result between the first and the last result. */
    static double cpuMicrosPerEvent() {
        return (CPU_LAST.get() - CPU_FIRST.get()) / 1e3 / (COUNT.get() - 1);
    }

    /** One run: events/s and CPU microseconds per event. */
    record Run(double perSecond, double cpuMicros) {}

    static final class EventProbe implements MapFunction<EnrichedEvent, Integer> {
        private static final long serialVersionUID = 1L;

        @Override
        public Integer map(EnrichedEvent e) {
            tick();
            return e.batchSize;
        }
    }

    static final class RowProbe implements MapFunction<Row, Integer> {
        private static final long serialVersionUID = 1L;

        @Override
        public Integer map(Row r) {
            if (r.getField(2) == null) {
                throw new IllegalStateException("no embedding for " + r);
            }
            tick();
            return (Integer) r.getField(3);
        }
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args.length > 0 ? args[0] : "../models/qsparse-demo");
        int events = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int batch = 16;
        List<String> texts = texts(Path.of("../models/data/events.txt"), events);
        System.out.printf(
                Locale.ROOT,
                "model %s, %d events, embed, parallelism 1, batch %d, %d cores%n",
                model.toRealPath(),
                events,
                batch,
                Runtime.getRuntime().availableProcessors());
        // Warm-up (not counted): class loading and JIT of both paths.
        runOperator(model, texts.subList(0, Math.min(200, texts.size())), batch);
        runSql(model, texts.subList(0, Math.min(200, texts.size())), batch);
        double[] ratios = new double[rounds];
        double[] cpuRatios = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            Run operator = runOperator(model, texts, batch);
            Run sql = runSql(model, texts, batch);
            ratios[r] = sql.perSecond() / operator.perSecond();
            cpuRatios[r] = sql.cpuMicros() / operator.cpuMicros();
            System.out.printf(
                    Locale.ROOT,
                    "round %d: operator %.1f events/s %.0f cpu-us/event, sql %.1f events/s %.0f cpu-us/event;"
                            + " sql/operator: throughput %.3f, cpu per event %.3f%n",
                    r + 1,
                    operator.perSecond(),
                    operator.cpuMicros(),
                    sql.perSecond(),
                    sql.cpuMicros(),
                    ratios[r],
                    cpuRatios[r]);
        }
        System.out.printf(
                Locale.ROOT,
                "median of the rounds' sql/operator: throughput %.3f, cpu per event %.3f%n",
                median(ratios),
                median(cpuRatios));
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static List<String> texts(Path file, int count) throws Exception {
        List<String> lines = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            if (!line.isBlank()) {
                lines.add(line);
            }
        }
        List<String> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(lines.get(i % lines.size()));
        }
        return out;
    }

    static StreamExecutionEnvironment environment() {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        conf.set(CoreOptions.DEFAULT_PARALLELISM, 1);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        env.setRuntimeMode(RuntimeExecutionMode.STREAMING);
        env.setParallelism(1);
        return env;
    }

    static Run measured() {
        check((int) expected);
        return new Run((COUNT.get() - 1) / ((LAST.get() - FIRST.get()) / 1e9), cpuMicrosPerEvent());
    }

    static Run runOperator(Path model, List<String> texts, int batch) throws Exception {
        resetProbe(texts.size());
        ObjectMapper json = new ObjectMapper();
        List<byte[]> payloads = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            ObjectNode o = json.createObjectNode();
            o.put("id", "e" + i);
            o.put("text", texts.get(i));
            payloads.add(json.writeValueAsBytes(o));
        }
        StreamExecutionEnvironment env = environment();
        DataStream<byte[]> in = env.fromData(payloads, QSparseEnrichment.BYTES);
        QSparseEnrichment.Streams out = QSparseEnrichment.builder()
                .modelPath(model.toString())
                .mode(Task.EMBED)
                .maxBatchSize(batch)
                .maxWait(Duration.ofMillis(10))
                .build()
                .apply(in);
        out.enriched().map(new EventProbe()).sinkTo(new DiscardingSink<>());
        out.deadLetters().sinkTo(new DiscardingSink<>());
        env.execute("operator");
        return measured();
    }

    static Run runSql(Path model, List<String> texts, int batch) throws Exception {
        resetProbe(texts.size());
        List<Row> rows = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            rows.add(Row.of("e" + i, texts.get(i)));
        }
        StreamExecutionEnvironment env = environment();
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
        DataStream<Row> in =
                env.fromData(rows, Types.ROW_NAMED(new String[] {"id", "text"}, Types.STRING, Types.STRING));
        tEnv.createTemporaryView("events", tEnv.fromDataStream(in));
        tEnv.executeSql("CREATE TEMPORARY MODEL embedder INPUT (text STRING)"
                + " OUTPUT (embedding ARRAY<FLOAT>, batch_size INT)"
                + " WITH ('provider' = 'qsparse', 'model-path' = '" + model.toAbsolutePath() + "', 'task' = 'embed',"
                + " 'batch.max-size' = '" + batch + "', 'batch.max-wait' = '10 ms')");
        Table enriched = tEnv.sqlQuery("SELECT id, text, embedding, batch_size FROM ML_PREDICT(TABLE events,"
                + " MODEL embedder, DESCRIPTOR(text), MAP['max-concurrent-operations', '" + (2 * batch) + "'])");
        tEnv.toDataStream(enriched).map(new RowProbe()).sinkTo(new DiscardingSink<>());
        env.execute("sql");
        return measured();
    }

    static void check(int expected) {
        if (COUNT.get() != expected) {
            throw new IllegalStateException(COUNT.get() + " results for " + expected + " events");
        }
    }
}
