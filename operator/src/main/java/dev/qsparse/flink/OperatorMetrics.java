package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
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
 *   <tr><td>deadLetters</td><td>counter</td><td>events sent to the dead letters, any stage</td></tr>
 *   <tr><td>generatedTokens</td><td>counter</td><td>tokens generated in generate mode</td></tr>
 *   <tr><td>eventsPerSecond</td><td>meter</td><td>rate of eventsEnriched</td></tr>
 *   <tr><td>generatedTokensPerSecond</td><td>meter</td><td>rate of generatedTokens</td></tr>
 *   <tr><td>batchSize</td><td>histogram</td><td>events per micro-batch handed to the model</td></tr>
 *   <tr><td>batchLatencyUs</td><td>histogram</td><td>model time of a batch, microseconds</td></tr>
 *   <tr><td>eventLatencyUs</td><td>histogram</td><td>per event that reached the model: arrival to result, queueing included, microseconds</td></tr>
 *   <tr><td>activationSparsity</td><td>gauge</td><td>mean achieved activation sparsity of the last batch</td></tr>
 *   <tr><td>kernel_backend.&lt;name&gt;.info</td><td>gauge (always 1)</td><td>the runtime's kernel implementation ("scalar", "vector-256", ...) as the value of the key/value group {@code kernel_backend}</td></tr>
 *   <tr><td>batch_backend.&lt;name&gt;.info</td><td>gauge (always 1)</td><td>the backend of micro-batch products ("nd4j", or the kernel backend) as the value of the key/value group {@code batch_backend}</td></tr>
 *   <tr><td>sharedModelReferences</td><td>gauge</td><td>holders (tasks, and a switching job's version taggers) in this task manager of the model this task loaded last</td></tr>
 *   <tr><td>modelLoadTimeMs</td><td>gauge</td><td>milliseconds this task waited for the model it loaded last (at open, or for a switched-to version): the copy of a remote model into the cache and the load, or only the lookup when another task of the task manager had it</td></tr>
 *   <tr><td>modelBytesFetched</td><td>counter</td><td>bytes this task copied from remote model locations into the task manager's cache (0 when cached, shared or local)</td></tr>
 * </table>
 * The backend names are key/value groups, not string gauges: a reporter exports them as labels
 * (Prometheus: {@code flink_taskmanager_job_task_operator_qsparse_kernel_backend_info{kernel_backend="vector-256",...} 1}),
 * where a string gauge would be exported as 0 or dropped.
 * Latencies are in microseconds (Flink histograms hold longs; small models serve an event in well
 * under a millisecond). Updated from the inference threads; every metric here is thread-safe.
 */
final class OperatorMetrics {

    static final String GROUP = "qsparse";
    static final int HISTOGRAM_WINDOW = 1024;
    static final int METER_SECONDS = 60;

    /** Key of the key/value group naming the kernel backend. */
    static final String KERNEL_BACKEND = "kernel_backend";
    /** Key of the key/value group naming the micro-batch backend. */
    static final String BATCH_BACKEND = "batch_backend";
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
    final Counter deadLetters;
    final Counter generatedTokens;
    final Histogram batchSize;
    final Histogram batchLatencyUs;
    final Histogram eventLatencyUs;
    private final Counter bytesFetched;
    private volatile double lastSparsity;
    private volatile String modelKey;
    private volatile long loadMillis;

    OperatorMetrics(MetricGroup taskGroup, SharedModels.Lease lease) {
        Model model = lease.model();
        String modelKey = lease.key();
        MetricGroup g = taskGroup.addGroup(GROUP);
        eventsReceived = g.counter("eventsReceived", new ThreadSafeSimpleCounter());
        eventsEnriched = g.counter("eventsEnriched", new ThreadSafeSimpleCounter());
        deadLetters = g.counter("deadLetters", new ThreadSafeSimpleCounter());
        generatedTokens = g.counter("generatedTokens", new ThreadSafeSimpleCounter());
        g.meter("eventsPerSecond", new MeterView(eventsEnriched, METER_SECONDS));
        g.meter("generatedTokensPerSecond", new MeterView(generatedTokens, METER_SECONDS));
        batchSize = g.histogram("batchSize", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        batchLatencyUs = g.histogram("batchLatencyUs", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        eventLatencyUs = g.histogram("eventLatencyUs", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
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

    /** Counts one result that is handed to Flink (once per event, whatever the path). */
    void emitted(QSparseResult result) {
        if (result.deadLetter != null) {
            deadLetters.inc();
        } else {
            eventsEnriched.inc();
            if (result.enriched.generatedTokens != null) {
                generatedTokens.inc(result.enriched.generatedTokens.length);
            }
        }
    }

    void lastBatchSparsity(double sparsity) {
        lastSparsity = sparsity;
    }
}
