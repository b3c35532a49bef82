package dev.qsparse.flink;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.concurrent.RejectedExecutionException;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * The micro-batching Q-Sparse enrichment, the form to deploy: run it with
 * {@link AsyncDataStream#orderedWait} (or {@code unorderedWait}) as
 * {@link QSparseEnrichment#apply} does, with a capacity of at least twice
 * {@code qsparse.batch.max-size}.
 *
 * <p><b>How it works.</b> {@link #open} takes a reference to the task manager's shared copy of the
 * model ({@link SharedModels}) and starts a {@link BatchedInference} (a {@link MicroBatcher} with
 * {@code qsparse.threads} inference threads, each with its own inference session). {@link #asyncInvoke} runs on the task
 * thread: it parses the event; an invalid event completes at once with its dead letter; a valid
 * one is queued. The batcher closes a batch at {@code qsparse.batch.max-size} events or
 * {@code qsparse.batch.max-wait} after the batch's first event, runs it through the runtime's
 * batch API on an inference thread, and completes each event's {@link ResultFuture} with exactly
 * one result: the enriched event, or a dead letter if the model could not serve it. An event
 * still without a result after {@code qsparse.async.timeout} is completed with a "timeout" dead
 * letter by {@link #timeout}; whichever of the two comes first wins (a per-event flag), the other
 * is dropped. {@link #close} stops the threads and releases the model.
 *
 * <p><b>Why no event is lost or duplicated across checkpoints, restores and failures.</b>
 * <ol>
 *   <li>Flink's async operator ({@code AsyncWaitOperator}) puts every input record into its queue
 *       <em>before</em> calling {@link #asyncInvoke}, and removes it only when it emits the
 *       record's result downstream. Its snapshot, taken on the task thread when the checkpoint
 *       barrier is processed, writes every record still in that queue to operator state: those
 *       queued in our batcher, those in a running batch, and those whose result is ready but not
 *       yet emitted. No result can be emitted concurrently: results are handed to the task thread
 *       as mailbox actions, and the task thread is busy taking the snapshot.
 *   <li>So at the barrier, each record before it in the input is in exactly one place: its result
 *       was emitted before the barrier (and is therefore covered by the downstream operators'
 *       snapshots of the same checkpoint), or the record itself is in this operator's snapshot.
 *       Records after the barrier are in neither and are replayed by the source, which rewinds to
 *       its position in the same checkpoint.
 *   <li>On restore, the operator re-invokes this function for every record in its snapshot, in the
 *       original order, before it reads new input; the fresh batcher serves them like any other
 *       event. Results that the failed attempt emitted after the barrier belong to an epoch the
 *       restore rolls back (a transactional sink such as Kafka's exactly-once sink never commits
 *       them), so each record's result is committed exactly once. With an at-least-once sink, the
 *       usual Flink at-least-once applies.
 *   <li>The batcher keeps no state of its own: a batch is only a grouping of records that the
 *       operator already holds, so its contents need not line up with checkpoints. Dropping the
 *       queue in {@link #close} (on failure or cancellation) loses nothing for the same reason.
 *   <li>Replays give identical results: inference is deterministic (greedy decoding, or sampling
 *       with a fixed seed), so a replayed event is enriched exactly as the first time.
 * </ol>
 * Every completion goes through a compare-and-set on the event's flag, so a future is completed
 * at most once by this function even when a batch finishes while the timeout fires. A failure that
 * is not about one event (an inference thread dies, the runtime throws an {@link Error}) completes
 * the affected futures exceptionally, which fails the task: it restarts from the last checkpoint
 * instead of turning every event into a dead letter.
 *
 * <p><b>Ordered or unordered.</b> {@link QSparseEnrichment} uses ordered output by default: with
 * one inference thread per task, batches finish in input order anyway, so order costs nothing and
 * makes the output reproducible; unordered ({@code qsparse.async.ordered = false}) only helps when
 * several threads finish batches out of order. Both are exactly-once (unordered still never
 * reorders records across watermarks).
 */
public class QSparseAsyncFunction extends RichAsyncFunction<byte[], QSparseResult> {

    private static final long serialVersionUID = 1L;

    private final QSparseSettings settings;

    private transient TaskModel taskModel;
    private transient BatchedInference batched;
    private transient int subtask;

    public QSparseAsyncFunction(QSparseSettings settings) {
        this.settings = settings;
    }

    public QSparseSettings settings() {
        return settings;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        super.open(openContext);
        taskModel = TaskModel.open(settings, getRuntimeContext());
        subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        String threadName = "qsparse-" + getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks();
        batched = new BatchedInference(taskModel, threadName, subtask);
    }

    /** Hands a result or a failure to Flink's future for one event. */
    static BatchedInference.Completion completionOf(ResultFuture<QSparseResult> future) {
        return new BatchedInference.Completion() {
            @Override
            public void complete(QSparseResult result) {
                try {
                    future.complete(Collections.singletonList(result));
                } catch (RejectedExecutionException closing) {
                    // The task is shutting down (failure or cancellation) and its mailbox is closed:
                    // the event is in the operator's checkpointed state and will be replayed.
                }
            }

            @Override
            public void fail(Throwable failure) {
                try {
                    future.completeExceptionally(failure);
                } catch (RejectedExecutionException closing) {
                    // the task is shutting down; the event is in the operator's state
                }
            }
        };
    }

    @Override
    public void asyncInvoke(byte[] input, ResultFuture<QSparseResult> resultFuture) {
        long arrival = System.nanoTime();
        taskModel.metrics.eventsReceived.inc();
        EventParser.Outcome outcome = taskModel.parser.parse(input);
        if (outcome.deadLetter != null) {
            QSparseResult dead = QSparseResult.of(outcome.deadLetter);
            taskModel.metrics.emitted(dead);
            resultFuture.complete(Collections.singletonList(dead));
            return;
        }
        batched.submit(outcome.event, arrival, resultFuture, completionOf(resultFuture));
        injectFault(FaultInjection.Point.ASYNC_INVOKE, 0);
    }

    /** A test's fault at {@code point} (see {@link FaultInjection}), thrown on the task thread. */
    private void injectFault(FaultInjection.Point point, int batchSize) {
        try {
            FaultInjection.at(point, subtask, batched.inFlight(), batchSize);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A late event becomes a dead letter with stage and reason "timeout"; the job goes on. */
    @Override
    public void timeout(byte[] input, ResultFuture<QSparseResult> resultFuture) {
        BatchedInference.Pending pending = batched.remove(resultFuture);
        if (pending != null && !pending.claim()) {
            return;
        }
        String id = pending == null ? null : pending.id();
        boolean numeric = pending != null && pending.idNumeric();
        QSparseResult dead = QSparseResult.of(DeadLetter.of(
                input,
                true,
                id,
                numeric,
                DeadLetter.STAGE_TIMEOUT,
                "timeout: no result within " + settings.timeout().toMillis() + " ms",
                settings.modelName(),
                settings.maxRecordBytes()));
        taskModel.metrics.emitted(dead);
        resultFuture.complete(Collections.singletonList(dead));
    }

    @Override
    public void close() throws Exception {
        try {
            if (batched != null) {
                batched.close(Duration.ofSeconds(30));
            }
        } finally {
            batched = null;
            if (taskModel != null) {
                taskModel.close();
                taskModel = null;
            }
            super.close();
        }
    }

    /** Path of the model this function loads (for tests and diagnostics). */
    Path modelPath() {
        return Path.of(settings.modelPath());
    }
}
