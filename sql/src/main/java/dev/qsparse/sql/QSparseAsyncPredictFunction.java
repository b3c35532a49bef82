package dev.qsparse.sql;

import dev.qsparse.flink.BatchedInference;
import dev.qsparse.flink.EventParser;
import dev.qsparse.flink.QSparseResult;
import dev.qsparse.flink.QSparseSettings;
import dev.qsparse.flink.TaskModel;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.table.api.TableException;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.FunctionContext;

/**
 * {@code ML_PREDICT} with the default {@code 'async' = 'true'}: every row goes through the same
 * {@link BatchedInference} (micro-batcher, inference threads, shared per-task-manager model,
 * metrics) as the DataStream operator's {@code QSparseAsyncFunction}. Flink's async operator holds
 * the rows in flight and checkpoints them, so a restore replays them (see {@code
 * QSparseAsyncFunction} for why that is exactly-once). A row the model cannot serve completes with
 * an error row (see {@link OutputLayout}), and so does a row still without a result after
 * {@code 'row.timeout'}; only a failure that is not about one row (a dead
 * inference thread) fails the task, which restarts from its last checkpoint.
 *
 * <p>Public only because the planner's generated code refers to it by name.
 */
public final class QSparseAsyncPredictFunction extends AsyncPredictFunction {

    private static final long serialVersionUID = 1L;

    private final QSparseSettings settings;
    private final OutputLayout layout;

    private transient TaskModel taskModel;
    private transient BatchedInference batched;
    /** Completes rows still without a result after 'row.timeout' (one daemon thread per task). */
    private transient ScheduledThreadPoolExecutor timeouts;

    QSparseAsyncPredictFunction(QSparseSettings settings, OutputLayout layout) {
        this.settings = settings;
        this.layout = layout;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        super.open(context);
        taskModel = QSparseModelProviderFactory.openTaskModel(settings, context.getMetricGroup());
        TaskInfo task = context.getTaskInfo();
        String name = "qsparse-sql-" + task.getTaskNameWithSubtasks();
        batched = new BatchedInference(taskModel, name, task.getIndexOfThisSubtask());
        timeouts = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name + "-timeouts");
            t.setDaemon(true);
            return t;
        });
        timeouts.setRemoveOnCancelPolicy(true);
    }

    /**
     * What the planner's code calls for each row. Flink's own version wraps a failure in an
     * exception whose message prints the whole input row, text included, into the job's failure,
     * its logs and the web UI; this one says which model failed and leaves the row out (the cause
     * is the failure itself, which never carries a row's text).
     */
    @Override
    public void eval(CompletableFuture<Collection<RowData>> future, Object... keys) {
        CompletableFuture<Collection<RowData>> predicted;
        try {
            predicted = asyncPredict(GenericRowData.of(keys));
        } catch (RuntimeException e) {
            future.completeExceptionally(rowFailure(e));
            return;
        }
        predicted.whenComplete((rows, failure) -> {
            if (failure != null) {
                future.completeExceptionally(rowFailure(failure));
            } else {
                future.complete(rows);
            }
        });
    }

    private TableException rowFailure(Throwable failure) {
        return new TableException(
                "the qsparse model " + settings.modelName() + " failed to serve a row (the row is not repeated"
                        + " here: it may hold private text)",
                failure);
    }

    @Override
    public CompletableFuture<Collection<RowData>> asyncPredict(RowData input) {
        long arrival = System.nanoTime();
        taskModel.received();
        CompletableFuture<Collection<RowData>> future = new CompletableFuture<>();
        EventParser.Outcome outcome = taskModel.parseText(PredictInput.text(input));
        if (outcome.deadLetter() != null) {
            QSparseResult rejected = QSparseResult.of(outcome.deadLetter());
            taskModel.emitted(rejected);
            future.complete(List.of(layout.toRow(rejected)));
            return future;
        }
        ScheduledFuture<?> timeout =
                timeouts.schedule(() -> timeOut(future), settings.timeout().toNanos(), TimeUnit.NANOSECONDS);
        batched.submit(outcome.event(), arrival, future, new BatchedInference.Completion() {
            @Override
            public void complete(QSparseResult result) {
                timeout.cancel(false);
                future.complete(List.of(layout.toRow(result)));
            }

            @Override
            public void fail(Throwable failure) {
                timeout.cancel(false);
                future.completeExceptionally(failure);
            }
        });
        return future;
    }

    /** A row still waiting: it comes out with error "timeout: ..." and its batch skips it. */
    private void timeOut(CompletableFuture<Collection<RowData>> future) {
        BatchedInference.Pending pending = batched.remove(future);
        if (pending != null && pending.claim()) {
            QSparseResult late = taskModel.timedOut();
            taskModel.emitted(late);
            future.complete(List.of(layout.toRow(late)));
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (timeouts != null) {
                timeouts.shutdownNow();
            }
            if (batched != null) {
                batched.close(Duration.ofSeconds(30));
            }
        } finally {
            timeouts = null;
            batched = null;
            if (taskModel != null) {
                taskModel.close();
                taskModel = null;
            }
            super.close();
        }
    }
}
