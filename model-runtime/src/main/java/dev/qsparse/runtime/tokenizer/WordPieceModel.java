package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * The {@code WordPiece} model: each word becomes the longest vocabulary token that starts it, then
 * the longest {@code continuing_subword_prefix} + piece for the rest, greedily. A word with a part no
 * token matches, or longer than {@code max_input_chars_per_word} characters, is one {@code unk_token}.
 */
final class WordPieceModel {
    /** Longest token, in characters, the vocabulary may hold: bounds the greedy search per position. */
    static final int MAX_TOKEN_CHARS = 256;
    /** Largest {@code max_input_chars_per_word} accepted (BERT: 100). */
    static final int MAX_WORD_CHARS = 4096;

    private static final Set<String> KEYS =
            Set.of("type", "vocab", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word");

    final Map<String, Integer> vocab;
    final int unkId;
    final String unkToken;
    final String prefix;
    final int maxWordChars;
    /** Longest vocabulary token in code points, prefix included: no longer candidate can match. */
    private final int longestToken;

    private WordPieceModel(Map<String, Integer> vocab, String unkToken, String prefix, int maxWordChars) {
        this.vocab = vocab;
        this.unkToken = unkToken;
        this.unkId = vocab.get(unkToken);
        this.prefix = prefix;
        this.maxWordChars = maxWordChars;
        int longest = 0;
        for (String token : vocab.keySet()) {
            longest = Math.max(longest, token.codePointCount(0, token.length()));
        }
        this.longestToken = longest;
    }

    static WordPieceModel parse(Path file, JsonNode model) throws TokenizerLoadException {
        JsonFields.requireOnly(file, model, "model", KEYS);
        String unk = JsonFields.text(file, model, "model", "unk_token");
        String prefix = JsonFields.text(file, model, "model", "continuing_subword_prefix");
        int maxChars = JsonFields.intIn(file, model, "model", "max_input_chars_per_word", 1, MAX_WORD_CHARS);
        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject() || vocabNode.isEmpty()) {
            throw new TokenizerLoadException(file, "'model.vocab' is missing, empty or not a JSON object");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        Map<Integer, String> byId = new HashMap<>(vocabNode.size() * 2);
        long idLimit = (long) vocabNode.size() + Tokenizer.MAX_ID_GAP;
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String token = e.getKey();
            String key = "model.vocab['" + token + "']";
            JsonNode v = e.getValue();
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
                throw new TokenizerLoadException(file, "'" + key + "' is not a non-negative int id: " + v);
            }
            if (v.intValue() >= idLimit) {
                throw new TokenizerLoadException(
                        file,
                        "'" + key + "' = " + v.intValue() + " is too large for a vocabulary of " + vocabNode.size()
                                + " tokens (ids must be below " + idLimit + ")");
            }
            if (token.isEmpty() || token.codePointCount(0, token.length()) > MAX_TOKEN_CHARS) {
                throw new TokenizerLoadException(
                        file, "'" + key + "' is empty or longer than " + MAX_TOKEN_CHARS + " characters");
            }
            String previous = byId.putIfAbsent(v.intValue(), token);
            if (previous != null) {
                throw new TokenizerLoadException(
                        file,
                        "'model.vocab' gives id " + v.intValue() + " to both '" + previous + "' and '" + token + "'");
            }
            vocab.put(token, v.intValue());
        }
        if (!vocab.containsKey(unk)) {
            throw new TokenizerLoadException(file, "'model.unk_token' '" + unk + "' is not in model.vocab");
        }
        return new WordPieceModel(vocab, unk, prefix, maxChars);
    }

    /** Appends the ids of one pre-tokenized word. */
    void tokenize(String word, IntList out) {
        int[] cps = word.codePoints().toArray();
        if (cps.length > maxWordChars) {
            out.add(unkId);
            return;
        }
        int mark = out.size();
        int start = 0;
        StringBuilder candidate = new StringBuilder();
        while (start < cps.length) {
            int budget = start == 0 ? longestToken : longestToken - prefix.codePointCount(0, prefix.length());
            int end = Math.min(cps.length, start + Math.max(0, budget));
            Integer found = null;
            for (; end > start; end--) {
                candidate.setLength(0);
                if (start > 0) {
                    candidate.append(prefix);
                }
                for (int k = start; k < end; k++) {
                    candidate.appendCodePoint(cps[k]);
                }
                found = vocab.get(candidate.toString());
                if (found != null) {
                    break;
                }
            }
            if (found == null) {
                out.truncate(mark);
                out.add(unkId);
                return;
            }
            out.add(found);
            start = end;
        }
    }
}
