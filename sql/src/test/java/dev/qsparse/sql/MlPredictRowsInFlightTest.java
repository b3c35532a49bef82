package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.config.ExecutionConfigOptions;
import org.apache.flink.table.api.config.MLPredictRuntimeConfigOptions;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * ML_PREDICT's rows in flight against the micro-batch size, read from the statement's runtime
 * configuration: below {@code 'batch.max-size'} the batches are capped at them (with a warning at
 * planning), below {@code 2 x batch.max-size x threads} only the warning; the statement's
 * {@code MAP['max-concurrent-operations']} wins over the table option; {@code 'output-mode' =
 * 'allow_unordered'} serves every row once with the same results.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MlPredictRowsInFlightTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    private static TableEnvironment withModel(String options) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>, batch_size INT)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed'" + options
                + ")");
        return tEnv;
    }

    private static String query(String map) {
        return "SELECT id, e, batch_size FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text)" + map + ")";
    }

    private static List<String> warnings(CapturedLog log) {
        return log.messages().stream()
                .filter(m -> m.startsWith("qsparse model"))
                .toList();
    }

    @Test
    void ourKeysAreFlinks() {
        assertEquals(
                ExecutionConfigOptions.TABLE_EXEC_ASYNC_ML_PREDICT_MAX_CONCURRENT_OPERATIONS.key(),
                InFlightBudget.TABLE_MAX_CONCURRENT_OPERATIONS.key());
        assertEquals(
                ExecutionConfigOptions.TABLE_EXEC_ASYNC_ML_PREDICT_MAX_CONCURRENT_OPERATIONS.defaultValue(),
                InFlightBudget.TABLE_MAX_CONCURRENT_OPERATIONS.defaultValue());
        assertEquals(
                MLPredictRuntimeConfigOptions.ASYNC_MAX_CONCURRENT_OPERATIONS.key(),
                InFlightBudget.MAX_CONCURRENT_OPERATIONS.key());
    }

    @Test
    void batchesAreCappedAtTheRowsInFlightInsteadOfWaitingForRowsThatCannotCome() throws Exception {
        // A batch of 16 with 1 min to fill: uncapped, each batch of the 4 rows Flink lets in would
        // wait the whole minute (three batches: past this test's timeout).
        TableEnvironment tEnv = withModel(", 'batch.max-size' = '16', 'batch.max-wait' = '1 min'");
        try (CapturedLog log = CapturedLog.of(QSparseModelProvider.class)) {
            long start = System.nanoTime();
            Map<String, Row> rows = collectById(tEnv, query(", MAP['max-concurrent-operations', '4']"));
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertEquals(SqlModels.TEXTS.length, rows.size());
            rows.forEach((id, row) -> assertEquals(4, row.getField(2), id + ": a batch of the 4 rows in flight"));
            assertTrue(seconds < 45, "no batch waited for rows that could not come: " + seconds + " s");
            List<String> warnings = warnings(log);
            assertEquals(1, warnings.size(), () -> "one warning at planning: " + log.messages());
            String w = warnings.get(0);
            for (String part : List.of(
                    "qsparse model default_catalog.default_database.m:",
                    "ML_PREDICT's 'max-concurrent-operations' = 4 lets at most 4 rows per task wait for a result",
                    "fewer than 'batch.max-size' = 16: batches are capped at 4 rows",
                    "MAP['max-concurrent-operations', '32']",
                    "at least 32 = 2 x 'batch.max-size' x 'threads'")) {
                assertTrue(w.contains(part), "expected '" + part + "' in: " + w);
            }
        }
    }

    @Test
    void theStatementsMapWinsOverTheTableOption() throws Exception {
        TableEnvironment tEnv = withModel(", 'batch.max-size' = '16', 'batch.max-wait' = '1 min'");
        tEnv.getConfig().set(InFlightBudget.TABLE_MAX_CONCURRENT_OPERATIONS.key(), "6");
        try (CapturedLog log = CapturedLog.of(QSparseModelProvider.class)) {
            Map<String, Row> fromTable = collectById(tEnv, query(""));
            fromTable.forEach((id, row) -> assertEquals(6, row.getField(2), id));
            Map<String, Row> fromMap = collectById(tEnv, query(", MAP['max-concurrent-operations', '4']"));
            fromMap.forEach((id, row) -> assertEquals(4, row.getField(2), id));
            List<String> warnings = warnings(log);
            assertEquals(2, warnings.size(), () -> "one warning per statement: " + log.messages());
            assertTrue(
                    warnings.get(0)
                            .contains("table.exec.async-ml-predict.max-concurrent-operations = 6 lets at most 6"),
                    warnings.get(0));
            assertTrue(warnings.get(1).contains("'max-concurrent-operations' = 4 lets at most 4"), warnings.get(1));
            for (String id : fromTable.keySet()) {
                assertArrayEquals(
                        (Float[]) fromTable.get(id).getField(1),
                        (Float[]) fromMap.get(id).getField(1),
                        id);
            }
        }
    }

    @Test
    void flinksDefaultOfTenWarnsAndEnoughRowsInFlightDoNot() throws Exception {
        TableEnvironment tEnv = withModel(", 'batch.max-size' = '16', 'batch.max-wait' = '5 ms'");
        try (CapturedLog log = CapturedLog.of(QSparseModelProvider.class)) {
            Map<String, Row> rows = collectById(tEnv, query(""));
            rows.forEach((id, row) -> assertTrue((Integer) row.getField(2) <= 10, id + ": " + row));
            List<String> warnings = warnings(log);
            assertEquals(1, warnings.size(), () -> String.valueOf(log.messages()));
            assertTrue(
                    warnings.get(0)
                            .contains("table.exec.async-ml-predict.max-concurrent-operations = 10 (its default)"
                                    + " lets at most 10 rows"),
                    warnings.get(0));
        }
        try (CapturedLog log = CapturedLog.of(QSparseModelProvider.class)) {
            collectById(tEnv, query(", MAP['max-concurrent-operations', '32']"));
            assertEquals(List.of(), warnings(log), "32 = 2 x 16 x 1 is enough");
        }
        TableEnvironment twoThreads = withModel(", 'batch.max-size' = '8', 'threads' = '2'");
        try (CapturedLog log = CapturedLog.of(QSparseModelProvider.class)) {
            Map<String, Row> rows = collectById(twoThreads, query(", MAP['max-concurrent-operations', '20']"));
            assertEquals(SqlModels.TEXTS.length, rows.size());
            List<String> warnings = warnings(log);
            assertEquals(1, warnings.size(), () -> String.valueOf(log.messages()));
            assertTrue(
                    warnings.get(0).contains("fewer than 32 = 2 x 'batch.max-size' x 'threads': while a batch runs"),
                    warnings.get(0));
        }
    }

    @Test
    void allowUnorderedServesEveryRowOnceWithTheSameResults() throws Exception {
        TableEnvironment tEnv = withModel(", 'batch.max-size' = '4', 'threads' = '2'");
        Map<String, Row> ordered = collectById(tEnv, query(", MAP['max-concurrent-operations', '16']"));
        Map<String, Row> unordered =
                collectById(tEnv, query(", MAP['max-concurrent-operations', '16', 'output-mode', 'allow_unordered']"));
        assertEquals(SqlModels.TEXTS.length, unordered.size());
        assertEquals(ordered.keySet(), unordered.keySet());
        for (String id : ordered.keySet()) {
            assertArrayEquals(
                    (Float[]) ordered.get(id).getField(1),
                    (Float[]) unordered.get(id).getField(1),
                    id);
        }
    }
}
