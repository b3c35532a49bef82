package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import dev.qsparse.runtime.model.MiniLmDirectory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator on the real all-MiniLM-L6-v2 (a sentence-transformers directory built from
 * langchain4j's ONNX export) in a Flink mini cluster: embed events come out as the model's own
 * mean-pooled, normalised embeddings, equal to a session's; an event asking to generate or score
 * is a dead letter saying the model is an encoder; a job configured to generate on it fails at open.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class EncoderMiniClusterTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    @TempDir
    static Path tmp;

    static Path minilm;

    private static final List<String> TEXTS = List.of(
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "Ein Mann isst Brot.");

    @BeforeAll
    static void writeModel() throws Exception {
        minilm = MiniLmDirectory.write(tmp.resolve("all-MiniLM-L6-v2"));
    }

    private static StreamExecutionEnvironment env() {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(1);
        return env;
    }

    private static byte[] event(String id, String text, String mode) {
        String m = mode == null ? "" : ", \"mode\": \"" + mode + "\"";
        return ("{\"id\": \"" + id + "\", \"text\": \"" + text + "\"" + m + "}").getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void embedEventsGetTheModelsOwnPoolingAndEventsAskingToGenerateAreDeadLetters() throws Exception {
        List<byte[]> events = new ArrayList<>();
        for (int i = 0; i < TEXTS.size(); i++) {
            events.add(event("e" + i, TEXTS.get(i), null));
        }
        events.add(event("g", "Once upon a time", "generate"));
        events.add(event("s", "Once upon a time", "score"));
        events.add(cls());

        StreamExecutionEnvironment env = env();
        QSparseEnrichment.Streams out = QSparseEnrichment.builder()
                .modelPath(minilm.toString())
                .maxBatchSize(4)
                .maxWait(Duration.ofMillis(5))
                .build()
                .apply(env.fromData(QSparseEnrichment.BYTES, events.toArray(byte[][]::new)));
        Map<String, QSparseResult> byId = new HashMap<>();
        try (CloseableIterator<QSparseResult> it = out.results().executeAndCollect("qsparse-minilm")) {
            it.forEachRemaining(r -> byId.put(r.isDeadLetter() ? r.deadLetter.id : r.enriched.id, r));
        }
        assertEquals(events.size(), byId.size(), byId.keySet().toString());

        assertNull(out.settings().pooling(), "unset: the model's own");
        try (Model model = Model.load(minilm);
                InferenceSession session = model.newSession()) {
            for (int i = 0; i < TEXTS.size(); i++) {
                QSparseResult r = byId.get("e" + i);
                assertTrue(!r.isDeadLetter(), () -> r.toJson());
                assertEquals("mean", r.enriched.pooling, "1_Pooling of all-MiniLM-L6-v2 is mean");
                assertEquals(384, r.enriched.embedding.length);
                assertArrayEquals(session.embed(TEXTS.get(i), null).vector(), r.enriched.embedding, TEXTS.get(i));
            }
            QSparseResult c = byId.get("c");
            assertEquals("cls", c.enriched.pooling);
            assertArrayEquals(session.embed(TEXTS.get(0), Pooling.CLS).vector(), c.enriched.embedding);
        }
        // Related sentences are nearer than unrelated ones: the vectors are a real model's.
        float[] food = byId.get("e0").enriched.embedding;
        assertTrue(dot(food, byId.get("e1").enriched.embedding) > dot(food, byId.get("e2").enriched.embedding) + 0.3);

        for (String id : List.of("g", "s")) {
            QSparseResult r = byId.get(id);
            assertTrue(r.isDeadLetter(), id);
            assertEquals(DeadLetter.STAGE_INFERENCE, r.deadLetter.stage);
            assertTrue(
                    r.deadLetter.reason.contains("is an encoder (model_type bert): it embeds text, it cannot"),
                    r.deadLetter.reason);
        }
    }

    private static byte[] cls() {
        return "{\"id\": \"c\", \"text\": \"A man is eating food.\", \"params\": {\"pooling\": \"cls\"}}"
                .getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aJobConfiguredToGenerateOnAnEncoderFailsAtOpenNamingTheOption() {
        for (Task mode : List.of(Task.GENERATE, Task.SCORE)) {
            StreamExecutionEnvironment env = env();
            QSparseEnrichment.builder()
                    .modelPath(minilm.toString())
                    .mode(mode)
                    .build()
                    .apply(env.fromData(QSparseEnrichment.BYTES, event("1", "text", null)))
                    .enriched()
                    .map(e -> e.id)
                    .returns(String.class);
            Exception e = assertThrows(Exception.class, () -> env.execute("qsparse-minilm-" + mode));
            ModelUnavailableException cause = ExceptionUtils.findThrowable(e, ModelUnavailableException.class)
                    .orElseThrow(() -> new AssertionError("no ModelUnavailableException in", e));
            String wire = mode.wireName();
            assertTrue(
                    cause.getMessage()
                            .startsWith("qsparse.mode = " + wire + " does not fit the model at "
                                    + minilm.toAbsolutePath() + ": it is an encoder (model_type bert)"),
                    cause.getMessage());
            assertEquals(0, SharedModels.references(minilm), "released after the failed open");
        }
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
