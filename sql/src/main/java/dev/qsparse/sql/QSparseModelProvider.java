package dev.qsparse.sql;

import dev.qsparse.flink.QSparseSettings;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.PredictFunction;
import org.apache.flink.table.ml.AsyncPredictRuntimeProvider;
import org.apache.flink.table.ml.ModelProvider;
import org.apache.flink.table.ml.PredictRuntimeProvider;

/**
 * A validated {@code qsparse} model: async by default (micro-batched), sync with
 * {@code ML_PREDICT(..., MAP['async', 'false'])}.
 */
final class QSparseModelProvider implements AsyncPredictRuntimeProvider, PredictRuntimeProvider {

    private final QSparseSettings settings;
    private final OutputLayout layout;

    QSparseModelProvider(QSparseSettings settings, OutputLayout layout) {
        this.settings = settings;
        this.layout = layout;
    }

    QSparseSettings settings() {
        return settings;
    }

    @Override
    public AsyncPredictFunction createAsyncPredictFunction(Context context) {
        return new QSparseAsyncPredictFunction(settings, layout);
    }

    @Override
    public PredictFunction createPredictFunction(Context context) {
        return new QSparsePredictFunction(settings, layout);
    }

    @Override
    public ModelProvider copy() {
        return new QSparseModelProvider(settings, layout);
    }
}
