package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The control record's parser: what it accepts, and a clear refusal for everything else. */
class ModelSwitchTest {

    private static ModelSwitch parse(String json) {
        return ModelSwitch.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String refusal(String json) {
        return assertThrows(IllegalArgumentException.class, () -> parse(json)).getMessage();
    }

    @Test
    void aLocationWithOrWithoutAVersion() {
        ModelSwitch s = parse("{\"model\": \"s3://models/embedder/v4\", \"version\": \"v4\"}");
        assertEquals("s3://models/embedder/v4", s.model);
        assertEquals("v4", s.version);
        assertTrue(s.location().isRemote());
        ModelSwitch local = parse("{\"model\": \"/models/embedder/2026-12-01\"}");
        assertNull(local.version, "no version: the manifest's or the directory's name, decided when loaded");
        assertEquals("2026-12-01", local.location().lastSegment());
        assertEquals(s, parse(ModelSwitch.toJson(s.model, s.version)), "what a publisher writes parses back");
    }

    @Test
    void unknownKeysAreRefusedByName() {
        String m = refusal("{\"model\": \"/m\", \"verison\": \"v2\"}");
        assertTrue(m.contains("unknown key \"verison\"") && m.contains("allowed: \"model\", \"version\""), m);
    }

    @Test
    void everyFieldIsValidated() {
        assertTrue(refusal("{\"version\": \"v2\"}").contains("needs \"model\""));
        assertTrue(refusal("{\"model\": 7}").contains("needs \"model\""));
        assertTrue(refusal("{\"model\": \"  \"}").contains("needs \"model\""));
        assertTrue(refusal("{\"model\": \"s3://bucket\"}").contains("names no directory"));
        assertTrue(refusal("{\"model\": \"/m\", \"version\": 3}").contains("\"version\" must be a non-blank string"));
        assertTrue(refusal("{\"model\": \"/m\", \"version\": \"" + "v".repeat(129) + "\"}")
                .contains("must be at most 128 characters, got 129"));
        assertTrue(refusal("{\"model\": \"/m\", \"version\": \"v\\n2\"}").contains("control characters"));
    }

    @Test
    void malformedRecordsAreRefused() {
        assertTrue(refusal("").contains("empty"));
        assertTrue(refusal("[\"/m\"]").contains("must be a JSON object"));
        assertTrue(refusal("{\"model\": \"/m\"").contains("not valid JSON"));
        assertTrue(refusal("{\"model\": \"/a\", \"model\": \"/b\"}").contains("not valid JSON"), "duplicate keys");
        assertTrue(refusal("{\"model\": \"/m\"} {}").contains("not valid JSON"), "trailing content");
        String notUtf8 = assertThrows(
                        IllegalArgumentException.class, () -> ModelSwitch.parse(new byte[] {'{', (byte) 0xFF, '}'}))
                .getMessage();
        assertTrue(notUtf8.contains("not valid UTF-8"), notUtf8);
    }

    @Test
    void theSizeIsBoundedBeforeParsing() {
        byte[] big = new byte[ModelSwitch.MAX_BYTES + 1];
        String m = assertThrows(IllegalArgumentException.class, () -> ModelSwitch.parse(big))
                .getMessage();
        assertEquals("model switch record is 8193 bytes, over the limit of 8192", m);
    }
}
