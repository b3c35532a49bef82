package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Split patterns of GPT-2, Llama 3 and Qwen2/Qwen3 (and one with anchors, dot and
 * Oniguruma-only escapes) cut 231 texts exactly where Oniguruma itself cuts them, the engine the
 * Rust tokenizers run: {@code src/test/resources/tokenizer/onig/pieces.json}, written by
 * {@code src/test/onig/onig_pieces.py} with libonig 6.9.8. The texts include what the JavaScript
 * reference gets wrong (U+0085, U+FEFF, the long s after an apostrophe) and 200 seeded random mixes
 * of scripts, digits, marks, apostrophes, every kind of space, format characters and emoji.
 */
class OnigurumaReferenceTest {
    @Test
    void splitsEqualOniguruma() throws Exception {
        JsonNode doc;
        try (InputStream in = getClass().getResourceAsStream("/tokenizer/onig/pieces.json")) {
            doc = new ObjectMapper().readTree(in);
        }
        JsonNode cases = doc.get("cases");
        assertTrue(cases.size() >= 200, "cases: " + cases.size());
        int compared = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.get("patterns").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            Pattern pattern = OnigurumaRegex.compile(p.getValue().asText());
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                List<String> expected = new ArrayList<>();
                c.get("pieces").get(p.getKey()).forEach(piece -> expected.add(piece.asText()));
                List<String> actual = new ArrayList<>();
                PreTokenizer.splitSpans(pattern, text, false, PreTokenizer.Behavior.ISOLATED, actual);
                assertEquals(expected, actual, () -> p.getKey() + " pieces of " + escape(text));
                compared++;
            }
        }
        assertEquals(4 * cases.size(), compared);
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F) {
                b.appendCodePoint(cp);
            } else {
                b.append(String.format("\\u{%X}", cp));
            }
        });
        return b.toString();
    }
}
