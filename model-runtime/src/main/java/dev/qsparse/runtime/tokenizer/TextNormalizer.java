package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The {@code normalizer} of a WordPiece {@code tokenizer.json}: null, {@code BertNormalizer},
 * {@code NFC}/{@code NFD}/{@code NFKC}/{@code NFKD}, {@code Lowercase}, {@code StripAccents}, or a
 * {@code Sequence} of those, applied in order. Any other type is refused by name.
 */
final class TextNormalizer {
    /** Deepest nesting of Sequences accepted (real files have one level). */
    private static final int MAX_DEPTH = 8;

    private static final Set<String> TYPE_ONLY = Set.of("type");

    private final List<UnaryOperator<String>> steps;

    private TextNormalizer(List<UnaryOperator<String>> steps) {
        this.steps = List.copyOf(steps);
    }

    static TextNormalizer parse(Path file, JsonNode node) throws TokenizerLoadException {
        List<UnaryOperator<String>> steps = new ArrayList<>();
        if (node != null && !node.isNull()) {
            add(file, node, "normalizer", steps, 0);
        }
        return new TextNormalizer(steps);
    }

    String normalize(String text) {
        String s = text;
        for (UnaryOperator<String> step : steps) {
            s = step.apply(s);
        }
        return s;
    }

    private static void add(Path file, JsonNode node, String where, List<UnaryOperator<String>> steps, int depth)
            throws TokenizerLoadException {
        JsonFields.requireObject(file, node, where);
        String type = JsonFields.text(file, node, where, "type");
        switch (type) {
            case "BertNormalizer":
                steps.add(BertNormalizer.parse(file, node, where)::normalize);
                return;
            case "NFC":
            case "NFD":
            case "NFKC":
            case "NFKD":
                JsonFields.requireOnly(file, node, where, TYPE_ONLY);
                Normalizer.Form form = Normalizer.Form.valueOf(type);
                steps.add(s -> UnicodeNormalization.normalize(s, form));
                return;
            case "Lowercase":
                JsonFields.requireOnly(file, node, where, TYPE_ONLY);
                steps.add(BertNormalizer::lowercase);
                return;
            case "StripAccents":
                JsonFields.requireOnly(file, node, where, TYPE_ONLY);
                steps.add(BertNormalizer::stripAllMarks);
                return;
            case "Sequence":
                JsonFields.requireOnly(file, node, where, Set.of("type", "normalizers"));
                JsonNode list = node.get("normalizers");
                if (list == null || !list.isArray()) {
                    throw new TokenizerLoadException(file, "'" + where + ".normalizers' is not a JSON array");
                }
                if (depth >= MAX_DEPTH) {
                    throw new TokenizerLoadException(file, "'" + where + "' nests Sequences deeper than " + MAX_DEPTH);
                }
                for (int i = 0; i < list.size(); i++) {
                    add(file, list.get(i), where + ".normalizers[" + i + "]", steps, depth + 1);
                }
                return;
            default:
                throw new TokenizerLoadException(
                        file,
                        "'" + where + ".type' '" + type + "' is not supported (supported: BertNormalizer, NFC, NFD,"
                                + " NFKC, NFKD, Lowercase, StripAccents, Sequence)");
        }
    }
}
