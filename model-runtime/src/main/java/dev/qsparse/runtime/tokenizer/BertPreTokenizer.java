package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The {@code BertPreTokenizer}: words end at whitespace (dropped), and every punctuation character
 * ({@link BertCharacters#isPunctuation}) is a word of its own. The only pre-tokenizer a WordPiece
 * tokenizer here accepts; {@code null} means the whole normalized text is one word.
 */
final class BertPreTokenizer {
    private final boolean split;

    private BertPreTokenizer(boolean split) {
        this.split = split;
    }

    static BertPreTokenizer parse(Path file, JsonNode node) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return new BertPreTokenizer(false);
        }
        JsonFields.requireObject(file, node, "pre_tokenizer");
        String type = JsonFields.text(file, node, "pre_tokenizer", "type");
        if (!"BertPreTokenizer".equals(type)) {
            throw new TokenizerLoadException(
                    file, "'pre_tokenizer.type' '" + type + "' is not supported (supported: BertPreTokenizer, null)");
        }
        JsonFields.requireOnly(file, node, "pre_tokenizer", Set.of("type"));
        return new BertPreTokenizer(true);
    }

    /** Adds the words of {@code text} to {@code out}; never an empty word. */
    void split(String text, List<String> out) {
        if (!split) {
            if (!text.isEmpty()) {
                out.add(text);
            }
            return;
        }
        int wordStart = -1;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (BertCharacters.isWhiteSpace(cp)) {
                if (wordStart >= 0) {
                    out.add(text.substring(wordStart, i));
                    wordStart = -1;
                }
            } else if (BertCharacters.isPunctuation(cp)) {
                if (wordStart >= 0) {
                    out.add(text.substring(wordStart, i));
                    wordStart = -1;
                }
                out.add(text.substring(i, next));
            } else if (wordStart < 0) {
                wordStart = i;
            }
            i = next;
        }
        if (wordStart >= 0) {
            out.add(text.substring(wordStart));
        }
    }
}
