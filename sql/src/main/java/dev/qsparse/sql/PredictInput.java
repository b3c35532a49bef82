package dev.qsparse.sql;

import org.apache.flink.table.data.RowData;

/** The text of an {@code ML_PREDICT} input row: its one (STRING) column, or null. */
final class PredictInput {

    private PredictInput() {}

    static String text(RowData input) {
        return input.isNullAt(0) ? null : input.getString(0).toString();
    }
}
