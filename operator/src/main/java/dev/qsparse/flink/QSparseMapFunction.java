package dev.qsparse.flink;

import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;

/**
 * The simple form: one event at a time, on the task thread, no batching. Loads (or joins) the task
 * manager's shared copy of the model in {@link #open} and releases it in {@link #close}; parsing,
 * dead letters, results and metrics are the same as {@link QSparseAsyncFunction}'s, with batches
 * of one. It holds no state, so it is exactly-once like any stateless map: a record's result is
 * emitted before the next record is read. Prefer the async, micro-batching form for throughput.
 */
public class QSparseMapFunction extends RichMapFunction<byte[], QSparseResult> {

    private static final long serialVersionUID = 1L;

    private final QSparseSettings settings;

    private transient TaskModel taskModel;
    private transient ModelRunner runner;

    public QSparseMapFunction(QSparseSettings settings) {
        this.settings = settings;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        super.open(openContext);
        taskModel = TaskModel.open(settings, getRuntimeContext());
        runner = taskModel.newRunner();
    }

    @Override
    public QSparseResult map(byte[] value) {
        long arrival = System.nanoTime();
        taskModel.metrics.eventsReceived.inc();
        EventParser.Outcome outcome = taskModel.parser.parse(value);
        QSparseResult result = outcome.deadLetter != null
                ? QSparseResult.of(outcome.deadLetter)
                : runner.run(List.of(outcome.event), new long[] {arrival}).get(0);
        taskModel.metrics.emitted(result);
        return result;
    }

    @Override
    public void close() throws Exception {
        try {
            if (runner != null) {
                runner.close();
            }
        } finally {
            runner = null;
            if (taskModel != null) {
                taskModel.close();
                taskModel = null;
            }
            super.close();
        }
    }
}
