package dev.qsparse.sql;

import dev.qsparse.flink.QSparseSettings;
import java.util.Optional;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;

/**
 * How many rows {@code ML_PREDICT}'s async operator lets wait for a result per task, and what that
 * means for the micro-batches. Flink takes it from the statement's {@code MAP['max-concurrent-operations', 'N']}
 * (the provider sees it as {@code ModelProvider.Context.runtimeConfig()}), else from the table
 * option {@code table.exec.async-ml-predict.max-concurrent-operations} (default 10), and never
 * hands more rows than that to the predict function at once.
 *
 * <p>With fewer rows in flight than {@code 'batch.max-size'}, a batch can never fill: each one
 * would wait {@code 'batch.max-wait'} for rows that cannot come. So the batch size is <b>capped</b>
 * at the rows in flight (a batch then closes as soon as every row Flink allows has arrived, which
 * is never worse than waiting), and a warning is logged when the statement is planned. Below
 * {@code 2 x 'batch.max-size' x 'threads'} (the DataStream operator's capacity: one batch running
 * and one forming per thread), batches still run but the next cannot form while one runs: that is
 * only a warning.
 */
final class InFlightBudget {

    /** Flink's table option (ExecutionConfigOptions, Flink 2.2): rows in flight when the statement sets none. */
    static final ConfigOption<Integer> TABLE_MAX_CONCURRENT_OPERATIONS = ConfigOptions.key(
                    "table.exec.async-ml-predict.max-concurrent-operations")
            .intType()
            .defaultValue(10);

    /** ML_PREDICT's own option (MLPredictRuntimeConfigOptions, Flink 2.2), in its MAP argument. */
    static final ConfigOption<Integer> MAX_CONCURRENT_OPERATIONS =
            ConfigOptions.key("max-concurrent-operations").intType().noDefaultValue();

    final int rowsInFlight;
    final int batchSize;
    private final String warning;

    private InFlightBudget(int rowsInFlight, int batchSize, String warning) {
        this.rowsInFlight = rowsInFlight;
        this.batchSize = batchSize;
        this.warning = warning;
    }

    /**
     * The budget of a statement: {@code runtimeConfig} is ML_PREDICT's MAP, {@code tableRowsInFlight}
     * the table option's value where the statement is planned.
     */
    static InFlightBudget of(
            String model, QSparseSettings settings, int tableRowsInFlight, ReadableConfig runtimeConfig) {
        Optional<Integer> fromStatement = runtimeConfig.getOptional(MAX_CONCURRENT_OPERATIONS);
        int rows = fromStatement.orElse(tableRowsInFlight);
        String source = fromStatement.isPresent()
                ? "ML_PREDICT's 'max-concurrent-operations' = " + rows
                : TABLE_MAX_CONCURRENT_OPERATIONS.key() + " = " + rows
                        + (rows == TABLE_MAX_CONCURRENT_OPERATIONS.defaultValue() ? " (its default)" : "");
        int batch = settings.maxBatchSize();
        int needed = settings.asyncCapacity();
        if (rows < 1 || rows >= needed) {
            return new InFlightBudget(rows, batch, null); // Flink itself refuses a capacity below 1
        }
        String advice = " Set ML_PREDICT's MAP['max-concurrent-operations', '" + needed + "'] (or "
                + TABLE_MAX_CONCURRENT_OPERATIONS.key() + ") to at least " + needed + " = 2 x '"
                + QSparseModelOptions.BATCH_MAX_SIZE.key() + "' x '" + QSparseModelOptions.THREADS.key()
                + "', or lower '" + QSparseModelOptions.BATCH_MAX_SIZE.key() + "'.";
        if (rows < batch) {
            return new InFlightBudget(
                    rows,
                    rows,
                    "qsparse model " + model + ": " + source + " lets at most " + rows
                            + " rows per task wait for a result, fewer than '"
                            + QSparseModelOptions.BATCH_MAX_SIZE.key()
                            + "' = " + batch + ": batches are capped at " + rows + " rows (a batch of " + batch
                            + " could never fill and each would wait '" + QSparseModelOptions.BATCH_MAX_WAIT.key()
                            + "')." + advice);
        }
        return new InFlightBudget(
                rows,
                batch,
                "qsparse model " + model + ": " + source + " lets at most " + rows
                        + " rows per task wait for a result, fewer than " + needed + " = 2 x '"
                        + QSparseModelOptions.BATCH_MAX_SIZE.key() + "' x '" + QSparseModelOptions.THREADS.key()
                        + "': while a batch runs the next cannot fill, so inference threads wait." + advice);
    }

    /** The warning to log at planning, if the rows in flight are below what the batch size needs. */
    Optional<String> warning() {
        return Optional.ofNullable(warning);
    }
}
