package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * What a {@code tokenizer.json} {@code post_processor} puts before a single text: the special
 * tokens that lead its template. Llama 3 (current files): a {@code TemplateProcessing} starting
 * with {@code <|begin_of_text|>}; Qwen2/Qwen3: {@code ByteLevel} only, so nothing. The tokens a
 * template appends after the text ({@link #suffix}: Qwen3-Embedding's {@code <|endoftext|>}) are read
 * apart, for embeddings only: a prompt never ends with them.
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
            prefix = appendSpecial(file, where, i, special, specials, prefix, "before", vocabSize);
        }
        return prefix;
    }

    /**
     * The ids the post-processor puts after a single text: the {@code SpecialToken} entries that
     * follow the text in a {@code TemplateProcessing}'s {@code single} (Qwen3-Embedding: {@code $A
     * <|endoftext|>}), a Roberta/BERT processor's {@code sep}; none for {@code ByteLevel} or no
     * post-processor. A second text in {@code single} is refused by name.
     */
    static int[] suffix(Path file, JsonNode node, int vocabSize) throws TokenizerLoadException {
        return node == null || node.isNull() ? new int[0] : suffixOf(file, node, "post_processor", vocabSize);
    }

    private static int[] suffixOf(Path file, JsonNode node, String where, int vocabSize) throws TokenizerLoadException {
        // prefixOf has checked the shape of every processor already.
        String type = node.path("type").asText("");
        switch (type) {
            case "Sequence": {
                JsonNode list = node.get("processors");
                int[] suffix = new int[0];
                for (int i = 0; i < list.size(); i++) {
                    int[] s = suffixOf(file, list.get(i), where + ".processors[" + i + "]", vocabSize);
                    if (s.length > 0 && suffix.length > 0) {
                        throw new TokenizerLoadException(
                                file, "'" + where + "' has two processors that put tokens after the text");
                    }
                    suffix = s.length > 0 ? s : suffix;
                }
                return suffix;
            }
            case "TemplateProcessing":
                return templateSuffix(file, node, where, vocabSize);
            case "RobertaProcessing":
            case "BertProcessing": {
                JsonNode sep = node.get("sep");
                if (sep == null) {
                    return new int[0]; // tokenizers' default sep names a token this file may not have
                }
                if (!sep.isArray() || sep.size() != 2 || !sep.get(1).isIntegralNumber()) {
                    throw new TokenizerLoadException(file, "'" + where + ".sep' is not [token, id]");
                }
                return new int[] {checkedId(file, sep.get(1), where + ".sep[1]", vocabSize)};
            }
            default:
                return new int[0];
        }
    }

    /** The ids of the SpecialToken entries after the text ({"Sequence": {"id": "A"}}) of {@code single}. */
    private static int[] templateSuffix(Path file, JsonNode node, String where, int vocabSize)
            throws TokenizerLoadException {
        JsonNode single = node.get("single");
        JsonNode specials = node.path("special_tokens");
        int[] suffix = null; // null until the text has been seen
        for (int i = 0; i < single.size(); i++) {
            JsonNode piece = single.get(i);
            JsonNode special = piece.get("SpecialToken");
            if (special == null) {
                if (suffix != null) {
                    throw new TokenizerLoadException(
                            file,
                            "'" + where + ".single[" + i + "]' is a second text: one text per template is supported");
                }
                suffix = new int[0];
                continue;
            }
            if (suffix == null) {
                continue; // before the text: the prefix
            }
            suffix = appendSpecial(file, where, i, special, specials, suffix, "after", vocabSize);
        }
        return suffix == null ? new int[0] : suffix;
    }

    /**
     * {@code tokens} with the ids of the template's {@code single[i]} SpecialToken appended, each
     * checked, at most {@link #MAX_PREFIX_TOKENS} in all on that {@code side} of the text.
     */
    private static int[] appendSpecial(
            Path file,
            String where,
            int i,
            JsonNode special,
            JsonNode specials,
            int[] tokens,
            String side,
            int vocabSize)
            throws TokenizerLoadException {
        String name = special.path("id").asText("");
        JsonNode ids = specials.path(name).get("ids");
        String key = where + ".special_tokens['" + name + "'].ids";
        if (ids == null || !ids.isArray() || ids.isEmpty()) {
            throw new TokenizerLoadException(
                    file,
                    "'" + where + ".single[" + i + "]' names special token '" + name + "' but " + key
                            + " is missing or empty");
        }
        if (tokens.length + ids.size() > MAX_PREFIX_TOKENS) {
            throw new TokenizerLoadException(
                    file, "'" + where + "' puts more than " + MAX_PREFIX_TOKENS + " tokens " + side + " the text");
        }
        int at = tokens.length;
        int[] out = Arrays.copyOf(tokens, at + ids.size());
        for (int j = 0; j < ids.size(); j++) {
            out[at + j] = checkedId(file, ids.get(j), key + "[" + j + "]", vocabSize);
        }
        return out;
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
