package dev.qsparse.flink;

import static dev.qsparse.flink.Harnesses.awaitResults;
import static dev.qsparse.flink.TestEvents.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Ids come out exactly as they went in, and every output record is valid JSON in UTF-8. */
class IdEchoTest {

    private static final EventParser PARSER =
            new EventParser(TestEvents.builder().build().settings());

    /** The raw token of the top-level "id" in {@code json}, read with a strict streaming parser. */
    private static String idToken(byte[] json) throws IOException {
        try (JsonParser p = TestEvents.JSON.getFactory().createParser(json)) {
            assertEquals(JsonToken.START_OBJECT, p.nextToken());
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("id")) {
                    return p.getText();
                }
                p.skipChildren();
            }
        }
        throw new AssertionError("no id in " + new String(json, StandardCharsets.UTF_8));
    }

    /** Parses the whole record strictly (a non-JSON token such as Infinity fails here). */
    private static JsonNode strict(byte[] json) throws IOException {
        return Json.READER.readTree(json);
    }

    private static EnrichedEvent enriched(ParsedEvent e) {
        EnrichedEvent out = new EnrichedEvent();
        out.id = e.id;
        out.idNumeric = e.idNumeric;
        out.mode = "embed";
        out.model = "test-model";
        out.embedding = new float[] {0.6f, 0.8f};
        out.pooling = "mean";
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(
            strings = {
                "1.50",
                "1E2",
                "1e400",
                "-1e-400",
                "-0",
                "0.1000000000000000001",
                "123456789012345678901234567890",
                "-7",
                "2.5E+3"
            })
    void numericIdsAreEchoedAsTheirExactToken(String token) throws IOException {
        EventParser.Outcome o = PARSER.parse(utf8("{\"text\": \"hello\", \"id\": " + token + ", \"x\": [1e400]}"));
        assertNull(o.deadLetter);
        assertEquals(token, o.event.id);
        assertTrue(o.event.idNumeric);

        byte[] out = enriched(o.event).toJson().getBytes(StandardCharsets.UTF_8);
        assertTrue(strict(out).get("id").isNumber());
        assertEquals(token, idToken(out));

        // A dead letter echoes it the same way.
        DeadLetter d = PARSER.parse(utf8("{\"id\": " + token + "}")).deadLetter;
        assertEquals("missing text", d.reason);
        byte[] dl = d.toJson().getBytes(StandardCharsets.UTF_8);
        assertTrue(strict(dl).get("id").isNumber());
        assertEquals(token, idToken(dl));
    }

    @Test
    void distinctTokensStayDistinct() {
        assertFalse(PARSER.parse(utf8("{\"id\": 0.1, \"text\": \"a\"}"))
                .event
                .id
                .equals(PARSER.parse(utf8("{\"id\": 0.1000000000000000001, \"text\": \"a\"}")).event.id));
    }

    @Test
    void aLoneSurrogateIdIsEscapedNotReplaced() throws IOException {
        ParsedEvent e = PARSER.parse(utf8("{\"id\": \"a\\uD800b\", \"text\": \"hello\"}")).event;
        assertEquals("a\uD800b", e.id);
        String json = enriched(e).toJson();
        assertTrue(json.contains("\"id\":\"a\\uD800b\""), json);
        byte[] out = json.getBytes(StandardCharsets.UTF_8);
        assertEquals("a\uD800b", strict(out).get("id").asText(), "the same id after a UTF-8 round trip");

        // A low surrogate alone, and one at the very end, too; a proper pair stays as it is.
        ParsedEvent low = PARSER.parse(utf8("{\"id\": \"\\uDC00x\\uD83D\\uDE00\\uDBFF\", \"text\": \"hello\"}")).event;
        String lowJson = enriched(low).toJson();
        assertTrue(lowJson.contains("\"id\":\"\\uDC00x\uD83D\uDE00\\uDBFF\""), lowJson);
        assertEquals(
                low.id,
                strict(lowJson.getBytes(StandardCharsets.UTF_8)).get("id").asText());

        DeadLetter d = PARSER.parse(utf8("{\"id\": \"\\uD800\", \"text\": 5}")).deadLetter;
        assertEquals(
                "\uD800",
                strict(d.toJson().getBytes(StandardCharsets.UTF_8)).get("id").asText());
    }

    @Test
    void aNumericIdThatIsNotAJsonNumberIsWrittenAsAString() throws IOException {
        // Not produced by the parser, but a record restored or built elsewhere must still give JSON.
        EnrichedEvent e = new EnrichedEvent();
        e.id = "Infinity";
        e.idNumeric = true;
        e.mode = "score";
        e.model = "m";
        assertEquals(
                "Infinity",
                strict(e.toJson().getBytes(StandardCharsets.UTF_8)).get("id").asText());
    }

    @Test
    void throughTheAsyncOperator() throws Exception {
        QSparseSettings settings = TestEvents.builder()
                .maxBatchSize(4)
                .maxWait(Duration.ofMillis(20))
                .build()
                .settings();
        List<String> ids = List.of("1e400", "1.50", "\"s\\uD800\"");
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            for (int i = 0; i < ids.size(); i++) {
                harness.processElement(
                        utf8("{\"id\": " + ids.get(i) + ", \"text\": \"" + TestEvents.sentence(i) + "\"}"), i);
            }
            List<QSparseResult> out = awaitResults(harness, ids.size(), Duration.ofSeconds(30));
            for (int i = 0; i < ids.size(); i++) {
                assertFalse(out.get(i).isDeadLetter(), out.get(i).toString());
                byte[] json = out.get(i).toJson().getBytes(StandardCharsets.UTF_8);
                JsonNode node = strict(json);
                assertEquals(48, node.get("embedding").size());
                if (i < 2) {
                    assertEquals(ids.get(i), idToken(json));
                } else {
                    assertEquals("s\uD800", node.get("id").asText());
                }
            }
        }
        assertEquals(0, SharedModels.totalReferences());
    }
}
