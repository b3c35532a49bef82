package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.MODEL;
import static dev.qsparse.sql.SqlModels.TEXTS;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.SharedModels;
import dev.qsparse.runtime.inference.Task;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code CREATE MODEL ... WITH ('provider' = 'qsparse')} and {@code ML_PREDICT} on a real mini
 * cluster, for each task, async (micro-batched) and sync: the results equal the DataStream
 * operator's for the same texts.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MlPredictTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    /** Floats of the same model on the same text; batch composition may differ between the two paths. */
    private static final double TOLERANCE = 1e-5;

    @AfterEach
    void everyTaskReleasedTheModel() {
        assertEquals(0, SharedModels.totalReferences(), "a predict function kept its lease on the shared model");
    }

    @Test
    void embedAsyncAndSyncGiveTheOperatorsEmbeddings() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL embedder"
                + " INPUT (text STRING)"
                + " OUTPUT (embedding ARRAY<FLOAT>, input_tokens INT, activation_sparsity DOUBLE, error STRING,"
                + " batch_size INT)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'embed',"
                + " 'batch.max-size' = '4', 'batch.max-wait' = '20 ms')");
        Map<String, EnrichedEvent> expected = SqlModels.operatorResults(Task.EMBED, 16);

        for (String config :
                new String[] {"", ", MAP['async', 'true', 'max-concurrent-operations', '8']", ", MAP['async', 'false']"
                }) {
            Map<String, Row> rows = collectById(
                    tEnv,
                    "SELECT id, embedding, input_tokens, activation_sparsity, error, batch_size"
                            + " FROM ML_PREDICT(TABLE docs, MODEL embedder, DESCRIPTOR(text)" + config + ")");
            assertEquals(TEXTS.length, rows.size(), config);
            int largestBatch = rows.values().stream()
                    .mapToInt(r -> (Integer) r.getField(5))
                    .max()
                    .orElseThrow();
            if (config.contains("'false'")) {
                assertEquals(1, largestBatch, "the sync function serves one row at a time");
            } else {
                // All rows are there at once: the operator's micro-batcher groups them (at most 4).
                assertTrue(largestBatch > 1 && largestBatch <= 4, "largest micro-batch " + largestBatch);
            }
            for (Map.Entry<String, Row> r : rows.entrySet()) {
                EnrichedEvent want = expected.get(r.getKey());
                Float[] got = (Float[]) r.getValue().getField(1);
                assertEquals(want.embedding.length, got.length);
                for (int i = 0; i < got.length; i++) {
                    assertEquals(want.embedding[i], got[i], TOLERANCE, r.getKey() + "[" + i + "] " + config);
                }
                assertEquals(want.inputTokens, r.getValue().getField(2));
                assertEquals(want.activationSparsity, (Double) r.getValue().getField(3), TOLERANCE);
                assertNull(r.getValue().getField(4));
            }
        }
    }

    @Test
    void generateAsyncAndSyncGiveTheOperatorsTexts() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL writer"
                + " INPUT (prompt STRING)"
                + " OUTPUT (completion STRING, generated_tokens INT, finish_reason STRING)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'generate',"
                + " 'generate.max-new-tokens' = '6')");
        Map<String, EnrichedEvent> expected = SqlModels.operatorResults(Task.GENERATE, 6);

        for (String config : new String[] {"", ", MAP['async', 'false']"}) {
            Map<String, Row> rows = collectById(
                    tEnv,
                    "SELECT id, completion, generated_tokens, finish_reason"
                            + " FROM ML_PREDICT(TABLE docs, MODEL writer, DESCRIPTOR(text)" + config + ")");
            assertEquals(TEXTS.length, rows.size(), config);
            for (Map.Entry<String, Row> r : rows.entrySet()) {
                EnrichedEvent want = expected.get(r.getKey());
                assertEquals(want.generatedText, r.getValue().getField(1), r.getKey() + " " + config);
                assertEquals(want.generatedTokens.length, r.getValue().getField(2));
                assertEquals(want.finishReason, r.getValue().getField(3));
            }
        }
    }

    @Test
    void scoreAsyncAndSyncGiveTheOperatorsLogprobs() throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL scorer"
                + " INPUT (text STRING)"
                + " OUTPUT (logprob DOUBLE, perplexity DOUBLE, scored_tokens INT)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(MODEL) + ", 'task' = 'score')");
        Map<String, EnrichedEvent> expected = SqlModels.operatorResults(Task.SCORE, 16);

        for (String config : new String[] {"", ", MAP['async', 'false']"}) {
            Map<String, Row> rows = collectById(
                    tEnv,
                    "SELECT id, logprob, perplexity, scored_tokens"
                            + " FROM ML_PREDICT(TABLE docs, MODEL scorer, DESCRIPTOR(text)" + config + ")");
            assertEquals(TEXTS.length, rows.size(), config);
            for (Map.Entry<String, Row> r : rows.entrySet()) {
                EnrichedEvent want = expected.get(r.getKey());
                Double logprob = (Double) r.getValue().getField(1);
                assertNotNull(logprob);
                assertTrue(logprob < 0, "a log-probability is negative: " + logprob);
                assertEquals(want.logprob, logprob, TOLERANCE * Math.abs(want.logprob), r.getKey() + " " + config);
                assertEquals(want.perplexity, (Double) r.getValue().getField(2), TOLERANCE * want.perplexity);
                assertEquals(want.scoredTokens, r.getValue().getField(3));
            }
        }
    }
}
