package dev.qsparse.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The micro-batching core of one parallel task: its {@link MicroBatcher}, the events waiting for a
 * result, and how a batch's results (or its failure) reach each event's completion exactly once.
 * Shared by {@link QSparseAsyncFunction} (DataStream) and the SQL provider's async predict function,
 * so both batch, serve, count and fail the same way.
 *
 * <p>A result is delivered through {@link Completion#complete}; a failure that is not about one event
 * (an inference thread died, the runtime threw an {@link Error}) through {@link Completion#fail},
 * which the caller turns into a task failure so that the job restarts from its last checkpoint.
 * Each pending event has a flag: whichever of its result, its failure or the caller's own timeout
 * ({@link #remove} then {@link Pending#claim}) comes first wins, the others are dropped.
 */
public final class BatchedInference implements AutoCloseable {

    /** Receives one event's outcome; called on an inference thread (or the caller's, for a failure). */
    public interface Completion {
        void complete(QSparseResult result);

        void fail(Throwable failure);
    }

    /** One valid event waiting for its result. */
    public static final class Pending {
        final ParsedEvent event;
        final Object key;
        final Completion completion;
        final long arrivalNanos;
        private final AtomicBoolean done = new AtomicBoolean();

        Pending(ParsedEvent event, Object key, Completion completion, long arrivalNanos) {
            this.event = event;
            this.key = key;
            this.completion = completion;
            this.arrivalNanos = arrivalNanos;
        }

        /** Takes the right to complete this event; true for exactly one caller. */
        public boolean claim() {
            return done.compareAndSet(false, true);
        }

        boolean isDone() {
            return done.get();
        }

        /** The event's id (null for an event that came from a SQL row). */
        public String id() {
            return event.id;
        }

        public boolean idNumeric() {
            return event.idNumeric;
        }
    }

    private final TaskModel taskModel;
    private final int subtask;
    private final Map<Object, Pending> inFlight = Collections.synchronizedMap(new IdentityHashMap<>());
    private final MicroBatcher<Pending> batcher;
    /** Takes this batcher out of the task's queue and in-flight gauges. */
    private final Runnable unwatchGauges;
    /** Set when an inference thread died: every event from then on fails. */
    private volatile Throwable workerFailure;

    /**
     * Starts {@code qsparse.threads} inference threads named {@code <threadName>-<i>}, each with its
     * own session of {@code taskModel}'s model. The caller keeps ownership of {@code taskModel}.
     */
    public BatchedInference(TaskModel taskModel, String threadName, int subtask) {
        this.taskModel = taskModel;
        this.subtask = subtask;
        QSparseSettings settings = taskModel.settings;
        this.batcher = new MicroBatcher<>(
                threadName,
                settings.maxBatchSize(),
                settings.maxWait(),
                settings.threads(),
                this::newBatchHandler,
                this::workerFailed);
        this.unwatchGauges = taskModel.metrics.watch(batcher::queued, this::inFlight);
    }

    /**
     * Queues a valid event for the next batch. {@code key} identifies it for {@link #remove} (the
     * caller's future; compared by identity).
     */
    public Pending submit(ParsedEvent event, long arrivalNanos, Object key, Completion completion) {
        Pending pending = new Pending(event, key, completion, arrivalNanos);
        inFlight.put(key, pending);
        batcher.submit(pending);
        Throwable failure = workerFailure;
        if (failure != null) {
            failAll(List.of(pending), new IllegalStateException("a Q-Sparse inference thread has died", failure));
        }
        return pending;
    }

    /** The pending event of {@code key}, no longer tracked; null when it was completed already. */
    public Pending remove(Object key) {
        return inFlight.remove(key);
    }

    /** Events waiting for a result (queued or in a running batch). */
    public int inFlight() {
        return inFlight.size();
    }

    /** On a dying inference thread: fail everything it might have served, so the task restarts. */
    private void workerFailed(Throwable t) {
        workerFailure = t;
        List<Pending> pending;
        synchronized (inFlight) {
            pending = new ArrayList<>(inFlight.values());
        }
        failAll(pending, t);
    }

    private void failAll(List<Pending> pending, Throwable t) {
        for (Pending p : pending) {
            if (p.claim()) {
                inFlight.remove(p.key);
                p.completion.fail(t);
            }
        }
    }

    /** On each new inference thread: its own session. */
    private MicroBatcher.Handler<Pending> newBatchHandler() {
        ModelRunner runner = taskModel.newRunner();
        return new MicroBatcher.Handler<>() {
            @Override
            public void accept(List<Pending> batch) {
                serve(runner, batch);
            }

            @Override
            public void close() throws Exception {
                runner.close();
            }
        };
    }

    /** On an inference thread. Never throws: a failure fails the batch's events. */
    private void serve(ModelRunner runner, List<Pending> batch) {
        List<Pending> live = new ArrayList<>(batch.size());
        for (Pending p : batch) {
            if (!p.isDone()) {
                live.add(p);
            }
        }
        if (live.isEmpty()) {
            return;
        }
        try {
            List<ParsedEvent> events = new ArrayList<>(live.size());
            long[] arrivals = new long[live.size()];
            for (int i = 0; i < live.size(); i++) {
                events.add(live.get(i).event);
                arrivals[i] = live.get(i).arrivalNanos;
            }
            FaultInjection.at(FaultInjection.Point.INFERENCE_BATCH, subtask, inFlight.size(), live.size());
            List<QSparseResult> results = runner.run(events, arrivals);
            for (int i = 0; i < live.size(); i++) {
                complete(live.get(i), results.get(i));
            }
        } catch (Throwable t) {
            // Not a bad event (those become dead letters inside the runner): fail the task so that
            // it restarts from the last checkpoint.
            failAll(live, t);
        }
    }

    private void complete(Pending p, QSparseResult result) {
        if (p.claim()) {
            inFlight.remove(p.key);
            taskModel.metrics.emitted(result);
            p.completion.complete(result);
        }
    }

    /** Stops the inference threads (a running batch finishes) and forgets the queued events. */
    public void close(Duration grace) throws InterruptedException {
        try {
            batcher.close(grace);
        } finally {
            inFlight.clear();
            unwatchGauges.run();
        }
    }

    @Override
    public void close() throws InterruptedException {
        close(Duration.ofSeconds(30));
    }
}
