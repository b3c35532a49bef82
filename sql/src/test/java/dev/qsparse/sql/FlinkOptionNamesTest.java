package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The names Flink's own model providers use for the same things (flink-model-openai's
 * {@code max-tokens}, {@code temperature}, {@code top-p}, {@code seed}; the task names
 * {@code embedding} and {@code text_generation}) work as this provider's, on a real planner and
 * mini cluster; both names with different values are refused by name; {@code stop}, whose
 * separator differs, is not taken.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FlinkOptionNamesTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    private static Map<String, Row> run(String output, String options, String columns) throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (" + output + ") WITH ('provider' ="
                + " 'qsparse', 'model-path' = " + quoted(MODEL) + ", " + options + ")");
        return collectById(tEnv, "SELECT id, " + columns + " FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))");
    }

    private static String planningFailure(String options) {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (g STRING) WITH ('provider' = 'qsparse',"
                + " 'model-path' = " + quoted(MODEL) + ", " + options + ")");
        Throwable t = assertThrows(
                Throwable.class,
                () -> tEnv.explainSql("SELECT * FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))"));
        StringBuilder all = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            all.append(c.getMessage()).append(" | ");
        }
        return all.toString();
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void flinksGenerationNamesSampleAsOursDo() throws Exception {
        String output = "g STRING, generated_tokens INT";
        Map<String, Row> flinks = run(
                output,
                "'task' = 'text_generation', 'max-tokens' = '6', 'temperature' = '0.8', 'top-p' = '0.9', 'seed' = '7'",
                "g, generated_tokens");
        Map<String, Row> ours = run(
                output,
                "'task' = 'generate', 'generate.max-new-tokens' = '6', 'generate.temperature' = '0.8',"
                        + " 'generate.top-p' = '0.9', 'generate.seed' = '7'",
                "g, generated_tokens");
        Map<String, Row> otherSeed = run(
                output,
                "'task' = 'text_generation', 'max-tokens' = '6', 'temperature' = '0.8', 'top-p' = '0.9', 'seed' = '8'",
                "g, generated_tokens");
        assertEquals(SqlModels.TEXTS.length, flinks.size());
        int differ = 0;
        for (String id : ours.keySet()) {
            assertEquals(ours.get(id).getField(1), flinks.get(id).getField(1), id);
            assertTrue((Integer) flinks.get(id).getField(2) <= 6, id + ": max-tokens bounds the generation");
            if (!flinks.get(id).getField(1).equals(otherSeed.get(id).getField(1))) {
                differ++;
            }
        }
        assertTrue(differ > 0, "'seed' and 'temperature' are read: another seed samples other texts");
    }

    @Test
    void flinksEmbeddingTaskIsEmbed() throws Exception {
        Map<String, Row> flinks = run("e ARRAY<FLOAT>", "'task' = 'embedding'", "e");
        Map<String, Row> ours = run("e ARRAY<FLOAT>", "'task' = 'embed'", "e");
        assertEquals(SqlModels.TEXTS.length, flinks.size());
        for (String id : ours.keySet()) {
            assertArrayEquals(
                    (Float[]) ours.get(id).getField(1), (Float[]) flinks.get(id).getField(1), id);
        }
    }

    @Test
    void bothNamesWithTwoValuesAreRefusedByName() {
        assertContains(
                planningFailure("'task' = 'generate', 'generate.max-new-tokens' = '16', 'max-tokens' = '8'"),
                "Invalid qsparse model",
                "'generate.max-new-tokens' = '16' and 'max-tokens' = '8' name the same option");
        assertContains(
                planningFailure("'task' = 'generate', 'generate.temperature' = '0', 'temperature' = '0.7'"),
                "'generate.temperature' = '0' and 'temperature' = '0.7'");
        // The same value under both names is no conflict: it plans (and fails only later, on purpose).
        assertContains(
                planningFailure("'task' = 'generate', 'generate.max-new-tokens' = '8', 'max-tokens' = '8',"
                        + " 'generate.chat-stop' = '<|end|>'"),
                "'generate.chat-stop' goes with a 'generate.chat' template string");
    }

    @Test
    void aBadValueIsNamedByTheKeyTheStatementUsed() {
        assertContains(
                planningFailure("'task' = 'text_generation', 'max-tokens' = '300'"), "'max-tokens' = 300 exceeds");
        assertContains(planningFailure("'task' = 'classification'"), "'task' = 'classification'", "embedding");
    }

    @Test
    void flinksStopIsNotTakenItsSeparatorDiffers() {
        assertContains(planningFailure("'task' = 'generate', 'stop' = 'a,b'"), "Unsupported options", "stop");
    }
}
