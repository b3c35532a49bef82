package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.FaultInjection;
import dev.qsparse.flink.SharedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What goes wrong, and what the user is told: bad rows get a null result and an error column while
 * the job goes on; a bad model definition fails the statement at planning with a message naming
 * the option or column.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MlPredictErrorsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .setConfiguration(reporter())
            .build());

    private static Configuration reporter() {
        Configuration c = new Configuration();
        c.setString("metrics.reporter.collect.factory.class", MetricsCollector.Factory.class.getName());
        return c;
    }

    @AfterEach
    void everyTaskReleasedTheModel() {
        assertEquals(0, SharedModels.totalReferences());
    }

    private static final String GOOD = "A good sentence for the model.";

    /** rows(id, text): a good text, null, empty, blank, one over the limit, another good one. */
    private static void registerBadRows(TableEnvironment tEnv) {
        List<Row> rows = new ArrayList<>();
        rows.add(Row.of("good-1", GOOD));
        rows.add(Row.of("null", null));
        rows.add(Row.of("empty", ""));
        rows.add(Row.of("blank", "   \t "));
        rows.add(Row.of("long", "x".repeat(81)));
        rows.add(Row.of("good-2", "Another one."));
        tEnv.createTemporaryView(
                "rows_in",
                tEnv.fromValues(
                        DataTypes.ROW(
                                DataTypes.FIELD("id", DataTypes.STRING()), DataTypes.FIELD("text", DataTypes.STRING())),
                        rows));
    }

    @Test
    void badRowsGetANullResultAndAnErrorWhileTheJobGoesOn() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        registerBadRows(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING)"
                + " OUTPUT (embedding ARRAY<FLOAT>, error STRING, text_truncated BOOLEAN)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed',"
                + " 'input.max-chars' = '80', 'input.overflow' = 'reject')");
        for (String config : new String[] {"", ", MAP['async', 'false']"}) {
            MetricsCollector.METRICS.clear();
            MetricsCollector.PROMETHEUS_NAMES.clear();
            Map<String, Row> rows = collectById(
                    tEnv,
                    "SELECT id, embedding, error, text_truncated"
                            + " FROM ML_PREDICT(TABLE rows_in, MODEL m, DESCRIPTOR(text)" + config + ")");
            assertEquals(6, rows.size(), "every row comes out " + config);
            for (String good : List.of("good-1", "good-2")) {
                assertNotNull(rows.get(good).getField(1), good);
                assertNull(rows.get(good).getField(2), good);
                assertEquals(false, rows.get(good).getField(3));
            }
            assertEquals("validate: missing text (null)", rows.get("null").getField(2));
            assertEquals("validate: empty text", rows.get("empty").getField(2));
            assertEquals("validate: empty text", rows.get("blank").getField(2));
            assertEquals(
                    "validate: text has 81 characters, over the limit of 80",
                    rows.get("long").getField(2));
            for (String bad : List.of("null", "empty", "blank", "long")) {
                assertNull(rows.get(bad).getField(1), bad);
                assertNull(rows.get(bad).getField(3), bad);
            }
            // The operator's metrics, in the predict operator's group.
            assertEquals(6, MetricsCollector.counter(".qsparse.eventsReceived"), config);
            assertEquals(2, MetricsCollector.counter(".qsparse.eventsEnriched"), config);
            // Every bad row failed validation: counted under that stage (a label in Prometheus).
            assertEquals(4, MetricsCollector.counter(".qsparse.stage.validate.deadLetters"), config);
            assertEquals(0, MetricsCollector.counter(".qsparse.stage.timeout.deadLetters"), config);
            assertTrue(
                    MetricsCollector.METRICS.keySet().stream().anyMatch(k -> k.endsWith(".qsparse.batchSize")),
                    "batchSize histogram");
            // The same Prometheus names as the DataStream operator's, so the Grafana dashboard and the
            // alert rules (docker/) serve SQL jobs too.
            Set<String> exported = new TreeSet<>();
            MetricsCollector.PROMETHEUS_NAMES.values().stream()
                    .filter(n -> n.contains("_qsparse_"))
                    .forEach(exported::add);
            assertEquals(operatorMetricNames(), exported, config);
        }
    }

    /** The qsparse names the operator's mini-cluster test asserts (operator/src/test/resources). */
    private static Set<String> operatorMetricNames() throws java.io.IOException {
        Set<String> names = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("../operator/src/test/resources/prometheus-metrics.txt"))) {
            String name = line.strip().split("\\s+")[0];
            if (name.startsWith("flink_taskmanager_job_task_operator_qsparse_")) {
                names.add(name);
            }
        }
        return names;
    }

    @Test
    void aRowWithoutAResultInTimeComesOutWithATimeoutError() throws Exception {
        // Every batch is slower than row.timeout: each row is completed by its timeout, and the
        // batch's late results are dropped.
        FaultInjection.install((point, subtask, inFlight, batchSize) -> {
            if (point == FaultInjection.Point.INFERENCE_BATCH) {
                Thread.sleep(600);
            }
        });
        try {
            TableEnvironment tEnv = SqlModels.tableEnvironment();
            SqlModels.registerDocs(tEnv);
            tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>, error STRING)"
                    + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed',"
                    + " 'batch.max-size' = '2', 'row.timeout' = '200 ms')");
            Map<String, Row> rows =
                    collectById(tEnv, "SELECT id, e, error FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))");
            assertEquals(SqlModels.TEXTS.length, rows.size());
            for (Row r : rows.values()) {
                assertNull(r.getField(1), r.toString());
                assertEquals("timeout: no result within 200 ms", r.getField(2), r.toString());
            }
        } finally {
            FaultInjection.install(null);
        }
    }

    @Test
    void aTooLongTextIsTruncatedByDefaultAndSaysSo() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        registerBadRows(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (s DOUBLE, text_truncated BOOLEAN)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'score',"
                + " 'input.max-chars' = '80')");
        // Without an error column a bad row still comes out, with nulls.
        Map<String, Row> rows = collectById(
                tEnv, "SELECT id, s, text_truncated FROM ML_PREDICT(TABLE rows_in, MODEL m, DESCRIPTOR(text))");
        assertEquals(6, rows.size());
        assertEquals(true, rows.get("long").getField(2));
        assertNotNull(rows.get("long").getField(1));
        assertNull(rows.get("empty").getField(1));
    }

    /** Plans a query over {@code model}; returns the message chain of the failure. */
    private static String planningFailure(String createModel, String query) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY VIEW lengths AS SELECT id, CHAR_LENGTH(text) AS n FROM docs");
        tEnv.executeSql(createModel);
        Throwable t = assertThrows(Throwable.class, () -> tEnv.explainSql(query));
        StringBuilder all = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            all.append(c.getMessage()).append(" | ");
        }
        return all.toString();
    }

    private static String failureOf(String modelColumnsAndOptions) {
        return planningFailure(
                "CREATE TEMPORARY MODEL m " + modelColumnsAndOptions,
                "SELECT * FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))");
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void aMissingModelPathOrTaskIsNamed() {
        assertContains(
                failureOf(
                        "INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'task' = 'embed')"),
                "model-path");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ")"),
                "task");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'classify')"),
                "task",
                "classify");
    }

    @Test
    void aBadModelPathIsNamed(@TempDir Path dir) throws Exception {
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' ="
                        + " '/no/such/model', 'task' = 'embed')"),
                "Invalid qsparse model",
                "'model-path' = /no/such/model: no such directory");
        Path file = Files.writeString(dir.resolve("config.json"), "{}");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(file) + ", 'task' = 'embed')"),
                "not a directory");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(dir.resolve("..")) + ", 'task' = 'embed')"),
                "no config.json");
    }

    @Test
    void aModelThatCannotBeLoadedFailsTheJobNamingThePath(@TempDir Path dir) throws Exception {
        // Planning is told not to look (as when only task managers see the model): the task fails at open.
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"qsparse\"}");
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(dir) + ", 'task' = 'embed',"
                + " 'check-model-path' = 'false')");
        Exception e = assertThrows(
                Exception.class,
                () -> collectById(tEnv, "SELECT id, e FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))"));
        String chain = ExceptionUtils.stringifyException(e);
        assertContains(chain, "cannot load the Q-Sparse model at " + dir.toAbsolutePath());
    }

    @Test
    void anOptionOutOfRangeIsNamedByItsSqlKey() {
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'embed', 'batch.max-size' = '0')"),
                "'batch.max-size' must be between 1 and 4096, got 0");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'embed', 'batch.max-sise' = '8')"),
                "batch.max-sise");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (g STRING) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'generate', 'generate.max-new-tokens' = '300')"),
                "'generate.max-new-tokens' = 300 exceeds qsparse.generate.max-new-tokens-limit = 256");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (g STRING) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'generate', 'generate.temperature' = '1e-300')"),
                "temperature");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (g STRING) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'generate', 'generate.chat-stop' = '<|end|>')"),
                "'generate.chat-stop' goes with a 'generate.chat' template string");
    }

    @Test
    void theInputMustBeOneStringColumn() {
        String lengths = "SELECT * FROM ML_PREDICT(TABLE lengths, MODEL m, DESCRIPTOR(n))";
        assertContains(
                planningFailure(
                        "CREATE TEMPORARY MODEL m INPUT (n INT) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse',"
                                + " 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed')",
                        lengths),
                "takes exactly one STRING input column",
                "INPUT (n INT)");
        // A table column of another type than the model's input: the planner refuses it.
        String message = planningFailure(
                "CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (e ARRAY<FLOAT>) WITH ('provider' = 'qsparse',"
                        + " 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed')",
                lengths);
        assertContains(message, "Descriptor column 'n' type INT", "model input type STRING");
    }

    @Test
    void theOutputMustFitTheTask() {
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (e STRING) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'embed')"),
                "task embed",
                "first OUTPUT column to be ARRAY<FLOAT>");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (g INT) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'generate')"),
                "to be STRING");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (s FLOAT) WITH ('provider' = 'qsparse', 'model-path' = "
                        + quoted(MODEL) + ", 'task' = 'score')"),
                "to be DOUBLE");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (s DOUBLE, tokens INT) WITH ('provider' = 'qsparse',"
                        + " 'model-path' = " + quoted(MODEL) + ", 'task' = 'score')"),
                "unknown OUTPUT column 'tokens'",
                "input_tokens INT");
        assertContains(
                failureOf("INPUT (text STRING) OUTPUT (s DOUBLE, input_tokens BIGINT) WITH ('provider' = 'qsparse',"
                        + " 'model-path' = " + quoted(MODEL) + ", 'task' = 'score')"),
                "'input_tokens' must be INT");
    }
}
