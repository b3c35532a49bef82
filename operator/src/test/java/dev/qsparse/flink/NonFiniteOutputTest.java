package dev.qsparse.flink;

import static dev.qsparse.flink.TestEvents.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No NaN or infinity ever leaves the operator: a model whose weights hold NaN does not load (the
 * task fails at open, naming the tensor); one whose finite weights overflow (a norm of
 * {@code Float.MAX_VALUE}) fails each event as a dead letter (stage inference) with the reason; a temperature under the floor is a dead letter
 * at validation; the JSON writers never write {@code NaN}/{@code Infinity}.
 */
class NonFiniteOutputTest {

    /** A reader that rejects NaN/Infinity tokens (Jackson's default), and strings are kept as strings. */
    static final ObjectMapper STRICT = JsonMapper.builder()
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    @TempDir
    Path dir;

    /** A copy of the test model with every weight of {@code tensor} (F32) set to {@code value}. */
    static Path poisoned(Path target, String tensor, float value) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(TestEvents.MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        try (FileChannel ch = FileChannel.open(
                target.resolve("model.safetensors"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            int n = (int) len.getLong(0);
            ByteBuffer header = ByteBuffer.allocate(n);
            ch.read(header, 8);
            JsonNode offsets =
                    new ObjectMapper().readTree(header.array()).get(tensor).get("data_offsets");
            long begin = offsets.get(0).asLong();
            long end = offsets.get(1).asLong();
            ByteBuffer b = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                b.putFloat(value);
            }
            b.flip();
            long pos = 8 + n + begin;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        }
        return target;
    }

    /** Parses with bare NaN/Infinity rejected, and checks no value is the string form Jackson would write. */
    static JsonNode strictJson(String json) throws IOException {
        JsonNode root = STRICT.readTree(json);
        noNonFiniteStrings(root, json);
        return root;
    }

    private static void noNonFiniteStrings(JsonNode node, String json) {
        if (node.isTextual()) {
            assertFalse(node.asText().matches("[+-]?(NaN|Infinity|INF)"), "non-finite number as a string: " + json);
        }
        node.forEach(child -> noNonFiniteStrings(child, json));
    }

    @Test
    void aModelThatProducesNaNGivesOneDeadLetterPerEventInEveryMode() throws Exception {
        Path model = poisoned(dir.resolve("overflow-model"), "model.norm.weight", Float.MAX_VALUE);
        QSparseSettings settings = QSparseEnrichment.builder()
                .modelPath(model.toString())
                .maxBatchSize(4)
                .maxWait(Duration.ofMillis(5))
                .maxNewTokens(4)
                .build()
                .settings();
        String[] modes = {"embed", "score", "generate"};
        int sent = 0;
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            for (int i = 0; i < 12; i++) {
                harness.processElement(TestEvents.event("n" + i, TestEvents.sentence(i), modes[i % 3]), sent++);
            }
            harness.endInput();
            List<QSparseResult> out = Harnesses.results(harness);
            assertEquals(sent, out.size(), "one output per event");
            Set<String> ids = new HashSet<>();
            for (QSparseResult r : out) {
                assertTrue(r.isDeadLetter(), () -> "a NaN result was emitted: " + r.toJson());
                assertEquals(DeadLetter.STAGE_INFERENCE, r.deadLetter.stage);
                assertTrue(r.deadLetter.reason.contains("non-finite"), r.deadLetter.reason);
                JsonNode json = strictJson(r.toJson());
                assertEquals("inference", json.get("stage").asText());
                ids.add(json.get("id").asText());
            }
            assertEquals(sent, ids.size(), "every id exactly once");
        }
    }

    @Test
    void aModelWithNaNWeightsFailsTheTaskAtOpenNamingTheTensor() throws Exception {
        Path model = poisoned(dir.resolve("nan-model"), "model.norm.weight", Float.NaN);
        QSparseSettings settings =
                QSparseEnrichment.builder().modelPath(model.toString()).build().settings();
        try (var harness = Harnesses.async(settings)) {
            ModelUnavailableException e = assertThrows(ModelUnavailableException.class, harness::open);
            assertTrue(e.getMessage().contains("'model.norm.weight': element [0] is NaN"), e.getMessage());
        }
    }

    @Test
    void theMapFunctionDeadLettersNaNResultsToo() throws Exception {
        Path model = poisoned(dir.resolve("overflow-model"), "model.norm.weight", -Float.MAX_VALUE);
        QSparseSettings settings =
                QSparseEnrichment.builder().modelPath(model.toString()).build().settings();
        try (var harness = new org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness<>(
                new org.apache.flink.streaming.api.operators.StreamMap<>(new QSparseMapFunction(settings)),
                org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer.INSTANCE)) {
            harness.open();
            harness.processElement(TestEvents.event("m1", "an event", "embed"), 0);
            harness.processElement(TestEvents.event("m2", "an event", "score"), 1);
            List<QSparseResult> out = Harnesses.results(harness);
            assertEquals(2, out.size());
            for (QSparseResult r : out) {
                assertTrue(r.isDeadLetter(), () -> "emitted: " + r.toJson());
                assertTrue(r.deadLetter.reason.contains("non-finite"), r.deadLetter.reason);
                strictJson(r.toJson());
            }
        }
    }

    @Test
    void aTemperatureUnderTheFloorIsADeadLetterNotANaNDistribution() {
        EventParser parser = new EventParser(TestEvents.builder().build().settings());
        for (String t : new String[] {"1e-300", "0.00001", "5e-324", "-0.0001", "10.5"}) {
            EventParser.Outcome o = parser.parse(utf8("{\"id\": \"t\", \"text\": \"hi\", \"mode\": \"generate\","
                    + " \"params\": {\"temperature\": " + t + "}}"));
            assertNull(o.event, "temperature " + t + " accepted");
            assertEquals(DeadLetter.STAGE_VALIDATE, o.deadLetter.stage);
            assertTrue(
                    o.deadLetter.reason.contains("params.temperature must be 0 (greedy) or a number in [1.0E-4, 10]"),
                    o.deadLetter.reason);
        }
        for (String t : new String[] {"0", "0.0001", "1e-4", "0.8", "10"}) {
            EventParser.Outcome o =
                    parser.parse(utf8("{\"id\": \"t\", \"text\": \"hi\", \"params\": {\"temperature\": " + t + "}}"));
            assertNull(o.deadLetter, () -> "temperature " + t + ": " + o.deadLetter);
            assertEquals(Double.parseDouble(t), o.event.generation.temperature());
        }
    }

    @Test
    void aJobDefaultTemperatureUnderTheFloorFailsTheBuild() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder().temperature(1e-300).build());
        assertTrue(e.getMessage().contains("temperature must be 0 (greedy) or in [1.0E-4, 10.0]"), e.getMessage());
    }

    @Test
    void theJsonWritersNeverWriteNaNOrInfinity() throws Exception {
        EnrichedEvent e = new EnrichedEvent();
        e.id = "x";
        e.mode = "score";
        e.model = "m";
        e.embedding = new float[] {0.5f, Float.NaN, Float.NEGATIVE_INFINITY};
        e.pooling = "mean";
        e.logprob = Double.NaN;
        e.meanLogprob = Double.NEGATIVE_INFINITY;
        e.perplexity = Double.POSITIVE_INFINITY;
        e.scoredTokens = 3;
        e.activationSparsity = Double.NaN;
        e.latencyMs = Double.POSITIVE_INFINITY;
        e.inferenceMs = 1.5;
        assertFalse(e.isFinite());
        JsonNode json = strictJson(e.toJson());
        assertEquals(0.5, json.get("embedding").get(0).asDouble());
        assertTrue(json.get("embedding").get(1).isNull());
        assertTrue(json.get("embedding").get(2).isNull());
        for (String f : new String[] {"logprob", "mean_logprob", "perplexity", "activation_sparsity", "latency_ms"}) {
            assertTrue(json.get(f).isNull(), f + " = " + json.get(f));
        }
        assertTrue(json.get("inference_ms").isNumber());
    }
}
