package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * What a WordPiece {@code tokenizer.json}'s {@code post_processor} puts around one text: {@code
 * TemplateProcessing} whose {@code single} is special tokens, the text ({@code $A}), special tokens
 * (BERT: {@code [CLS] $A [SEP]}), or {@code BertProcessing} ({@code cls}, text, {@code sep}). The
 * {@code pair} template is not read: one text is encoded at a time.
 */
record SingleTemplate(int[] prefix, int[] suffix, boolean present) {
    /** Most special tokens a template may put around a text. */
    static final int MAX_TEMPLATE_TOKENS = 16;

    static final SingleTemplate NONE = new SingleTemplate(new int[0], new int[0], false);

    int size() {
        return prefix.length + suffix.length;
    }

    /** Reads the post-processor; every id it names must be a token ({@code isToken}). */
    static SingleTemplate parse(Path file, JsonNode node, IntPredicate isToken) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return NONE;
        }
        JsonFields.requireObject(file, node, "post_processor");
        String type = JsonFields.text(file, node, "post_processor", "type");
        switch (type) {
            case "TemplateProcessing":
                JsonFields.requireOnly(
                        file, node, "post_processor", Set.of("type", "single", "pair", "special_tokens"));
                return template(file, node, isToken);
            case "BertProcessing":
                JsonFields.requireOnly(file, node, "post_processor", Set.of("type", "sep", "cls"));
                return new SingleTemplate(
                        new int[] {pairId(file, node, "cls", isToken)},
                        new int[] {pairId(file, node, "sep", isToken)},
                        true);
            default:
                throw new TokenizerLoadException(
                        file,
                        "'post_processor.type' '" + type
                                + "' is not supported for WordPiece (supported: TemplateProcessing, BertProcessing, null)");
        }
    }

    /** {@code ["[SEP]", 102]}: the id. */
    private static int pairId(Path file, JsonNode node, String key, IntPredicate isToken)
            throws TokenizerLoadException {
        JsonNode pair = node.get(key);
        String where = "post_processor." + key;
        if (pair == null || !pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual()) {
            throw new TokenizerLoadException(file, "'" + where + "' is not [token, id]");
        }
        return checkedId(file, pair.get(1), where + "[1]", isToken);
    }

    private static SingleTemplate template(Path file, JsonNode node, IntPredicate isToken)
            throws TokenizerLoadException {
        JsonNode single = node.get("single");
        if (single == null || !single.isArray()) {
            throw new TokenizerLoadException(file, "'post_processor.single' is not a JSON array");
        }
        JsonNode specials = node.get("special_tokens");
        if (specials == null || !specials.isObject()) {
            throw new TokenizerLoadException(file, "'post_processor.special_tokens' is not a JSON object");
        }
        int[] prefix = new int[0];
        int[] suffix = null; // null until the text ($A) has been seen
        for (int i = 0; i < single.size(); i++) {
            String where = "post_processor.single[" + i + "]";
            JsonNode piece = single.get(i);
            JsonFields.requireObject(file, piece, where);
            if (piece.size() != 1) {
                throw new TokenizerLoadException(file, "'" + where + "' is not one SpecialToken or Sequence");
            }
            String kind = piece.fieldNames().next();
            JsonNode body = piece.get(kind);
            String bodyWhere = where + "." + kind;
            JsonFields.requireOnly(file, body, bodyWhere, Set.of("id", "type_id"));
            String id = JsonFields.text(file, body, bodyWhere, "id");
            // Token type ids are not produced: a single text is all type 0, so a template saying otherwise is refused.
            JsonFields.intIn(file, body, bodyWhere, "type_id", 0, 0);
            if ("Sequence".equals(kind)) {
                if (!"A".equals(id) || suffix != null) {
                    throw new TokenizerLoadException(
                            file,
                            "'" + bodyWhere + ".id' must be 'A', once, in a single-text template; got '" + id + "'");
                }
                suffix = new int[0];
            } else if ("SpecialToken".equals(kind)) {
                int[] ids = specialIds(file, specials, id, bodyWhere, isToken);
                if (suffix == null) {
                    prefix = concat(prefix, ids);
                } else {
                    suffix = concat(suffix, ids);
                }
                if (prefix.length + (suffix == null ? 0 : suffix.length) > MAX_TEMPLATE_TOKENS) {
                    throw new TokenizerLoadException(
                            file,
                            "'post_processor.single' puts more than " + MAX_TEMPLATE_TOKENS + " tokens around a text");
                }
            } else {
                throw new TokenizerLoadException(
                        file,
                        "'" + where + "." + kind + "' is not a template piece (supported: SpecialToken, Sequence)");
            }
        }
        if (suffix == null) {
            throw new TokenizerLoadException(file, "'post_processor.single' has no Sequence 'A' for the text");
        }
        return new SingleTemplate(prefix, suffix, true);
    }

    private static int[] specialIds(Path file, JsonNode specials, String name, String where, IntPredicate isToken)
            throws TokenizerLoadException {
        JsonNode entry = specials.get(name);
        String key = "post_processor.special_tokens['" + name + "']";
        if (entry == null) {
            throw new TokenizerLoadException(
                    file, "'" + where + "' names special token '" + name + "' but " + key + " is missing");
        }
        JsonFields.requireOnly(file, entry, key, Set.of("id", "ids", "tokens"));
        JsonNode ids = entry.get("ids");
        if (ids == null || !ids.isArray() || ids.isEmpty() || ids.size() > MAX_TEMPLATE_TOKENS) {
            throw new TokenizerLoadException(
                    file, "'" + key + ".ids' is not an array of 1 to " + MAX_TEMPLATE_TOKENS + " ids");
        }
        int[] out = new int[ids.size()];
        for (int j = 0; j < ids.size(); j++) {
            out[j] = checkedId(file, ids.get(j), key + ".ids[" + j + "]", isToken);
        }
        return out;
    }

    private static int checkedId(Path file, JsonNode id, String key, IntPredicate isToken)
            throws TokenizerLoadException {
        if (!id.isIntegralNumber() || !id.canConvertToInt() || !isToken.test(id.intValue())) {
            throw new TokenizerLoadException(file, "'" + key + "' = " + id + " is not a token id of this tokenizer");
        }
        return id.intValue();
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
