package dev.qsparse.flink;

import static dev.qsparse.flink.Harnesses.awaitResults;
import static dev.qsparse.flink.Harnesses.results;
import static dev.qsparse.flink.Harnesses.runMails;
import static dev.qsparse.flink.TestEvents.event;
import static dev.qsparse.flink.TestEvents.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.inference.Task;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.StreamMap;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The micro-batching function inside Flink's real async operator, driven by Flink's operator test
 * harness: batching by size and by time, snapshot and restore in the middle of a batch, timeouts
 * and dead letters.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QSparseAsyncFunctionHarnessTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @AfterEach
    void everyTaskReleasedItsModel() {
        assertEquals(0, SharedModels.totalReferences(), "a harness left a model reference behind");
    }

    @Test
    void batchesCloseWhenFull() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(4)
                .maxWait(Duration.ofSeconds(20))
                .build()
                .settings();
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            long start = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                harness.processElement(event(i), i);
            }
            List<QSparseResult> out = awaitResults(harness, 8, WAIT);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 10_000, "full batches must not wait for max-wait; took " + millis + " ms");
            assertEquals(8, out.size());
            for (int i = 0; i < 8; i++) {
                EnrichedEvent e = out.get(i).enriched;
                assertNotNull(e, () -> out.toString());
                assertEquals("e" + i, e.id, "ordered output");
                assertEquals(4, e.batchSize, "two batches of 4");
                assertEquals("embed", e.mode);
                assertEquals(48, e.embedding.length);
            }
        }
    }

    @Test
    void aPartialBatchClosesAfterMaxWait() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(16)
                .maxWait(Duration.ofMillis(50))
                .build()
                .settings();
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            long start = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                harness.processElement(event(i), i);
            }
            List<QSparseResult> out = awaitResults(harness, 3, WAIT);
            double millis = (System.nanoTime() - start) / 1e6;
            assertTrue(millis >= 50, "the batch closed before max-wait: " + millis + " ms");
            for (QSparseResult r : out) {
                assertEquals(3, r.enriched.batchSize, "one batch of 3");
                assertTrue(r.enriched.latencyMs >= 49, "waited for max-wait: " + r.enriched.latencyMs);
            }
        }
    }

    /**
     * Snapshot while a batch is half formed, "fail" (close without finishing), restore into a fresh
     * operator and feed the rest: every id comes out exactly once over both attempts.
     */
    @Test
    void snapshotMidBatchThenRestoreEmitsEveryEventExactlyOnce() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(4)
                .maxWait(Duration.ofSeconds(60))
                .build()
                .settings();
        List<QSparseResult> beforeFailure;
        OperatorSubtaskState snapshot;
        var first = Harnesses.async(settings);
        try {
            first.open();
            for (int i = 0; i < 6; i++) {
                first.processElement(event(i), i);
            }
            first.processElement(utf8("not json"), 6);
            // e0..e3 form a full batch; e4, e5 wait in a half-formed batch (max-wait is 60 s); the
            // dead letter for "not json" is complete but, in order, queued behind e4 and e5.
            beforeFailure = new ArrayList<>(awaitResults(first, 4, WAIT));
            assertEquals(4, beforeFailure.size());
            snapshot = first.snapshot(1L, 1L);
            int emittedAtSnapshot = results(first).size();
            assertEquals(4, emittedAtSnapshot);
        } finally {
            first.close(); // a failure: no endInput, so e4, e5 and the dead letter are never emitted here
        }
        assertEquals(4, results(first).size(), "nothing may be emitted after the snapshot by the failed attempt");

        List<QSparseResult> afterRestore;
        try (var second = Harnesses.async(settings)) {
            second.initializeState(snapshot);
            second.open(); // replays e4, e5 and "not json" from the snapshot
            for (int i = 7; i < 13; i++) {
                second.processElement(event(i), i);
            }
            second.endInput();
            afterRestore = results(second);
        }

        List<QSparseResult> all = new ArrayList<>(beforeFailure);
        all.addAll(afterRestore);
        Map<String, Long> countById = all.stream()
                .filter(r -> !r.isDeadLetter())
                .collect(Collectors.groupingBy(QSparseResult::id, Collectors.counting()));
        Set<String> expected = new HashSet<>();
        for (int i = 0; i < 13; i++) {
            if (i != 6) {
                expected.add("e" + i);
            }
        }
        assertEquals(expected, countById.keySet());
        countById.forEach((id, n) -> assertEquals(1L, n, id + " emitted " + n + " times"));
        List<QSparseResult> dead =
                all.stream().filter(QSparseResult::isDeadLetter).toList();
        assertEquals(1, dead.size());
        assertEquals("not json", dead.get(0).deadLetter.originalPayload);
        // Order is kept across the restore: the replayed events come first.
        assertEquals(
                List.of("e4", "e5"),
                afterRestore.subList(0, 2).stream().map(QSparseResult::id).toList());
    }

    @Test
    void badEventsBecomeDeadLettersAndEveryEventIsAccountedFor() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(4)
                .maxWait(Duration.ofMillis(5))
                .inputMaxChars(60)
                .inputOverflow(InputOverflow.REJECT)
                .maxNewTokens(4)
                .maxNewTokensLimit(8)
                .build()
                .settings();
        byte[] invalidUtf8 = {'{', '"', 'i', 'd', '"', ':', '9', (byte) 0xFF, '}'};
        Map<String, String> badPayloads = new HashMap<>();
        badPayloads.put("{not json", "invalid JSON");
        badPayloads.put("{\"text\": \"no id\"}", "missing id");
        badPayloads.put("{\"id\": \"b3\"}", "missing text");
        badPayloads.put("{\"id\": \"b4\", \"text\": \"\"}", "empty text");
        badPayloads.put("{\"id\": \"b5\", \"text\": \"" + "x".repeat(61) + "\"}", "over the limit of 60");
        badPayloads.put("{\"id\": \"b6\", \"text\": \"a\", \"mode\": \"summarize\"}", "unknown mode 'summarize'");
        badPayloads.put(
                "{\"id\": \"b7\", \"text\": \"a\", \"mode\": \"generate\", \"params\": {\"max_new_tokens\": 9}}",
                "params.max_new_tokens must be an integer in [1, 8]");
        badPayloads.put("{\"id\": \"b8\", \"text\": \"a\", \"params\": {\"top_p\": 1.5}}", "params.top_p");

        int received = 0;
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            int i = 0;
            for (String bad : badPayloads.keySet()) {
                harness.processElement(utf8(bad), received++);
                harness.processElement(event(i++), received++);
            }
            harness.processElement(invalidUtf8, received++);
            harness.endInput();
            List<QSparseResult> out = results(harness);

            List<QSparseResult> enriched =
                    out.stream().filter(r -> !r.isDeadLetter()).toList();
            List<DeadLetter> dead = out.stream()
                    .filter(QSparseResult::isDeadLetter)
                    .map(r -> r.deadLetter)
                    .toList();
            assertEquals(received, enriched.size() + dead.size(), "enriched + dead-lettered = received");
            assertEquals(badPayloads.size(), enriched.size());
            assertEquals(badPayloads.size() + 1, dead.size());
            for (DeadLetter d : dead) {
                if (d.payloadBase64 != null) {
                    assertEquals("invalid UTF-8 at byte 7", d.reason);
                    assertEquals(DeadLetter.STAGE_DECODE, d.stage);
                    assertEquals(java.util.Arrays.toString(invalidUtf8), java.util.Arrays.toString(d.payloadBytes()));
                    continue;
                }
                String expected = badPayloads.get(d.originalPayload);
                assertNotNull(expected, "dead letter keeps the original payload: " + d);
                assertTrue(d.reason.contains(expected), d.reason + " should say " + expected);
            }
        }
    }

    @Test
    void aTimedOutEventBecomesADeadLetterNotAFailure() throws Exception {
        // A batch that would wait 60 s for company, and a 100 ms timeout on the operator's clock.
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(16)
                .maxWait(Duration.ofSeconds(60))
                .timeout(Duration.ofMillis(100))
                .build()
                .settings();
        try (var harness = Harnesses.async(settings)) {
            harness.setProcessingTime(0);
            harness.open();
            harness.processElement(event(1), 1);
            harness.processElement(event(2), 2);
            harness.setProcessingTime(150);
            List<QSparseResult> out = awaitResults(harness, 2, WAIT);
            for (QSparseResult r : out) {
                assertTrue(r.isDeadLetter(), r.toString());
                assertEquals(DeadLetter.STAGE_TIMEOUT, r.deadLetter.stage);
                assertEquals("timeout: no result within 100 ms", r.deadLetter.reason);
            }
            assertEquals(
                    List.of("e1", "e2"), out.stream().map(QSparseResult::id).toList());
        }
    }

    @Test
    void everyModeInOneBatchWithPerEventOverrides() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .mode(Task.EMBED)
                .maxBatchSize(8)
                .maxWait(Duration.ofMillis(5))
                .inputMaxChars(30)
                .build()
                .settings();
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            harness.processElement(utf8("{\"id\": 1, \"text\": \"The stream carries\"}"), 0);
            harness.processElement(
                    utf8("{\"id\": \"g\", \"text\": \"Once upon\", \"mode\": \"generate\","
                            + " \"params\": {\"max_new_tokens\": 3}}"),
                    1);
            harness.processElement(utf8("{\"id\": \"s\", \"text\": \"how likely is this\", \"mode\": \"score\"}"), 2);
            harness.processElement(
                    utf8("{\"id\": \"l\", \"text\": \"" + "long text ".repeat(10) + "\","
                            + " \"params\": {\"pooling\": \"last\"}}"),
                    3);
            harness.endInput();
            List<QSparseResult> out = results(harness);
            assertEquals(4, out.size());

            JsonNode embed = TestEvents.parse(out.get(0).toJson());
            assertTrue(embed.get("id").isNumber());
            assertEquals(1, embed.get("id").asInt());
            assertEquals("embed", embed.get("mode").asText());
            assertEquals("test-model", embed.get("model").asText());
            assertEquals(48, embed.get("embedding").size());
            assertEquals("mean", embed.get("pooling").asText());
            double sparsity = embed.get("activation_sparsity").asDouble();
            assertTrue(sparsity > 0.3 && sparsity < 0.7, "top-K 50% model: " + sparsity);
            assertTrue(embed.get("input_tokens").asInt() > 1);
            assertTrue(embed.get("latency_ms").asDouble() > 0);
            assertTrue(embed.get("inference_ms").asDouble() > 0);
            assertFalse(embed.get("text_truncated").asBoolean());

            EnrichedEvent gen = out.get(1).enriched;
            assertEquals("generate", gen.mode);
            assertTrue(gen.generatedTokens.length >= 1 && gen.generatedTokens.length <= 3, gen.toJson());
            assertNotNull(gen.generatedText);
            assertNotNull(gen.finishReason);
            assertNull(gen.embedding);

            EnrichedEvent score = out.get(2).enriched;
            assertEquals("score", score.mode);
            assertTrue(score.logprob < 0);
            assertEquals(Math.exp(-score.meanLogprob), score.perplexity, 1e-9);
            assertTrue(score.scoredTokens >= 1);

            EnrichedEvent truncated = out.get(3).enriched;
            assertTrue(truncated.textTruncated);
            assertEquals("last", truncated.pooling);
            assertTrue(
                    TestEvents.parse(truncated.toJson()).get("text_truncated").asBoolean());
        }
    }

    /** The same event twice gives the same result: what makes a replay after restore harmless. */
    @Test
    void replaysAreDeterministicEvenWhenSampling() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .mode(Task.GENERATE)
                .temperature(0.9)
                .seed(11)
                .maxNewTokens(6)
                .maxWait(Duration.ofMillis(1))
                .build()
                .settings();
        byte[] payload = utf8("{\"id\": \"r\", \"text\": \"The stream\"}");
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            harness.processElement(payload, 0);
            harness.processElement(payload, 1);
            harness.endInput();
            List<QSparseResult> out = results(harness);
            assertEquals(out.get(0).enriched.generatedText, out.get(1).enriched.generatedText);
            assertEquals(
                    java.util.Arrays.toString(out.get(0).enriched.generatedTokens),
                    java.util.Arrays.toString(out.get(1).enriched.generatedTokens));
        }
    }

    @Test
    void theMapFunctionServesOneEventAtATime() throws Exception {
        QSparseSettings settings = TestEvents.builder().build().settings();
        try (var harness = new OneInputStreamOperatorTestHarness<byte[], QSparseResult>(
                new StreamMap<>(new QSparseMapFunction(settings)), BytePrimitiveArraySerializer.INSTANCE)) {
            harness.open();
            assertEquals(1, SharedModels.references(TestEvents.MODEL));
            harness.processElement(event(1), 1);
            harness.processElement(utf8("{\"id\": 2}"), 2);
            harness.processElement(event(3), 3);
            runMails(harness);
            List<QSparseResult> out = new ArrayList<>();
            for (Object o : harness.getOutput()) {
                out.add((QSparseResult) ((StreamRecord<?>) o).getValue());
            }
            assertEquals(3, out.size());
            assertEquals(1, out.get(0).enriched.batchSize);
            assertEquals("missing text", out.get(1).deadLetter.reason);
            assertEquals("2", out.get(1).deadLetter.id);
            assertEquals("e3", out.get(2).id());
        }
        assertEquals(0, SharedModels.references(TestEvents.MODEL));
    }

    @Test
    void generateWrapsTheEventTextInTheConfiguredChatTemplate() throws Exception {
        // The test model's tokenizer has one special token: a template around it, set as a Flink option.
        String template = "<|endoftext|>User: {text}\nAssistant:";
        QSparseSettings settings = TestEvents.builder()
                .configuration(org.apache.flink.configuration.Configuration.fromMap(Map.of(
                        "qsparse.model.path", TestEvents.MODEL.toString(),
                        "qsparse.mode", "generate",
                        "qsparse.generate.max-new-tokens", "2",
                        "qsparse.generate.chat", template,
                        "qsparse.generate.chat-stop", "<|endoftext|>")))
                .maxWait(Duration.ofMillis(10))
                .build()
                .settings();
        String text = "hi <|endoftext|> there";
        try (var harness = Harnesses.async(settings);
                dev.qsparse.runtime.Model model = dev.qsparse.runtime.Model.load(TestEvents.MODEL)) {
            var tok = model.tokenizer().orElseThrow();
            var chat = settings.defaultGeneration().promptTemplate();
            // The template's special token as its id, the event's "<|endoftext|>" as plain text.
            int expected = tok.encodeWithSpecialTokens(chat.prefix()).length
                    + tok.encode(text).length
                    + tok.encodeWithSpecialTokens(chat.suffix()).length;
            int injected = tok.encodeWithSpecialTokens(chat.prefix()).length
                    + tok.encodeWithSpecialTokens(text).length
                    + tok.encodeWithSpecialTokens(chat.suffix()).length;
            assertTrue(expected > injected, "the event's special token would shorten the prompt");
            harness.open();
            harness.processElement(TestEvents.event("c1", text, null), 0);
            EnrichedEvent e = awaitResults(harness, 1, WAIT).get(0).enriched;
            assertNotNull(e);
            assertEquals("generate", e.mode);
            assertEquals(expected, e.inputTokens);
        }
        IllegalArgumentException bad = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder()
                        .configuration(org.apache.flink.configuration.Configuration.fromMap(Map.of(
                                "qsparse.model.path",
                                TestEvents.MODEL.toString(),
                                "qsparse.generate.chat",
                                "nonesuch")))
                        .build()
                        .settings());
        assertTrue(bad.getMessage().contains("qsparse.generate.chat"), bad.getMessage());
    }
}
