package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.FaultInjection;
import dev.qsparse.flink.SharedModels;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A model definition that cannot run is refused before any row flows: NOT NULL output columns,
 * durations and sizes out of their bounds fail the statement at planning (naming the key and the
 * bound); a chat template the model's tokenizer cannot end fails the task once, at open.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MlPredictPlansOnlyWhatRunsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    @AfterEach
    void everyTaskReleasedTheModel() {
        assertEquals(0, SharedModels.totalReferences());
    }

    private static final String QUERY = "SELECT * FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))";

    /** Plans {@link #QUERY} over a model with these columns and extra options; the failure's message chain. */
    private static String planningFailure(String columns, String task, String options) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (" + columns + ")"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = '" + task + "'"
                + options + ")");
        Throwable t = assertThrows(Throwable.class, () -> tEnv.explainSql(QUERY), columns + " " + options);
        return chain(t);
    }

    private static String chain(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            all.append(c.getMessage()).append(" | ");
        }
        return all.toString();
    }

    private static void plans(String columns, String task, String options) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (" + columns + ")"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = '" + task + "'"
                + options + ")");
        tEnv.explainSql(QUERY);
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void aNotNullOutputColumnIsRefusedAtPlanning() {
        assertContains(
                planningFailure("e ARRAY<FLOAT> NOT NULL", "embed", ""),
                "OUTPUT column 'e' is declared NOT NULL",
                "e ARRAY<FLOAT>");
        assertContains(
                planningFailure("g STRING, error STRING NOT NULL", "generate", ""),
                "OUTPUT column 'error' is declared NOT NULL");
        assertContains(
                planningFailure("s DOUBLE, input_tokens INT NOT NULL", "score", ""),
                "OUTPUT column 'input_tokens' is declared NOT NULL");
        // Elements of the embedding are never null: only the column itself must be nullable.
        plans("e ARRAY<FLOAT NOT NULL>, error STRING", "embed", "");
    }

    @Test
    void everyDurationIsBoundedAtPlanning() {
        // 200000 d overflowed a long of nanoseconds when the first row arrived.
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'row.timeout' = '200000 d'"),
                "'row.timeout' must be between 1 ms and 1 d, got 200000 d");
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'batch.max-wait' = '200000 d'"),
                "'batch.max-wait' must be between 0 ms and 1 min, got 200000 d");
        // 1 ns was accepted and then reported as "no result within 0 ms".
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'row.timeout' = '1 ns'"),
                "'row.timeout' must be between 1 ms and 1 d, got 1 ns");
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'row.timeout' = '0 ms'"),
                "'row.timeout' must be between 1 ms and 1 d, got 0 ms");
        plans("e ARRAY<FLOAT>", "embed", ", 'row.timeout' = '1 d', 'batch.max-wait' = '1 min'");
        plans("e ARRAY<FLOAT>", "embed", ", 'row.timeout' = '1 ms', 'batch.max-wait' = '0 ms'");
    }

    @Test
    void everySizeIsBoundedAtPlanning() {
        // 2147483647 planned, then ran out of memory.
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'batch.max-size' = '2147483647'"),
                "'batch.max-size' must be between 1 and 4096, got 2147483647");
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'threads' = '100000'"),
                "'threads' must be between 1 and 256, got 100000");
        assertContains(
                planningFailure("e ARRAY<FLOAT>", "embed", ", 'input.max-chars' = '2147483647'"),
                "'input.max-chars' must be between 1 and 1048576, got 2147483647");
        plans(
                "e ARRAY<FLOAT>",
                "embed",
                ", 'batch.max-size' = '4096', 'threads' = '256', 'input.max-chars' = '1048576'");
    }

    @Test
    void aChatTemplateTheTokenizerCannotEndFailsTheTaskAtOpen() {
        // The test model's tokenizer has no <|im_end|>: before, every row failed on its own with
        // an error while the job went on; now the task fails once, at open, saying why.
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (g STRING, error STRING)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'generate',"
                + " 'generate.max-new-tokens' = '2', 'generate.chat' = 'chatml')");
        for (String config : new String[] {"", ", MAP['async', 'false']"}) {
            Exception e = assertThrows(
                    Exception.class,
                    () -> collectById(
                            tEnv,
                            "SELECT id, g, error FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text)" + config
                                    + ")"));
            String all = ExceptionUtils.stringifyException(e);
            assertContains(
                    all,
                    "'generate.chat' does not fit the model at "
                            + MODEL.toAbsolutePath().normalize(),
                    "stop token '<|im_end|>' is not an added token of the model's tokenizer");
        }
    }

    @Test
    void aFailedRowDoesNotPutItsTextIntoTheJobsFailure() {
        // A failure that is not about one row (here: the runtime throws an Error mid-batch) fails
        // the task; the text of the row it met must not be in the exception Flink logs and reports.
        FaultInjection.install((point, subtask, inFlight, batchSize) -> {
            if (point == FaultInjection.Point.INFERENCE_BATCH) {
                throw new IllegalStateException("injected inference failure");
            }
        });
        try {
            TableEnvironment tEnv = SqlModels.tableEnvironment();
            SqlModels.registerDocs(tEnv);
            tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>, error STRING)"
                    + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed')");
            Exception e = assertThrows(
                    Exception.class,
                    () -> collectById(
                            tEnv, "SELECT id, e, error FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))"));
            String all = ExceptionUtils.stringifyException(e);
            assertContains(all, "injected inference failure", "failed to serve a row");
            for (String text : SqlModels.TEXTS) {
                assertFalse(all.contains(text), "row text '" + text + "' in the failure:\n" + all);
            }
        } finally {
            FaultInjection.install(null);
        }
    }

    @Test
    void servedRowsStillComeOut() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>, error STRING)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed',"
                + " 'row.timeout' = '1 d', 'batch.max-size' = '4096')");
        Map<String, Row> rows =
                collectById(tEnv, "SELECT id, e, error FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))");
        assertEquals(SqlModels.TEXTS.length, rows.size());
    }
}
