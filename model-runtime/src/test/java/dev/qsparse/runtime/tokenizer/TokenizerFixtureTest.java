package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cross-check against the Python encoder: {@code expected.json} holds ids computed by
 * {@code training/bpe_tokenizer.py} for the committed {@code tokenizer.json}
 * (regenerate both with {@code /usr/bin/python3 training/bpe_tokenizer.py fixture}).
 */
class TokenizerFixtureTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void idsMatchPythonEncoder() throws Exception {
        Tokenizer tok = Tokenizer.load(TokenizerTest.fixture("tokenizer.json"));
        JsonNode expected =
                MAPPER.readTree(TokenizerTest.fixture("expected.json").toFile());
        assertTrue(expected.size() >= 30, "fixture cases: " + expected.size());
        for (JsonNode c : expected) {
            String text = c.get("text").asText();
            int[] ids = new int[c.get("ids").size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = c.get("ids").get(i).asInt();
            }
            assertArrayEquals(ids, tok.encode(text), () -> "ids of " + text);
            assertArrayEquals(ids, tok.encode(text.getBytes(StandardCharsets.UTF_8)), () -> "ids of bytes of " + text);
            assertEquals(text, tok.decode(ids));
        }
    }

    @Test
    void mergesAsArraysGiveSameIds(@TempDir Path dir) throws Exception {
        Path original = TokenizerTest.fixture("tokenizer.json");
        ObjectNode root = (ObjectNode) MAPPER.readTree(original.toFile());
        ObjectNode model = (ObjectNode) root.get("model");
        ArrayNode pairs = MAPPER.createArrayNode();
        for (JsonNode m : model.get("merges")) {
            String[] parts = m.asText().split(" ");
            pairs.addArray().add(parts[0]).add(parts[1]);
        }
        model.set("merges", pairs);
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, MAPPER.writeValueAsString(root));

        Tokenizer a = Tokenizer.load(original);
        Tokenizer b = Tokenizer.load(file);
        JsonNode expected =
                MAPPER.readTree(TokenizerTest.fixture("expected.json").toFile());
        for (JsonNode c : expected) {
            String text = c.get("text").asText();
            assertArrayEquals(a.encode(text), b.encode(text), text);
        }
        assertEquals(a.vocabSize(), b.vocabSize());
    }
}
