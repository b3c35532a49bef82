package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * What a {@code tokenizer.json} {@code post_processor} puts before a single text: the special
 * tokens that lead its template. Llama 3 (current files): a {@code TemplateProcessing} starting
 * with {@code <|begin_of_text|>}; Qwen2/Qwen3: {@code ByteLevel} only, so nothing. Tokens after the
 * text (an EOS a template appends) are not read: a prompt never ends with them.
 */
final class PostProcessor {
    /** Most leading special tokens read from a template (real templates have one). */
    static final int MAX_PREFIX_TOKENS = 16;

    private PostProcessor() {}

    /**
     * The ids the post-processor puts before a text: empty when there is no {@code post_processor}
     * (the model config's {@code bos_token_id} then decides), an empty array when it puts none.
     *
     * @throws TokenizerLoadException naming the key for a malformed or unsupported post-processor
     *     or a special token that is not a token of the tokenizer
     */
    static Optional<int[]> prefix(Path file, JsonNode node, int vocabSize) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        return Optional.of(prefixOf(file, node, "post_processor", vocabSize));
    }

    private static int[] prefixOf(Path file, JsonNode node, String where, int vocabSize) throws TokenizerLoadException {
        if (!node.isObject()) {
            throw new TokenizerLoadException(file, "'" + where + "' is not a JSON object");
        }
        String type = node.path("type").asText("");
        switch (type) {
            case "ByteLevel":
                return new int[0];
            case "Sequence": {
                JsonNode list = node.get("processors");
                if (list == null || !list.isArray()) {
                    throw new TokenizerLoadException(file, "'" + where + "' Sequence has no 'processors' array");
                }
                int[] prefix = new int[0];
                for (int i = 0; i < list.size(); i++) {
                    int[] p = prefixOf(file, list.get(i), where + ".processors[" + i + "]", vocabSize);
                    if (p.length > 0 && prefix.length > 0) {
                        throw new TokenizerLoadException(
                                file, "'" + where + "' has two processors that put tokens before the text");
                    }
                    prefix = p.length > 0 ? p : prefix;
                }
                return prefix;
            }
            case "TemplateProcessing":
                return templatePrefix(file, node, where, vocabSize);
            case "RobertaProcessing":
            case "BertProcessing": {
                // {"cls": ["<s>", 0], ...}: the CLS token leads every text.
                JsonNode cls = node.get("cls");
                if (cls == null
                        || !cls.isArray()
                        || cls.size() != 2
                        || !cls.get(1).isIntegralNumber()) {
                    throw new TokenizerLoadException(file, "'" + where + ".cls' is not [token, id]");
                }
                return new int[] {checkedId(file, cls.get(1), where + ".cls[1]", vocabSize)};
            }
            default:
                throw new TokenizerLoadException(
                        file,
                        "unsupported post-processor type '" + type + "' at '" + where
                                + "' (supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence)");
        }
    }

    /** The ids of the SpecialToken entries before the first Sequence of {@code single}. */
    private static int[] templatePrefix(Path file, JsonNode node, String where, int vocabSize)
            throws TokenizerLoadException {
        JsonNode single = node.get("single");
        if (single == null || !single.isArray()) {
            throw new TokenizerLoadException(file, "'" + where + ".single' is not a JSON array");
        }
        JsonNode specials = node.path("special_tokens");
        int[] prefix = new int[0];
        for (int i = 0; i < single.size(); i++) {
            JsonNode piece = single.get(i);
            JsonNode special = piece.get("SpecialToken");
            if (special == null) {
                break; // the text itself ({"Sequence": {"id": "A"}}) comes next
            }
            String name = special.path("id").asText("");
            JsonNode ids = specials.path(name).get("ids");
            String key = where + ".special_tokens['" + name + "'].ids";
            if (ids == null || !ids.isArray() || ids.isEmpty()) {
                throw new TokenizerLoadException(
                        file,
                        "'" + where + ".single[" + i + "]' names special token '" + name + "' but " + key
                                + " is missing or empty");
            }
            if (prefix.length + ids.size() > MAX_PREFIX_TOKENS) {
                throw new TokenizerLoadException(
                        file, "'" + where + "' puts more than " + MAX_PREFIX_TOKENS + " tokens before the text");
            }
            int at = prefix.length;
            prefix = Arrays.copyOf(prefix, at + ids.size());
            for (int j = 0; j < ids.size(); j++) {
                prefix[at + j] = checkedId(file, ids.get(j), key + "[" + j + "]", vocabSize);
            }
        }
        return prefix;
    }

    private static int checkedId(Path file, JsonNode id, String key, int vocabSize) throws TokenizerLoadException {
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0 || id.intValue() >= vocabSize) {
            throw new TokenizerLoadException(
                    file,
                    "'" + key + "' = " + id + " is not a token id of this tokenizer (0.." + (vocabSize - 1) + ")");
        }
        return id.intValue();
    }
}
