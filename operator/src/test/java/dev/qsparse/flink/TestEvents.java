package dev.qsparse.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Event payloads and settings shared by the tests. */
final class TestEvents {

    /** The runtime's random-weight test model (48-dim, BPE tokenizer, context 128). */
    static final Path MODEL = Path.of("../model-runtime/src/test/resources/test-model");

    static final ObjectMapper JSON = new ObjectMapper();

    private static final String[] SENTENCES = {
        "The stream carries a sentence to the model.",
        "Elinor's happiness was not so great.",
        "A sparse network skips the zero activations.",
        "Every event comes out exactly once.",
        "Flink checkpoints the records still in flight.",
    };

    private TestEvents() {}

    static String sentence(int i) {
        return SENTENCES[Math.floorMod(i, SENTENCES.length)] + " (" + i + ")";
    }

    /** {"id": "e<i>", "text": ...}. */
    static byte[] event(int i) {
        return event("e" + i, sentence(i), null);
    }

    static byte[] event(String id, String text, String mode) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("text", text);
        if (mode != null) {
            o.put("mode", mode);
        }
        return bytes(o);
    }

    static byte[] bytes(JsonNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static QSparseEnrichment.Builder builder() {
        return QSparseEnrichment.builder().modelPath(MODEL.toString());
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
