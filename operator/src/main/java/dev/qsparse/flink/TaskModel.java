package dev.qsparse.flink;

import java.nio.file.Path;
import org.apache.flink.api.common.functions.RuntimeContext;

/**
 * What one parallel task holds while it is open: its lease on the shared model, the event parser
 * and its metrics. Shared by {@link QSparseAsyncFunction} and {@link QSparseMapFunction}.
 */
final class TaskModel implements AutoCloseable {

    final QSparseSettings settings;
    final SharedModels.Lease lease;
    final EventParser parser;
    final OperatorMetrics metrics;

    private TaskModel(QSparseSettings settings, SharedModels.Lease lease, OperatorMetrics metrics) {
        this.settings = settings;
        this.lease = lease;
        this.parser = new EventParser(settings);
        this.metrics = metrics;
    }

    /**
     * Acquires the model and registers the metrics.
     *
     * @throws ModelUnavailableException the model cannot be loaded; the message names the path
     *                                   and the cause, and the task fails at open
     */
    static TaskModel open(QSparseSettings settings, RuntimeContext context) throws ModelUnavailableException {
        Path path = Path.of(settings.modelPath());
        SharedModels.Lease lease;
        try {
            lease = SharedModels.acquire(path);
        } catch (Exception | LinkageError e) {
            throw new ModelUnavailableException(
                    "cannot load the Q-Sparse model at " + path.toAbsolutePath() + " ("
                            + QSparseOptions.MODEL_PATH.key() + "): " + e.getMessage(),
                    e);
        }
        try {
            return new TaskModel(
                    settings, lease, new OperatorMetrics(context.getMetricGroup(), lease.path(), lease.model()));
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    ModelRunner newRunner() {
        return new ModelRunner(lease.model(), settings.modelName(), settings.maxRecordBytes(), metrics);
    }

    @Override
    public void close() {
        lease.close();
    }
}
