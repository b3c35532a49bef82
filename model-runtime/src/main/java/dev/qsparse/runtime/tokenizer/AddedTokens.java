package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The {@code added_tokens} of a WordPiece {@code tokenizer.json} and how the Rust library finds
 * them in a text: tokens with {@code normalized: false} (every special token of BERT files) are
 * matched in the raw text before normalization; those with {@code normalized: true} in the
 * normalized text, by their normalized content. Leftmost match first, the longest at a position;
 * {@code single_word}, {@code lstrip} and {@code rstrip} as the library has them.
 */
final class AddedTokens {
    private static final Set<String> KEYS =
            Set.of("id", "content", "single_word", "lstrip", "rstrip", "normalized", "special");

    /** One entry of {@code added_tokens}; {@code match} is what is looked for (normalized content when normalized). */
    record Token(
            int id,
            String content,
            String match,
            boolean special,
            boolean singleWord,
            boolean lstrip,
            boolean rstrip,
            boolean normalized) {}

    /** Receives the pieces of a split text in order: plain text, or an added token's id. */
    interface Sink {
        void text(String text);

        void token(int id);
    }

    final List<Token> all;
    private final Map<Character, Token[]> rawByFirstChar;
    private final Map<Character, Token[]> normalizedByFirstChar;

    private AddedTokens(List<Token> all) {
        this.all = List.copyOf(all);
        this.rawByFirstChar = index(all, false);
        this.normalizedByFirstChar = index(all, true);
    }

    static AddedTokens parse(Path file, JsonNode node, UnaryOperator<String> normalizer) throws TokenizerLoadException {
        List<Token> tokens = new ArrayList<>();
        if (node == null || node.isNull()) {
            return new AddedTokens(tokens);
        }
        if (!node.isArray()) {
            throw new TokenizerLoadException(file, "'added_tokens' is not a JSON array");
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < node.size(); i++) {
            String where = "added_tokens[" + i + "]";
            JsonNode t = node.get(i);
            JsonFields.requireOnly(file, t, where, KEYS);
            int id = JsonFields.intIn(file, t, where, "id", 0, Integer.MAX_VALUE);
            String content = JsonFields.text(file, t, where, "content");
            if (content.isEmpty()) {
                throw new TokenizerLoadException(file, "'" + where + ".content' is empty");
            }
            Integer other = seen.putIfAbsent(content, id);
            if (other != null && other != id) {
                throw new TokenizerLoadException(
                        file, "added token '" + content + "' has two ids " + other + " and " + id);
            }
            boolean special = JsonFields.bool(file, t, where, "special", false);
            // Required: where the token is looked for (raw or normalized text) changes the ids.
            boolean normalized = JsonFields.bool(file, t, where, "normalized");
            String match = normalized ? normalizer.apply(content) : content;
            if (match.isEmpty()) {
                throw new TokenizerLoadException(file, "'" + where + ".content' normalizes to nothing");
            }
            tokens.add(new Token(
                    id,
                    content,
                    match,
                    special,
                    JsonFields.bool(file, t, where, "single_word", false),
                    JsonFields.bool(file, t, where, "lstrip", false),
                    JsonFields.bool(file, t, where, "rstrip", false),
                    normalized));
        }
        return new AddedTokens(tokens);
    }

    private static Map<Character, Token[]> index(List<Token> tokens, boolean normalized) {
        Map<Character, List<Token>> byFirst = new HashMap<>();
        for (Token t : tokens) {
            if (t.normalized() == normalized) {
                byFirst.computeIfAbsent(t.match().charAt(0), k -> new ArrayList<>())
                        .add(t);
            }
        }
        Map<Character, Token[]> index = new HashMap<>();
        for (Map.Entry<Character, List<Token>> e : byFirst.entrySet()) {
            List<Token> list = e.getValue();
            list.sort(Comparator.comparingInt((Token t) -> t.match().length()).reversed());
            index.put(e.getKey(), list.toArray(new Token[0]));
        }
        return index;
    }

    /** Splits raw text at the tokens matched before normalization. */
    void splitRaw(String text, Sink sink) {
        split(text, rawByFirstChar, sink);
    }

    /** Splits normalized text at the tokens matched after normalization. */
    void splitNormalized(String text, Sink sink) {
        split(text, normalizedByFirstChar, sink);
    }

    private static void split(String s, Map<Character, Token[]> index, Sink sink) {
        if (index.isEmpty()) {
            sink.text(s);
            return;
        }
        int segmentStart = 0;
        int i = 0;
        int n = s.length();
        while (i < n) {
            Token hit = null;
            Token[] candidates = index.get(s.charAt(i));
            if (candidates != null) {
                for (Token t : candidates) {
                    if (s.startsWith(t.match(), i)
                            && (!t.singleWord()
                                    || isWordBoundary(s, i, i + t.match().length()))) {
                        hit = t;
                        break;
                    }
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            int start = i;
            int end = i + hit.match().length();
            if (hit.lstrip()) {
                while (start > segmentStart && BertCharacters.isWhiteSpace(s.charAt(start - 1))) {
                    start--;
                }
            }
            if (hit.rstrip()) {
                while (end < n && BertCharacters.isWhiteSpace(s.charAt(end))) {
                    end++;
                }
            }
            sink.text(s.substring(segmentStart, start));
            sink.token(hit.id());
            segmentStart = end;
            i = end;
        }
        sink.text(s.substring(segmentStart));
    }

    private static boolean isWordBoundary(String s, int start, int end) {
        if (start > 0 && isWordChar(s.codePointBefore(start))) {
            return false;
        }
        return end >= s.length() || !isWordChar(s.codePointAt(end));
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }
}
