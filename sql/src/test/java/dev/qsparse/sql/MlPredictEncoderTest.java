package dev.qsparse.sql;

import static dev.qsparse.sql.SqlModels.TEXTS;
import static dev.qsparse.sql.SqlModels.collectById;
import static dev.qsparse.sql.SqlModels.quoted;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.SharedModels;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.model.MiniLmDirectory;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code 'task' = 'embed'} on the real all-MiniLM-L6-v2 (built from langchain4j's ONNX export):
 * without 'embed.pooling' every row gets the model's own mean-pooled, normalised embedding, with
 * it the pooling asked for; 'task' = 'generate' or 'score' on the encoder fails the statement.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MlPredictEncoderTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    @TempDir
    static Path tmp;

    static Path minilm;

    @BeforeAll
    static void writeModel() throws Exception {
        minilm = MiniLmDirectory.write(tmp.resolve("all-MiniLM-L6-v2"));
    }

    @AfterEach
    void everyTaskReleasedTheModel() {
        assertEquals(0, SharedModels.totalReferences());
    }

    private static Map<String, Row> embed(String extraOptions) throws Exception {
        TableEnvironment tEnv = SqlModels.tableEnvironment();
        SqlModels.registerDocs(tEnv);
        tEnv.executeSql("CREATE TEMPORARY MODEL minilm INPUT (text STRING)"
                + " OUTPUT (embedding ARRAY<FLOAT>, error STRING)"
                + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(minilm) + ", 'task' = 'embed',"
                + " 'batch.max-size' = '4'" + extraOptions + ")");
        return collectById(
                tEnv, "SELECT id, embedding, error FROM ML_PREDICT(TABLE docs, MODEL minilm, DESCRIPTOR(text))");
    }

    @Test
    void embedGivesTheModelsOwnPoolingUnlessAsked() throws Exception {
        Map<String, Row> own = embed("");
        Map<String, Row> cls = embed(", 'embed.pooling' = 'cls'");
        assertEquals(TEXTS.length, own.size());
        try (Model model = Model.load(minilm);
                InferenceSession session = model.newSession()) {
            for (int i = 0; i < TEXTS.length; i++) {
                String id = "d" + i;
                assertNull(own.get(id).getField(2));
                assertArrayEquals(session.embed(TEXTS[i], null).vector(), floats(own.get(id)), id);
                assertArrayEquals(session.embed(TEXTS[i], Pooling.CLS).vector(), floats(cls.get(id)), id);
                float[] v = floats(own.get(id));
                double norm = 0;
                for (float x : v) {
                    norm += x * x;
                }
                assertEquals(384, v.length);
                assertEquals(1.0, norm, 1e-4, "2_Normalize: a unit vector");
            }
        }
    }

    @Test
    void generateOrScoreOnAnEncoderFailsTheStatement() {
        for (String task : new String[] {"generate", "score"}) {
            TableEnvironment tEnv = SqlModels.tableEnvironment();
            SqlModels.registerDocs(tEnv);
            String output = task.equals("generate") ? "g STRING" : "s DOUBLE";
            tEnv.executeSql("CREATE TEMPORARY MODEL m INPUT (text STRING) OUTPUT (" + output + ")"
                    + " WITH ('provider' = 'qsparse', 'model-path' = " + quoted(minilm) + ", 'task' = '" + task
                    + "')");
            Throwable t = assertThrows(
                    Throwable.class,
                    () -> tEnv.explainSql("SELECT * FROM ML_PREDICT(TABLE docs, MODEL m, DESCRIPTOR(text))"));
            StringBuilder all = new StringBuilder();
            for (Throwable c = t; c != null; c = c.getCause()) {
                all.append(c.getMessage()).append(" | ");
            }
            assertTrue(
                    all.toString()
                            .contains("'task' = '" + task + "' does not fit 'model-path' = " + minilm
                                    + ": it is an encoder (model_type bert), which only embeds"),
                    all.toString());
        }
    }

    private static float[] floats(Row r) {
        Float[] boxed = (Float[]) r.getField(1);
        float[] out = new float[boxed.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = boxed[i];
        }
        return out;
    }
}
