package dev.qsparse.flink;

import static dev.qsparse.flink.TestEvents.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import java.util.Base64;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EventParserTest {

    private static EventParser parser(QSparseEnrichment.Builder b) {
        return new EventParser(b.build().settings());
    }

    private static final EventParser DEFAULT =
            parser(TestEvents.builder().inputMaxChars(20).maxNewTokensLimit(64));

    private static DeadLetter dead(EventParser p, byte[] payload) {
        EventParser.Outcome o = p.parse(payload);
        assertNull(o.event, "expected a dead letter");
        assertNotNull(o.deadLetter);
        return o.deadLetter;
    }

    private static ParsedEvent ok(EventParser p, String json) {
        EventParser.Outcome o = p.parse(utf8(json));
        assertNull(o.deadLetter, () -> "unexpected dead letter " + o.deadLetter);
        return o.event;
    }

    @Test
    void validEventTakesDefaultsAndKeepsExtraFields() {
        ParsedEvent e = ok(DEFAULT, "{\"id\": \"a-1\", \"text\": \"hello\", \"source\": \"kafka\"}");
        assertEquals("a-1", e.id);
        assertFalse(e.idNumeric);
        assertEquals("hello", e.text);
        assertEquals(Task.EMBED, e.mode);
        assertEquals(null, e.pooling, "no qsparse.embed.pooling: the model's own");
        assertEquals(32, e.generation.maxNewTokens());
        assertFalse(e.textTruncated);
    }

    @Test
    void aPlainTextGetsTheSameTextChecksAsAnEvent() {
        EventParser.Outcome ok = DEFAULT.parseText("hello");
        assertEquals("hello", ok.event().text);
        assertNull(ok.event().id);
        assertEquals(Task.EMBED, ok.event().mode);
        EventParser.Outcome cut = DEFAULT.parseText("x".repeat(25));
        assertEquals(20, cut.event().text.length());
        assertTrue(cut.event().textTruncated);
        assertEquals("missing text (null)", DEFAULT.parseText(null).deadLetter().reason);
        assertEquals("empty text", DEFAULT.parseText(" \n ").deadLetter().reason);
        EventParser reject = parser(TestEvents.builder().inputMaxChars(20).inputOverflow(InputOverflow.REJECT));
        DeadLetter over = reject.parseText("y".repeat(21)).deadLetter();
        assertEquals(DeadLetter.STAGE_VALIDATE, over.stage);
        assertEquals("text has 21 characters, over the limit of 20", over.reason);
        assertEquals(dead(reject, utf8("{\"id\": 1, \"text\": \"" + "y".repeat(21) + "\"}")).reason, over.reason);
    }

    @Test
    void numericIdStaysANumber() {
        ParsedEvent e = ok(DEFAULT, "{\"id\": 17, \"text\": \"hello\"}");
        assertEquals("17", e.id);
        assertTrue(e.idNumeric);
    }

    @Test
    void paramsOverrideTheDefaults() {
        ParsedEvent e = ok(
                DEFAULT,
                "{\"id\": 1, \"text\": \"hi\", \"mode\": \"generate\", \"params\": {"
                        + "\"max_new_tokens\": 5, \"temperature\": 0.7, \"top_k\": 10, \"top_p\": 0.9, \"seed\": 7,"
                        + " \"stop\": [\".\", \"!\"], \"pooling\": \"last\"}}");
        assertEquals(Task.GENERATE, e.mode);
        assertEquals(5, e.generation.maxNewTokens());
        assertEquals(0.7, e.generation.temperature());
        assertEquals(10, e.generation.topK());
        assertEquals(0.9, e.generation.topP());
        assertEquals(7, e.generation.seed());
        assertEquals(List.of(".", "!"), e.generation.stopStrings());
        assertEquals(Pooling.LAST, e.pooling);
    }

    @Test
    void longTextIsTruncatedOnACodePointBoundaryByDefault() {
        // 19 ASCII characters, then an emoji (a surrogate pair) that straddles the 20-char limit.
        String text = "abcdefghijklmnopqrs\uD83D\uDE00tail";
        ParsedEvent e = ok(DEFAULT, "{\"id\": \"t\", \"text\": \"" + text + "\"}");
        assertTrue(e.textTruncated);
        assertEquals("abcdefghijklmnopqrs\uD83D\uDE00", e.text);
        assertEquals(20, e.text.codePointCount(0, e.text.length()));
    }

    @Test
    void longTextIsRejectedWhenConfigured() {
        EventParser reject = parser(TestEvents.builder().inputMaxChars(5).inputOverflow(InputOverflow.REJECT));
        DeadLetter d = dead(reject, utf8("{\"id\": \"t\", \"text\": \"too long\"}"));
        assertEquals(DeadLetter.STAGE_VALIDATE, d.stage);
        assertEquals("text has 8 characters, over the limit of 5", d.reason);
        assertEquals("t", d.id);
    }

    @Test
    void invalidUtf8KeepsTheExactBytesInBase64() {
        byte[] payload = {
            '{',
            '"',
            'i',
            'd',
            '"',
            ':',
            '1',
            ',',
            '"',
            't',
            'e',
            'x',
            't',
            '"',
            ':',
            '"',
            (byte) 0xC3,
            (byte) 0x28,
            '"',
            '}'
        };
        DeadLetter d = dead(DEFAULT, payload);
        assertEquals(DeadLetter.STAGE_DECODE, d.stage);
        assertEquals("invalid UTF-8 at byte 16", d.reason);
        assertNull(d.id);
        assertArrayEquals(payload, Base64.getDecoder().decode(d.payloadBase64));
        assertArrayEquals(payload, d.payloadBytes());
        assertTrue(d.originalPayload.contains("\uFFFD"), d.originalPayload);
        JsonNode json = TestEvents.parse(d.toJson());
        assertEquals(d.payloadBase64, json.get("payload_base64").asText());
        assertTrue(json.get("id").isNull());
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '`',
            value = {
                "``                                            | decode   | empty payload",
                "not json                                      | parse    | invalid JSON: Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
                "[1, 2]                                        | parse    | event is not a JSON object",
                "{\"id\": 1, \"text\": \"a\"} trailing          | parse    | ",
                "{\"id\": 1, \"id\": 2, \"text\": \"a\"}        | parse    | invalid JSON: Duplicate field 'id'",
                "{\"text\": \"a\"}                              | validate | missing id",
                "{\"id\": null, \"text\": \"a\"}                | validate | missing id",
                "{\"id\": \"\", \"text\": \"a\"}                | validate | id must be a non-empty string or a number",
                "{\"id\": [1], \"text\": \"a\"}                 | validate | id must be a non-empty string or a number",
                "{\"id\": 1}                                    | validate | missing text",
                "{\"id\": 1, \"text\": 5}                       | validate | text must be a string",
                "{\"id\": 1, \"text\": \"\"}                    | validate | empty text",
                "{\"id\": 1, \"text\": \"  \\n \"}              | validate | empty text",
                "{\"id\": 1, \"text\": \"a\", \"mode\": \"translate\"} | validate | unknown mode 'translate' (expected generate, embed or score)",
                "{\"id\": 1, \"text\": \"a\", \"mode\": 3}      | validate | mode must be a string",
                "{\"id\": 1, \"text\": \"a\", \"params\": 3}    | validate | params must be an object",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"max_new_tokens\": 0}}    | validate | params.max_new_tokens must be an integer in [1, 64], got 0",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"max_new_tokens\": 65}}   | validate | params.max_new_tokens must be an integer in [1, 64], got 65",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"max_new_tokens\": 2.5}}  | validate | params.max_new_tokens must be an integer in [1, 64], got 2.5",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"temperature\": 11}}      | validate | params.temperature must be 0 (greedy) or a number in [1.0E-4, 10], got 11",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"temperature\": \"hot\"}} | validate | params.temperature must be 0 (greedy) or a number in [1.0E-4, 10], got \"hot\"",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"top_p\": 0}}             | validate | params.top_p must be a number in (0, 1], got 0",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"top_k\": -1}}            | validate | params.top_k must be an integer in [0, 2^31-1], got -1",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"seed\": 1.5}}            | validate | params.seed must be a 64-bit integer",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"stop\": \".\"}}          | validate | params.stop must be a list of strings",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"stop\": [\"\"]}}         | validate | params.stop entries must be non-empty strings of at most 64 characters, got \"\"",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"pooling\": \"sum\"}}     | validate | params.pooling: unknown pooling 'sum' (expected mean, last, cls or max)",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"pooling\": 1}}         | validate | params.pooling must be \"mean\", \"last\", \"cls\" or \"max\"",
                "{\"id\": 1, \"text\": \"a\", \"params\": {\"temprature\": 1}}        | validate | unknown parameter params.temprature (expected one of max_new_tokens, pooling, seed, stop, temperature, top_k, top_p)",
            })
    void badEventsBecomeDeadLettersWithTheirReason(String payload, String stage, String reason) {
        DeadLetter d = dead(DEFAULT, utf8(payload == null ? "" : payload));
        assertEquals(stage, d.stage);
        if (reason != null) {
            assertEquals(reason, d.reason);
        } else {
            assertTrue(d.reason.startsWith("invalid JSON: "), d.reason);
        }
        assertEquals(payload == null ? "" : payload, d.originalPayload);
        assertNull(d.payloadBase64);
        assertEquals("test-model", d.model);
        if (stage.equals(DeadLetter.STAGE_VALIDATE) && payload.contains("\"id\": 1")) {
            assertEquals("1", d.id);
            assertTrue(d.idNumeric);
        }
    }

    @Test
    void settingsAreValidatedAtBuildTime() {
        assertThrows(
                IllegalArgumentException.class,
                () -> QSparseEnrichment.builder().build(),
                "model path is required");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder()
                        .maxNewTokens(100)
                        .maxNewTokensLimit(50)
                        .build());
        assertTrue(e.getMessage().contains("qsparse.generate.max-new-tokens"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder().maxBatchSize(0).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> TestEvents.builder().temperature(-1).build());
    }

    @Test
    void optionsAreReadFromAFlinkConfiguration() {
        Configuration c = Configuration.fromMap(java.util.Map.of(
                "qsparse.model.path", TestEvents.MODEL.toString(),
                "qsparse.mode", "score",
                "qsparse.batch.max-size", "32",
                "qsparse.batch.max-wait", "25 ms",
                "qsparse.embed.pooling", "last",
                "qsparse.input.overflow", "reject",
                "qsparse.generate.stop", "END;STOP"));
        QSparseSettings s =
                QSparseEnrichment.builder().configuration(c).threads(2).build().settings();
        assertEquals(Task.SCORE, s.defaultMode());
        assertEquals(32, s.maxBatchSize());
        assertEquals(java.time.Duration.ofMillis(25), s.maxWait());
        assertEquals(Pooling.LAST, s.pooling());
        assertEquals(InputOverflow.REJECT, s.inputOverflow());
        assertEquals(List.of("END", "STOP"), s.defaultGeneration().stopStrings());
        assertEquals(2, s.threads());
        assertEquals(2 * 32 * 2, s.asyncCapacity());
        assertEquals("test-model", s.modelName());
    }
}
