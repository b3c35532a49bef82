package dev.qsparse.sql;

import dev.qsparse.flink.DeadLetter;
import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.QSparseResult;
import dev.qsparse.runtime.inference.Task;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

/**
 * How a model's {@code OUTPUT (...)} columns are filled from a result. The first column is the
 * task's result: {@code ARRAY<FLOAT>} for embed, {@code STRING} for generate, {@code DOUBLE} (the
 * text's log-probability) for score. Any further column is one of {@link Extra}, found by name
 * (case-insensitive) and checked for its type. A row the model could not serve (a null, blank or
 * rejected text, an inference failure) gets nulls everywhere but in {@code error}, which says why
 * ({@code "<stage>: <reason>"}) and is null for a served row.
 */
final class OutputLayout implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The optional columns after the result, by name. */
    enum Extra {
        ERROR("error", LogicalTypeRoot.VARCHAR, "STRING"),
        INPUT_TOKENS("input_tokens", LogicalTypeRoot.INTEGER, "INT"),
        INPUT_TRUNCATED("input_truncated", LogicalTypeRoot.BOOLEAN, "BOOLEAN"),
        TEXT_TRUNCATED("text_truncated", LogicalTypeRoot.BOOLEAN, "BOOLEAN"),
        ACTIVATION_SPARSITY("activation_sparsity", LogicalTypeRoot.DOUBLE, "DOUBLE"),
        BATCH_SIZE("batch_size", LogicalTypeRoot.INTEGER, "INT"),
        LATENCY_MS("latency_ms", LogicalTypeRoot.DOUBLE, "DOUBLE"),
        GENERATED_TOKENS("generated_tokens", LogicalTypeRoot.INTEGER, "INT"),
        FINISH_REASON("finish_reason", LogicalTypeRoot.VARCHAR, "STRING"),
        MEAN_LOGPROB("mean_logprob", LogicalTypeRoot.DOUBLE, "DOUBLE"),
        PERPLEXITY("perplexity", LogicalTypeRoot.DOUBLE, "DOUBLE"),
        SCORED_TOKENS("scored_tokens", LogicalTypeRoot.INTEGER, "INT"),
        MODEL_VERSION("model_version", LogicalTypeRoot.VARCHAR, "STRING");

        final String column;
        final LogicalTypeRoot root;
        final String sqlType;

        Extra(String column, LogicalTypeRoot root, String sqlType) {
            this.column = column;
            this.root = root;
            this.sqlType = sqlType;
        }

        static Extra byColumn(String name) {
            for (Extra e : values()) {
                if (e.column.equalsIgnoreCase(name)) {
                    return e;
                }
            }
            return null;
        }
    }

    private final Task task;
    private final Extra[] extras;

    private OutputLayout(Task task, Extra[] extras) {
        this.task = task;
        this.extras = extras;
    }

    /** The single input column must be a character string. */
    static void checkInput(String model, ResolvedSchema input) {
        List<Column> columns = input.getColumns();
        if (columns.size() != 1
                || !columns.get(0).getDataType().getLogicalType().is(LogicalTypeFamily.CHARACTER_STRING)) {
            throw new IllegalArgumentException("model " + model + " (provider qsparse) takes exactly one STRING"
                    + " input column, e.g. INPUT (text STRING); got INPUT (" + describe(columns) + ")");
        }
    }

    /** Checks {@code output} against {@code task}; the message names the column and what fits. */
    static OutputLayout of(String model, Task task, ResolvedSchema output) {
        List<Column> columns = output.getColumns();
        String expected = resultType(task);
        if (columns.isEmpty()
                || !isResultType(task, columns.get(0).getDataType().getLogicalType())) {
            throw new IllegalArgumentException("model " + model + " (provider qsparse, task " + task.wireName()
                    + ") needs its first OUTPUT column to be " + expected + ", e.g. OUTPUT ("
                    + defaultColumn(task) + " " + expected + "); got OUTPUT (" + describe(columns) + ")");
        }
        for (Column c : columns) {
            if (!c.getDataType().getLogicalType().isNullable()) {
                // A row the model cannot serve has nulls in every column but error (and error is
                // null for a served row): a NOT NULL column would fail the job on the first such
                // row, or let the planner assume 'IS NULL' is always false.
                throw new IllegalArgumentException("model " + model + ": OUTPUT column '" + c.getName()
                        + "' is declared NOT NULL, but the qsparse provider writes null into it for a row it"
                        + " cannot serve (null, blank or rejected text, timeout; error is null for a served row):"
                        + " declare it without NOT NULL, e.g. " + c.getName() + " "
                        + c.getDataType().getLogicalType().copy(true).asSummaryString());
            }
        }
        List<Extra> extras = new ArrayList<>();
        for (Column c : columns.subList(1, columns.size())) {
            Extra e = Extra.byColumn(c.getName());
            if (e == null) {
                throw new IllegalArgumentException("model " + model + ": unknown OUTPUT column '" + c.getName()
                        + "'; after the result column, the columns may be: "
                        + Arrays.stream(Extra.values())
                                .map(x -> x.column + " " + x.sqlType)
                                .collect(Collectors.joining(", ")));
            }
            if (extras.contains(e)) {
                throw new IllegalArgumentException("model " + model + ": OUTPUT column '" + c.getName() + "' twice");
            }
            if (c.getDataType().getLogicalType().getTypeRoot() != e.root) {
                throw new IllegalArgumentException("model " + model + ": OUTPUT column '" + c.getName() + "' must be "
                        + e.sqlType + ", got " + c.getDataType());
            }
            extras.add(e);
        }
        return new OutputLayout(task, extras.toArray(new Extra[0]));
    }

    private static boolean isResultType(Task task, LogicalType type) {
        return switch (task) {
            case EMBED ->
                type.is(LogicalTypeRoot.ARRAY)
                        && ((ArrayType) type).getElementType().is(LogicalTypeRoot.FLOAT);
            case GENERATE -> type.is(LogicalTypeFamily.CHARACTER_STRING);
            case SCORE -> type.is(LogicalTypeRoot.DOUBLE);
        };
    }

    private static String resultType(Task task) {
        return switch (task) {
            case EMBED -> "ARRAY<FLOAT>";
            case GENERATE -> "STRING";
            case SCORE -> "DOUBLE";
        };
    }

    private static String defaultColumn(Task task) {
        return switch (task) {
            case EMBED -> "embedding";
            case GENERATE -> "generated";
            case SCORE -> "logprob";
        };
    }

    private static String describe(List<Column> columns) {
        return columns.stream()
                .map(c -> c.getName() + " " + c.getDataType().toString().toUpperCase(Locale.ROOT))
                .collect(Collectors.joining(", "));
    }

    /** The output row of one result: the task's value and the extras, or nulls and the error. */
    RowData toRow(QSparseResult result) {
        GenericRowData row = new GenericRowData(1 + extras.length);
        EnrichedEvent e = result.enriched;
        if (e != null) {
            row.setField(0, resultValue(e));
        }
        for (int i = 0; i < extras.length; i++) {
            row.setField(1 + i, e != null ? extraValue(extras[i], e) : errorValue(extras[i], result.deadLetter));
        }
        return row;
    }

    private Object resultValue(EnrichedEvent e) {
        return switch (task) {
            case EMBED -> new GenericArrayData(e.embedding);
            case GENERATE -> StringData.fromString(e.generatedText);
            case SCORE -> e.logprob;
        };
    }

    private static Object extraValue(Extra extra, EnrichedEvent e) {
        return switch (extra) {
            case ERROR -> null;
            case INPUT_TOKENS -> e.inputTokens;
            case INPUT_TRUNCATED -> e.inputTruncated;
            case TEXT_TRUNCATED -> e.textTruncated;
            case ACTIVATION_SPARSITY -> e.activationSparsity;
            case BATCH_SIZE -> e.batchSize;
            case LATENCY_MS -> e.latencyMs;
            case GENERATED_TOKENS -> e.generatedTokens == null ? null : e.generatedTokens.length;
            case FINISH_REASON -> e.finishReason == null ? null : StringData.fromString(e.finishReason);
            case MEAN_LOGPROB -> e.meanLogprob;
            case PERPLEXITY -> e.perplexity;
            case SCORED_TOKENS -> e.scoredTokens;
            case MODEL_VERSION -> e.modelVersion == null ? null : StringData.fromString(e.modelVersion);
        };
    }

    private static Object errorValue(Extra extra, DeadLetter d) {
        return extra == Extra.ERROR ? StringData.fromString(d.stage + ": " + d.reason) : null;
    }
}
