package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntSupplier;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * The operator's metrics, in the task's metric group under {@code qsparse}:
 * <table>
 *   <caption>metrics</caption>
 *   <tr><th>name</th><th>kind</th><th>what</th></tr>
 *   <tr><td>eventsReceived</td><td>counter</td><td>events that reached the function (replays after a restore count again)</td></tr>
 *   <tr><td>eventsEnriched</td><td>counter</td><td>events with a model result</td></tr>
 *   <tr><td>stage.&lt;stage&gt;.deadLetters</td><td>counter</td><td>events sent to the dead letters at one stage ({@code decode}, {@code parse}, {@code validate}, {@code inference}, {@code timeout}, {@code output}), the value of the key/value group {@code stage}; every stage is registered at open, at 0</td></tr>
 *   <tr><td>generatedTokens</td><td>counter</td><td>tokens generated in generate mode</td></tr>
 *   <tr><td>inputTokens</td><td>counter</td><td>input tokens of the events with a model result (after truncation to the model's context)</td></tr>
 *   <tr><td>eventsPerSecond</td><td>meter</td><td>rate of eventsEnriched</td></tr>
 *   <tr><td>generatedTokensPerSecond</td><td>meter</td><td>rate of generatedTokens</td></tr>
 *   <tr><td>batchSize</td><td>histogram</td><td>events per micro-batch handed to the model</td></tr>
 *   <tr><td>batchLatencyMs</td><td>histogram</td><td>model time of a batch, milliseconds (microsecond resolution)</td></tr>
 *   <tr><td>eventLatencyMs</td><td>histogram</td><td>per event that reached the model: arrival to result, queueing included, milliseconds (microsecond resolution)</td></tr>
 *   <tr><td>queuedEvents</td><td>gauge</td><td>events waiting in the micro-batcher for an inference thread (0 in the one-at-a-time form)</td></tr>
 *   <tr><td>inFlightEvents</td><td>gauge</td><td>events waiting for their result: queued or in a running batch (0 in the one-at-a-time form)</td></tr>
 *   <tr><td>activationSparsity</td><td>gauge</td><td>mean achieved activation sparsity of the last batch</td></tr>
 *   <tr><td>kernel_backend.&lt;name&gt;.info</td><td>gauge (always 1)</td><td>the runtime's kernel implementation ("scalar", "vector-256", ...) as the value of the key/value group {@code kernel_backend}</td></tr>
 *   <tr><td>batch_backend.&lt;name&gt;.info</td><td>gauge (always 1)</td><td>the backend of micro-batch products ("nd4j", or the kernel backend) as the value of the key/value group {@code batch_backend}</td></tr>
 *   <tr><td>sharedModelReferences</td><td>gauge</td><td>holders (tasks, and a switching job's version taggers) in this task manager of the model this task loaded last</td></tr>
 *   <tr><td>modelLoadTimeMs</td><td>gauge</td><td>milliseconds this task waited for the model it loaded last (at open, or for a switched-to version): the copy of a remote model into the cache and the load, or only the lookup when another task of the task manager had it</td></tr>
 *   <tr><td>modelBytesFetched</td><td>counter</td><td>bytes this task copied from remote model locations into the task manager's cache (0 when cached, shared or local)</td></tr>
 * </table>
 * Labels are key/value groups, not string gauges or name parts: a reporter exports the value as a
 * label (Prometheus: {@code flink_taskmanager_job_task_operator_qsparse_stage_deadLetters{stage="timeout",...}},
 * {@code flink_taskmanager_job_task_operator_qsparse_kernel_backend_info{kernel_backend="vector-256",...} 1}),
 * where a string gauge would be exported as 0 or dropped. Durations carry their unit in the name
 * and are in milliseconds, as Flink's own. Updated from the inference threads; every metric here
 * is thread-safe.
 */
final class OperatorMetrics {

    static final String GROUP = "qsparse";
    static final int HISTOGRAM_WINDOW = 1024;
    static final int METER_SECONDS = 60;

    /** Key of the key/value group naming the kernel backend. */
    static final String KERNEL_BACKEND = "kernel_backend";
    /** Key of the key/value group naming the micro-batch backend. */
    static final String BATCH_BACKEND = "batch_backend";
    /** Key of the key/value group naming a dead letter's stage. */
    static final String STAGE = "stage";
    /** Counter (one per stage): events sent to the dead letters. */
    static final String DEAD_LETTERS = "deadLetters";
    /** Every stage a dead letter can have, registered at open so that each series starts at 0. */
    static final List<String> STAGES = List.of(
            DeadLetter.STAGE_DECODE,
            DeadLetter.STAGE_PARSE,
            DeadLetter.STAGE_VALIDATE,
            DeadLetter.STAGE_INFERENCE,
            DeadLetter.STAGE_TIMEOUT,
            DeadLetter.STAGE_OUTPUT);
    /** Gauge: this task's wait for its model at open, milliseconds. */
    static final String MODEL_LOAD_TIME_MS = "modelLoadTimeMs";
    /** Counter: bytes this task copied from a remote model into the cache. */
    static final String MODEL_BYTES_FETCHED = "modelBytesFetched";
    /** The gauge (always 1) inside each backend group. */
    static final String INFO = "info";

    /** The runtime's kernel backend for this model ("vector-256", "scalar", ...), for the label. */
    static String kernelBackend(Model model) {
        return model.kernelBackend();
    }

    /** The backend used for micro-batches ("nd4j" when that module is on the class path). */
    static String batchBackend(Model model) {
        return model.batchBackend();
    }

    final Counter eventsReceived;
    final Counter eventsEnriched;
    final Counter generatedTokens;
    final Counter inputTokens;
    final Histogram batchSize;
    final MillisecondHistogram batchLatencyMs;
    final MillisecondHistogram eventLatencyMs;
    private final MetricGroup group;
    private final Map<String, Counter> deadLettersByStage = new ConcurrentHashMap<>();
    private final Counter bytesFetched;
    private volatile double lastSparsity;
    /** The micro-batchers of this task (one per model version in use while a switch drains). */
    private final List<Watched> watched = new CopyOnWriteArrayList<>();

    private volatile String modelKey;
    private volatile long loadMillis;

    OperatorMetrics(MetricGroup taskGroup, SharedModels.Lease lease) {
        Model model = lease.model();
        String modelKey = lease.key();
        MetricGroup g = taskGroup.addGroup(GROUP);
        group = g;
        eventsReceived = g.counter("eventsReceived", new ThreadSafeSimpleCounter());
        eventsEnriched = g.counter("eventsEnriched", new ThreadSafeSimpleCounter());
        for (String stage : STAGES) {
            deadLetters(stage);
        }
        generatedTokens = g.counter("generatedTokens", new ThreadSafeSimpleCounter());
        inputTokens = g.counter("inputTokens", new ThreadSafeSimpleCounter());
        g.meter("eventsPerSecond", new MeterView(eventsEnriched, METER_SECONDS));
        g.meter("generatedTokensPerSecond", new MeterView(generatedTokens, METER_SECONDS));
        batchSize = g.histogram("batchSize", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        batchLatencyMs = g.histogram("batchLatencyMs", new MillisecondHistogram(HISTOGRAM_WINDOW));
        eventLatencyMs = g.histogram("eventLatencyMs", new MillisecondHistogram(HISTOGRAM_WINDOW));
        g.gauge("queuedEvents", (Gauge<Integer>) () -> sum(true));
        g.gauge("inFlightEvents", (Gauge<Integer>) () -> sum(false));
        g.gauge("activationSparsity", (Gauge<Double>) () -> lastSparsity);
        String backend = kernelBackend(model);
        String batchBackend = batchBackend(model);
        g.addGroup(KERNEL_BACKEND, backend).gauge(INFO, (Gauge<Integer>) () -> 1);
        g.addGroup(BATCH_BACKEND, batchBackend).gauge(INFO, (Gauge<Integer>) () -> 1);
        this.modelKey = modelKey;
        g.gauge("sharedModelReferences", (Gauge<Integer>) () -> SharedModels.references(this.modelKey));
        this.loadMillis = lease.loadNanos() / 1_000_000;
        g.gauge(MODEL_LOAD_TIME_MS, (Gauge<Long>) () -> this.loadMillis);
        bytesFetched = g.counter(MODEL_BYTES_FETCHED, new ThreadSafeSimpleCounter());
        bytesFetched.inc(lease.bytesFetched());
    }

    /** A new model version of the same task loaded: the model gauges follow it, its fetched bytes add up. */
    void modelLoaded(SharedModels.Lease lease) {
        modelKey = lease.key();
        loadMillis = lease.loadNanos() / 1_000_000;
        bytesFetched.inc(lease.bytesFetched());
    }

    /** The dead-letter counter of {@code stage} (registered on first use for a stage not in {@link #STAGES}). */
    private Counter deadLetters(String stage) {
        return deadLettersByStage.computeIfAbsent(
                stage, s -> group.addGroup(STAGE, s).counter(DEAD_LETTERS, new ThreadSafeSimpleCounter()));
    }

    /**
     * Adds a micro-batcher's queue and in-flight count to the two gauges (summed over the batchers
     * of the task: two model versions while a switch drains); the returned action removes them.
     */
    Runnable watch(IntSupplier queuedEvents, IntSupplier inFlightEvents) {
        Watched w = new Watched(queuedEvents, inFlightEvents);
        watched.add(w);
        // Removed at close: a reporter may hold the gauges after the batcher, which must not keep it reachable.
        return () -> watched.remove(w);
    }

    private int sum(boolean queuedOnly) {
        int n = 0;
        for (Watched w : watched) {
            n += (queuedOnly ? w.queued : w.inFlight).getAsInt();
        }
        return n;
    }

    private record Watched(IntSupplier queued, IntSupplier inFlight) {}

    /** Counts one result that is handed to Flink (once per event, whatever the path). */
    void emitted(QSparseResult result) {
        if (result.deadLetter != null) {
            String stage = result.deadLetter.stage;
            deadLetters(stage == null ? "unknown" : stage).inc();
        } else {
            eventsEnriched.inc();
            inputTokens.inc(result.enriched.inputTokens);
            if (result.enriched.generatedTokens != null) {
                generatedTokens.inc(result.enriched.generatedTokens.length);
            }
        }
    }

    void lastBatchSparsity(double sparsity) {
        lastSparsity = sparsity;
    }
}
