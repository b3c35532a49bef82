package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * The {@code truncation} of a {@code tokenizer.json}: at most {@code max_length} ids per text,
 * template tokens included, so the text itself is cut to {@code max_length} less the template's
 * tokens; {@code direction} {@code Right} keeps the start, {@code Left} the end. For one text the
 * strategies {@code LongestFirst} and {@code OnlyFirst} are the same; {@code OnlySecond} (an error
 * without a second text in the Rust library) and a non-zero {@code stride} (overflowing windows,
 * which are not produced) are refused.
 */
record Truncation(int maxLength, boolean keepEnd) {
    /** Largest {@code max_length} accepted. */
    static final int MAX_LENGTH = 1 << 20;

    private static final Set<String> KEYS = Set.of("direction", "max_length", "strategy", "stride");

    /** Null when the file has no truncation. */
    static Truncation parse(Path file, JsonNode node, SingleTemplate template) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return null;
        }
        JsonFields.requireOnly(file, node, "truncation", KEYS);
        int max = JsonFields.intIn(file, node, "truncation", "max_length", template.size(), MAX_LENGTH);
        String strategy = JsonFields.text(file, node, "truncation", "strategy");
        if (!"LongestFirst".equals(strategy) && !"OnlyFirst".equals(strategy)) {
            throw new TokenizerLoadException(
                    file,
                    "'truncation.strategy' '" + strategy + "' is not supported (supported: LongestFirst, OnlyFirst)");
        }
        JsonFields.intIn(file, node, "truncation", "stride", 0, 0);
        String direction = JsonFields.text(file, node, "truncation", "direction");
        if (!"Right".equals(direction) && !"Left".equals(direction)) {
            throw new TokenizerLoadException(
                    file, "'truncation.direction' '" + direction + "' is not supported (supported: Right, Left)");
        }
        return new Truncation(max, "Left".equals(direction));
    }

    /** {@code content} cut to {@code maxLength - reserved} ids. */
    int[] apply(int[] content, int reserved) {
        int keep = Math.max(0, maxLength - reserved);
        if (content.length <= keep) {
            return content;
        }
        return keepEnd
                ? Arrays.copyOfRange(content, content.length - keep, content.length)
                : Arrays.copyOf(content, keep);
    }
}
