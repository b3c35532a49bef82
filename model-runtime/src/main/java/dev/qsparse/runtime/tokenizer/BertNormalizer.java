package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.Set;

/**
 * The {@code BertNormalizer} of a {@code tokenizer.json}, in the Rust library's order: {@code
 * clean_text} (drop NUL, U+FFFD and control characters, every whitespace character becomes a
 * space), {@code handle_chinese_chars} (a space on each side of every CJK ideograph), {@code
 * strip_accents} (NFD, then drop non-spacing marks; {@code null} means "as {@code lowercase}"),
 * {@code lowercase} (per character, full Unicode mapping).
 */
final class BertNormalizer {
    private static final Set<String> KEYS =
            Set.of("type", "clean_text", "handle_chinese_chars", "strip_accents", "lowercase");

    private final boolean cleanText;
    private final boolean chineseChars;
    private final boolean stripAccents;
    private final boolean lowercase;

    BertNormalizer(boolean cleanText, boolean chineseChars, boolean stripAccents, boolean lowercase) {
        this.cleanText = cleanText;
        this.chineseChars = chineseChars;
        this.stripAccents = stripAccents;
        this.lowercase = lowercase;
    }

    /** Reads a {@code {"type": "BertNormalizer", ...}} object; every key but {@code strip_accents} is required. */
    static BertNormalizer parse(Path file, JsonNode node, String where) throws TokenizerLoadException {
        JsonFields.requireOnly(file, node, where, KEYS);
        boolean lower = JsonFields.bool(file, node, where, "lowercase");
        JsonNode strip = node.get("strip_accents");
        boolean stripAccents;
        if (strip == null || strip.isNull()) {
            stripAccents = lower;
        } else {
            stripAccents = JsonFields.bool(file, node, where, "strip_accents");
        }
        return new BertNormalizer(
                JsonFields.bool(file, node, where, "clean_text"),
                JsonFields.bool(file, node, where, "handle_chinese_chars"),
                stripAccents,
                lower);
    }

    String normalize(String text) {
        String s = text;
        if (cleanText || chineseChars) {
            s = cleanAndSpace(s);
        }
        if (stripAccents) {
            s = stripAccents(UnicodeNormalization.normalize(s, Normalizer.Form.NFD));
        }
        if (lowercase) {
            s = lowercase(s);
        }
        return s;
    }

    private String cleanAndSpace(String s) {
        StringBuilder out = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cleanText) {
                if (cp == 0 || cp == 0xFFFD || BertCharacters.isControl(cp)) {
                    continue;
                }
                if (BertCharacters.isWhiteSpace(cp)) {
                    cp = ' ';
                }
            }
            if (chineseChars && BertCharacters.isCjkIdeograph(cp)) {
                out.append(' ').appendCodePoint(cp).append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        }
        return out.toString();
    }

    /** Drops non-spacing marks (Mn), as BertNormalizer's strip_accents does after its NFD. */
    static String stripAccents(String s) {
        return dropMarks(s, false);
    }

    /**
     * Drops every combining mark (Mn, Mc, Me), as the standalone {@code StripAccents} normalizer
     * does: it also removes spacing vowel signs (Devanagari, Thai), unlike BertNormalizer.
     */
    static String stripAllMarks(String s) {
        return dropMarks(s, true);
    }

    private static String dropMarks(String s, boolean allMarks) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            int type = Character.getType(cp);
            boolean mark = type == Character.NON_SPACING_MARK
                    || (allMarks && (type == Character.COMBINING_SPACING_MARK || type == Character.ENCLOSING_MARK));
            if (!mark) {
                out.appendCodePoint(cp);
            }
        }
        return out.toString();
    }

    /**
     * Lowercases character by character, as Rust's {@code char::to_lowercase}: no context (a final
     * sigma stays σ, unlike {@link String#toLowerCase}), and U+0130 becomes "i" + U+0307, the one
     * character whose full lowercase mapping is longer than its simple one.
     */
    static String lowercase(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0x130) {
                out.append("i\u0307");
            } else {
                out.appendCodePoint(Character.toLowerCase(cp));
            }
        }
        return out.toString();
    }
}
