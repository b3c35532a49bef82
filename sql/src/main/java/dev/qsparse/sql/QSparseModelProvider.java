package dev.qsparse.sql;

import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.flink.QSparseSettings;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.PredictFunction;
import org.apache.flink.table.ml.AsyncPredictRuntimeProvider;
import org.apache.flink.table.ml.ModelProvider;
import org.apache.flink.table.ml.PredictRuntimeProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A validated {@code qsparse} model: async by default (micro-batched), sync with
 * {@code ML_PREDICT(..., MAP['async', 'false'])}. The async function's batch size is fitted to
 * the rows ML_PREDICT lets wait at once ({@link InFlightBudget}), read from the statement's
 * runtime configuration when the planner asks for the function.
 */
final class QSparseModelProvider implements AsyncPredictRuntimeProvider, PredictRuntimeProvider {

    private static final Logger LOG = LoggerFactory.getLogger(QSparseModelProvider.class);

    private final String model;
    private final Configuration operatorConfig;
    private final QSparseSettings settings;
    private final OutputLayout layout;
    private final int tableRowsInFlight;

    /**
     * {@code operatorConfig}: the operator options {@code settings} were read from;
     * {@code tableRowsInFlight}: {@code table.exec.async-ml-predict.max-concurrent-operations} where
     * the statement is planned.
     */
    QSparseModelProvider(
            String model,
            Configuration operatorConfig,
            QSparseSettings settings,
            OutputLayout layout,
            int tableRowsInFlight) {
        this.model = model;
        this.operatorConfig = operatorConfig;
        this.settings = settings;
        this.layout = layout;
        this.tableRowsInFlight = tableRowsInFlight;
    }

    QSparseSettings settings() {
        return settings;
    }

    @Override
    public AsyncPredictFunction createAsyncPredictFunction(Context context) {
        InFlightBudget budget = InFlightBudget.of(model, settings, tableRowsInFlight, context.runtimeConfig());
        budget.warning().ifPresent(LOG::warn);
        QSparseSettings fitted = settings;
        if (budget.batchSize != settings.maxBatchSize()) {
            Configuration capped = new Configuration(operatorConfig);
            capped.set(QSparseOptions.BATCH_MAX_SIZE, budget.batchSize);
            fitted = QSparseSettings.from(capped);
        }
        return new QSparseAsyncPredictFunction(fitted, layout);
    }

    @Override
    public PredictFunction createPredictFunction(Context context) {
        return new QSparsePredictFunction(settings, layout);
    }

    @Override
    public ModelProvider copy() {
        return new QSparseModelProvider(model, operatorConfig, settings, layout, tableRowsInFlight);
    }
}
