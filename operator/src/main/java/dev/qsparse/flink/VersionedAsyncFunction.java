package dev.qsparse.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * The micro-batching enrichment of events tagged with their model version
 * ({@link ModelVersionTagger}): each event is answered by the version in its tag. Batching,
 * completion, timeouts and the exactly-once argument are those of {@link QSparseAsyncFunction};
 * what this adds is one {@link BatchedInference} per version in use.
 *
 * <p>A version is opened when the first event tagged with it arrives (through {@link SharedModels}:
 * the tagger has already loaded it in this task manager, so this is a lookup) and released, on
 * the task thread, once no event of this task still waits for it and a newer version has been
 * seen: at the next event or timeout after its last result. Events replayed from the async
 * operator's state after a restore carry the tag they had, so they are answered by the same
 * version as before the failure, even if the job has switched since.
 */
public class VersionedAsyncFunction extends RichAsyncFunction<VersionedEvent, QSparseResult> {

    private static final long serialVersionUID = 1L;

    private final QSparseSettings settings;

    /** One version's model and inference threads. */
    private static final class Version {
        final String key;
        final TaskModel model;
        final BatchedInference batched;

        Version(String key, TaskModel model, BatchedInference batched) {
            this.key = key;
            this.model = model;
            this.batched = batched;
        }
    }

    /** Open versions by location and version, oldest first; the last one is the newest seen. */
    private transient Map<String, Version> versions;

    private transient EventParser parser;
    private transient OperatorMetrics metrics;
    private transient MetricGroup metricGroup;
    private transient String threadName;
    private transient int subtask;

    public VersionedAsyncFunction(QSparseSettings settings) {
        this.settings = settings;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        super.open(openContext);
        versions = new LinkedHashMap<>();
        parser = new EventParser(settings);
        metricGroup = getRuntimeContext().getMetricGroup();
        subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        threadName = "qsparse-" + getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks();
    }

    private static String key(VersionedEvent e) {
        return e.modelVersion + '\u0000' + e.modelLocation;
    }

    /** The version that answers {@code e}, opened if needed; older idle versions are released first. */
    private Version versionOf(VersionedEvent e) throws Exception {
        String key = key(e);
        Version v = versions.get(key);
        if (v == null) {
            releaseIdle(null);
            if (!versions.isEmpty()) {
                int olderInFlight = 0;
                for (Version older : versions.values()) {
                    olderInFlight += older.batched.inFlight();
                }
                FaultInjection.at(FaultInjection.Point.MODEL_SWITCH, subtask, olderInFlight, 0);
            }
            TaskModel model = TaskModel.open(
                    settings,
                    ModelLocation.parse(e.modelLocation, "the model of version " + e.modelVersion),
                    e.modelVersion,
                    metricGroup,
                    metrics);
            metrics = model.metrics;
            v = new Version(key, model, new BatchedInference(model, threadName + "-" + e.modelVersion, subtask));
            versions.put(key, v);
        } else if (!isNewest(key)) {
            // A replayed event of an older version: it stays open, in its place, until idle.
            return v;
        }
        releaseIdle(key);
        return v;
    }

    private boolean isNewest(String key) {
        String last = null;
        for (String k : versions.keySet()) {
            last = k;
        }
        return key.equals(last);
    }

    /** Closes every version but the newest (and {@code keep}) that no event waits for. */
    private void releaseIdle(String keep) {
        List<Version> idle = new ArrayList<>();
        Version newest = null;
        for (Version v : versions.values()) {
            newest = v;
        }
        for (Iterator<Version> it = versions.values().iterator(); it.hasNext(); ) {
            Version v = it.next();
            if (v != newest && !v.key.equals(keep) && v.batched.inFlight() == 0) {
                it.remove();
                idle.add(v);
            }
        }
        for (Version v : idle) {
            close(v);
        }
    }

    private static void close(Version v) {
        try {
            v.batched.close(Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            v.model.close();
        }
    }

    @Override
    public void asyncInvoke(VersionedEvent input, ResultFuture<QSparseResult> resultFuture) throws Exception {
        long arrival = System.nanoTime();
        Version v = versionOf(input);
        metrics.eventsReceived.inc();
        EventParser.Outcome outcome = parser.parse(input.payload);
        if (outcome.deadLetter != null) {
            QSparseResult dead = QSparseResult.of(outcome.deadLetter);
            metrics.emitted(dead);
            resultFuture.complete(Collections.singletonList(dead));
            return;
        }
        v.batched.submit(outcome.event, arrival, resultFuture, QSparseAsyncFunction.completionOf(resultFuture));
    }

    /** A late event becomes a dead letter with stage and reason "timeout"; the job goes on. */
    @Override
    public void timeout(VersionedEvent input, ResultFuture<QSparseResult> resultFuture) {
        Version v = versions.get(key(input));
        BatchedInference.Pending pending = v == null ? null : v.batched.remove(resultFuture);
        if (pending != null && !pending.claim()) {
            return;
        }
        String id = pending == null ? null : pending.id();
        boolean numeric = pending != null && pending.idNumeric();
        QSparseResult dead = QSparseResult.of(DeadLetter.of(
                input.payload,
                true,
                id,
                numeric,
                DeadLetter.STAGE_TIMEOUT,
                "timeout: no result within " + settings.timeout().toMillis() + " ms",
                settings.modelName(),
                settings.maxRecordBytes()));
        if (metrics != null) {
            metrics.emitted(dead);
        }
        resultFuture.complete(Collections.singletonList(dead));
        releaseIdle(null);
    }

    /** Versions open in this task now (for tests and diagnostics). */
    int openVersions() {
        return versions.size();
    }

    @Override
    public void close() throws Exception {
        try {
            if (versions != null) {
                for (Version v : versions.values()) {
                    close(v);
                }
                versions.clear();
            }
        } finally {
            super.close();
        }
    }
}
