package dev.qsparse.flink;

import static dev.qsparse.flink.Harnesses.awaitResults;
import static dev.qsparse.flink.TestEvents.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.junit.jupiter.api.Test;

/**
 * Output records never exceed {@code qsparse.output.max-record-size}: dead letters cut their
 * payload (keeping its length and hash), enriched records over the bound become dead letters.
 * Sizes are always measured on the UTF-8 bytes of the JSON actually written.
 */
class BoundedOutputTest {

    /** Kafka's default max.request.size. */
    private static final int KAFKA_DEFAULT_MAX_REQUEST = 1024 * 1024;

    private static final int DEFAULT_BOUND = 900 * 1024;

    private static final EventParser DEFAULT =
            new EventParser(TestEvents.builder().build().settings());

    private static DeadLetter dead(EventParser p, byte[] payload) {
        EventParser.Outcome o = p.parse(payload);
        assertNull(o.event, "expected a dead letter");
        assertNotNull(o.deadLetter);
        return o.deadLetter;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] repeat(byte b, int n) {
        byte[] bytes = new byte[n];
        Arrays.fill(bytes, b);
        return bytes;
    }

    /** Checks the invariants of a dead letter made from {@code original}; returns its JSON. */
    private static JsonNode assertBounded(DeadLetter d, byte[] original, int bound) {
        byte[] json = d.toJson().getBytes(StandardCharsets.UTF_8);
        assertTrue(json.length <= bound, "dead letter is " + json.length + " bytes, over " + bound);
        JsonNode node = TestEvents.parse(new String(json, StandardCharsets.UTF_8));
        assertEquals(original.length, node.get("payload_bytes").asLong());
        byte[] kept = d.payloadBytes();
        assertArrayEquals(Arrays.copyOf(original, kept.length), kept, "the kept payload is a prefix of the original");
        if (node.get("payload_truncated").asBoolean()) {
            assertTrue(kept.length < original.length);
            assertEquals(DeadLetter.sha256(original), node.get("payload_sha256").asText());
            assertEquals(64, node.get("payload_sha256").asText().length());
        } else {
            assertEquals(original.length, kept.length);
            assertFalse(node.has("payload_sha256"));
        }
        return node;
    }

    @Test
    void invalidUtf8BlowUpIsCutToTheBound() {
        // The reported case: 600 KB of 0xFF became a 2.6 MB dead letter (3-byte U+FFFD per byte plus base64).
        byte[] payload = concat(utf8("{\"id\":\"bad-1\",\"text\":\""), repeat((byte) 0xFF, 600_000));
        DeadLetter d = dead(DEFAULT, payload);
        assertEquals(DeadLetter.STAGE_DECODE, d.stage);
        JsonNode json = assertBounded(d, payload, DEFAULT_BOUND);
        assertTrue(json.get("payload_truncated").asBoolean());
        assertTrue(d.toJson().getBytes(StandardCharsets.UTF_8).length < KAFKA_DEFAULT_MAX_REQUEST);
        byte[] base64Prefix =
                Base64.getDecoder().decode(json.get("payload_base64").asText());
        assertTrue(base64Prefix.length > 100_000, "keeps a useful prefix, got " + base64Prefix.length + " bytes");
        assertTrue(json.get("payload").asText().startsWith("{\"id\":\"bad-1\",\"text\":\"\uFFFD"));
    }

    @Test
    void eventsJustUnderOneMegabyteGiveBoundedDeadLetters() {
        int size = 990_000;
        String head = "{\"id\":\"big-1\",\"text\":\"";
        // Valid JSON whose every char needs escaping again inside the dead letter: \" is 2 bytes in,
        // 4 out; a 2-byte é and a 4-byte emoji check the cut on a character boundary.
        String unit = "\\\"\\\\é\uD83D\uDE00"; // 10 bytes of UTF-8
        String text = unit.repeat((size - head.length() - 40) / utf8(unit).length);
        byte[] validButRejected = utf8(head + text + "\",\"params\":{\"nope\":1}}");
        // Not JSON: raw control bytes (each a 6-byte \\u0001 escape in the dead letter).
        byte[] controlBytes = concat(utf8(head), repeat((byte) 1, size - head.length()));
        // Not UTF-8 after 1 MB of ASCII.
        byte[] lateInvalid = concat(utf8(head), repeat((byte) 'a', size - head.length() - 1), new byte[] {(byte) 0xC3});
        for (byte[] payload : List.of(validButRejected, controlBytes, lateInvalid)) {
            assertTrue(
                    payload.length > 980_000 && payload.length < KAFKA_DEFAULT_MAX_REQUEST, "size " + payload.length);
            DeadLetter d = dead(DEFAULT, payload);
            JsonNode json = assertBounded(d, payload, DEFAULT_BOUND);
            assertTrue(json.get("payload_truncated").asBoolean(), d.reason);
        }
        DeadLetter valid = dead(DEFAULT, validButRejected);
        assertEquals(DeadLetter.STAGE_VALIDATE, valid.stage);
        assertEquals("big-1", valid.id);
        assertNull(valid.payloadBase64, "a valid UTF-8 prefix needs no base64");
        assertFalse(valid.originalPayload.contains("\uFFFD"), "cut on a character boundary");
        assertEquals(DeadLetter.STAGE_PARSE, dead(DEFAULT, controlBytes).stage);
        assertEquals(DeadLetter.STAGE_DECODE, dead(DEFAULT, lateInvalid).stage);
    }

    @Test
    void aSmallerBoundIsHonouredAndSmallDeadLettersAreUntouched() {
        int bound = 16 * 1024;
        EventParser small = new EventParser(TestEvents.builder()
                .maxRecordSize(MemorySize.parse("16kb"))
                .build()
                .settings());
        byte[] invalid = concat(utf8("{\"id\":7,\"text\":\""), repeat((byte) 0xFE, 50_000));
        JsonNode json = assertBounded(dead(small, invalid), invalid, bound);
        assertTrue(json.get("payload_truncated").asBoolean());
        // The cut is tight: the kept prefix uses most of the room.
        int size = dead(small, invalid).toJson().getBytes(StandardCharsets.UTF_8).length;
        assertTrue(size > bound - 64, "prefix as long as fits: " + size);

        byte[] tiny = utf8("{\"id\":7}");
        DeadLetter d = dead(small, tiny);
        JsonNode t = assertBounded(d, tiny, bound);
        assertFalse(t.get("payload_truncated").asBoolean());
        assertEquals("{\"id\":7}", t.get("payload").asText());
    }

    @Test
    void aHugeValueQuotedInTheReasonIsCut() {
        String huge = "x".repeat(500_000);
        byte[] payload = utf8("{\"id\":1,\"text\":\"a\",\"params\":{\"stop\":[\"" + huge + "\"]}}");
        DeadLetter d = dead(DEFAULT, payload);
        assertTrue(d.reason.startsWith("params.stop entries must be non-empty strings"), d.reason);
        assertTrue(d.reason.length() < DeadLetter.MAX_REASON_CHARS + 40, "reason length " + d.reason.length());
        assertTrue(d.reason.endsWith(" characters)"), d.reason);
        assertBounded(d, payload, DEFAULT_BOUND);
    }

    @Test
    void anOverlongIdIsRejectedAndNotEchoed() {
        String id = "i".repeat(EventParser.MAX_ID_CHARS + 1);
        DeadLetter d = dead(DEFAULT, utf8("{\"id\":\"" + id + "\",\"text\":\"hello\"}"));
        assertEquals(DeadLetter.STAGE_VALIDATE, d.stage);
        assertEquals("id has 1025 characters, over the limit of 1024", d.reason);
        assertNull(d.id);
        String ok = "i".repeat(EventParser.MAX_ID_CHARS);
        assertNull(DEFAULT.parse(utf8("{\"id\":\"" + ok + "\",\"text\":\"hello\"}")).deadLetter);
    }

    private static ParsedEvent parsed(String json) {
        EventParser.Outcome o = DEFAULT.parse(utf8(json));
        assertNull(o.deadLetter);
        return o.event;
    }

    private static EnrichedEvent enriched(ParsedEvent e) {
        EnrichedEvent out = new EnrichedEvent();
        out.id = e.id;
        out.idNumeric = e.idNumeric;
        out.mode = e.mode.wireName();
        out.model = "test-model";
        return out;
    }

    @Test
    void anEnrichedRecordOverTheBoundBecomesADeadLetter() {
        int bound = 64 * 1024;
        ParsedEvent event = parsed("{\"id\":\"big-out\",\"text\":\"hello\"}");

        EnrichedEvent huge = enriched(event);
        huge.embedding = new float[20_000];
        Arrays.fill(huge.embedding, -1.2345678e-20f);
        huge.pooling = "mean";
        QSparseResult r = ModelRunner.bounded(event, huge, "test-model", bound);
        assertTrue(r.isDeadLetter());
        assertEquals(DeadLetter.STAGE_OUTPUT, r.deadLetter.stage);
        assertEquals("big-out", r.deadLetter.id);
        assertTrue(r.deadLetter.reason.startsWith("the enriched record is "), r.deadLetter.reason);
        assertTrue(
                r.deadLetter.reason.endsWith(" bytes of JSON, over qsparse.output.max-record-size = 65536 bytes"),
                r.deadLetter.reason);
        assertBounded(r.deadLetter, event.payload, bound);

        EnrichedEvent longText = enriched(event);
        longText.generatedText = "\u0001".repeat(12_000); // 12,000 chars, 72,000 bytes once escaped
        longText.generatedTokens = new int[] {1};
        longText.finishReason = "length";
        assertEquals(
                DeadLetter.STAGE_OUTPUT, ModelRunner.bounded(event, longText, "test-model", bound).deadLetter.stage);

        // Just under the bound stays enriched, and its measured size is exact.
        EnrichedEvent fits = enriched(event);
        fits.generatedText = "\u0001".repeat(10_000);
        fits.generatedTokens = new int[] {1};
        fits.finishReason = "length";
        QSparseResult kept = ModelRunner.bounded(event, fits, "test-model", bound);
        assertFalse(kept.isDeadLetter());
        assertEquals(fits.toJson().getBytes(StandardCharsets.UTF_8).length, fits.jsonSizeAtMost(0));
    }

    @Test
    void theBoundIsATypedValidatedOption() {
        assertEquals(DEFAULT_BOUND, TestEvents.builder().build().settings().maxRecordBytes());
        assertTrue(DEFAULT_BOUND < KAFKA_DEFAULT_MAX_REQUEST - 64 * 1024, "room for key and headers under 1 MiB");
        Configuration c = Configuration.fromMap(Map.of("qsparse.output.max-record-size", "128kb"));
        assertEquals(
                128 * 1024,
                TestEvents.builder().configuration(c).build().settings().maxRecordBytes());
        IllegalArgumentException tooSmall = assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder()
                        .maxRecordSize(MemorySize.parse("1kb"))
                        .build());
        assertEquals(
                "qsparse.output.max-record-size must be between 16384 and 268435456 bytes, got 1024",
                tooSmall.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder()
                        .maxRecordSize(MemorySize.parse("1gb"))
                        .build());
        assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder()
                        .modelName("m".repeat(QSparseSettings.MAX_MODEL_NAME_CHARS + 1))
                        .build());
    }

    @Test
    void theReportedPayloadInTheAsyncOperatorGivesOneBoundedDeadLetterAndTheEventsBehindItFlow() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(4)
                .maxWait(Duration.ofMillis(20))
                .build()
                .settings();
        byte[] bad = concat(utf8("{\"id\":\"bad-1\",\"text\":\""), repeat((byte) 0xFF, 600_000));
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            harness.processElement(bad, 0);
            for (int i = 0; i < 3; i++) {
                harness.processElement(TestEvents.event(i), i + 1);
            }
            List<QSparseResult> out = awaitResults(harness, 4, Duration.ofSeconds(30));
            assertEquals(4, out.size());
            assertTrue(out.get(0).isDeadLetter());
            assertBounded(out.get(0).deadLetter, bad, DEFAULT_BOUND);
            for (int i = 1; i < 4; i++) {
                assertEquals("e" + (i - 1), out.get(i).enriched.id);
            }
        }
        assertEquals(0, SharedModels.totalReferences());
    }
}
