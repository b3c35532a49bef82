package dev.qsparse.sql;

import dev.qsparse.flink.EventParser;
import dev.qsparse.flink.ModelRunner;
import dev.qsparse.flink.QSparseResult;
import dev.qsparse.flink.QSparseSettings;
import dev.qsparse.flink.TaskModel;
import java.util.Collection;
import java.util.List;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.PredictFunction;

/**
 * {@code ML_PREDICT} with {@code MAP['async', 'false']}: one row at a time on the task thread, as
 * the operator's {@code QSparseMapFunction} does (same shared model, validation, results and
 * metrics; batches of one). Slower than the async form; it holds no state.
 *
 * <p>Public only because the planner's generated code refers to it by name.
 */
public final class QSparsePredictFunction extends PredictFunction {

    private static final long serialVersionUID = 1L;

    private final QSparseSettings settings;
    private final OutputLayout layout;

    private transient TaskModel taskModel;
    private transient ModelRunner runner;

    QSparsePredictFunction(QSparseSettings settings, OutputLayout layout) {
        this.settings = settings;
        this.layout = layout;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        super.open(context);
        taskModel = QSparseModelProviderFactory.openTaskModel(settings, context.getMetricGroup());
        runner = taskModel.newRunner();
    }

    @Override
    public Collection<RowData> predict(RowData input) {
        long arrival = System.nanoTime();
        taskModel.received();
        EventParser.Outcome outcome = taskModel.parseText(PredictInput.text(input));
        QSparseResult result = outcome.deadLetter() != null
                ? QSparseResult.of(outcome.deadLetter())
                : runner.run(List.of(outcome.event()), new long[] {arrival}).get(0);
        taskModel.emitted(result);
        return List.of(layout.toRow(result));
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
