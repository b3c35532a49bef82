package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Set;

/**
 * The {@code WordPiece} decoder: tokens are joined with a space, except a token starting with
 * {@code prefix} ("##"), which loses the prefix and joins the one before it; {@code cleanup} then
 * removes the space BERT's splitting put before punctuation and English contractions. Without a
 * decoder the Rust library joins the tokens with spaces.
 */
final class WordPieceDecoder {
    private static final String[][] CLEANUP = {
        {" .", "."},
        {" ?", "?"},
        {" !", "!"},
        {" ,", ","},
        {" ' ", "'"},
        {" n't", "n't"},
        {" 'm", "'m"},
        {" do not", " don't"},
        {" 's", "'s"},
        {" 've", "'ve"},
        {" 're", "'re"}
    };

    private final String prefix; // null: no decoder
    private final boolean cleanup;

    private WordPieceDecoder(String prefix, boolean cleanup) {
        this.prefix = prefix;
        this.cleanup = cleanup;
    }

    static WordPieceDecoder parse(Path file, JsonNode node) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return new WordPieceDecoder(null, false);
        }
        JsonFields.requireObject(file, node, "decoder");
        String type = JsonFields.text(file, node, "decoder", "type");
        if (!"WordPiece".equals(type)) {
            throw new TokenizerLoadException(
                    file, "'decoder.type' '" + type + "' is not supported for WordPiece (supported: WordPiece, null)");
        }
        JsonFields.requireOnly(file, node, "decoder", Set.of("type", "prefix", "cleanup"));
        return new WordPieceDecoder(
                JsonFields.text(file, node, "decoder", "prefix"), JsonFields.bool(file, node, "decoder", "cleanup"));
    }

    String decode(String[] tokens) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < tokens.length; i++) {
            String token = tokens[i];
            if (prefix == null) {
                out.append(i == 0 ? "" : " ").append(token);
                continue;
            }
            if (i > 0) {
                token = token.startsWith(prefix) ? token.substring(prefix.length()) : " " + token;
            }
            if (cleanup) {
                for (String[] rule : CLEANUP) {
                    token = token.replace(rule[0], rule[1]);
                }
            }
            out.append(token);
        }
        return out.toString();
    }
}
