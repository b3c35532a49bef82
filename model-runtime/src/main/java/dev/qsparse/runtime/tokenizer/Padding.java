package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * The {@code padding} of a {@code tokenizer.json}: {@code strategy} {@code {"Fixed": n}} pads
 * every text to n ids, {@code "BatchLongest"} to the longest of its batch (a lone text: itself),
 * then up to a multiple of {@code pad_to_multiple_of} when set; {@code pad_id} on the {@code
 * direction} side. Padding is for batches whose attention masks hide it: the encoder pads its
 * own batches, this says with what and how the Rust library would.
 */
record Padding(int fixedLength, int multipleOf, boolean left, int padId, String padToken) {
    /** Largest fixed length or multiple accepted. */
    static final int MAX_LENGTH = 1 << 20;

    private static final Set<String> KEYS =
            Set.of("strategy", "direction", "pad_to_multiple_of", "pad_id", "pad_type_id", "pad_token");

    /** Null when the file has no padding. */
    static Padding parse(Path file, JsonNode node, IntPredicate isToken) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return null;
        }
        JsonFields.requireOnly(file, node, "padding", KEYS);
        JsonNode strategy = node.get("strategy");
        int fixed;
        if (strategy != null && strategy.isTextual() && "BatchLongest".equals(strategy.textValue())) {
            fixed = 0;
        } else if (strategy != null && strategy.isObject() && strategy.size() == 1 && strategy.has("Fixed")) {
            fixed = JsonFields.intIn(file, strategy, "padding.strategy", "Fixed", 1, MAX_LENGTH);
        } else {
            throw new TokenizerLoadException(
                    file,
                    "'padding.strategy' " + strategy
                            + " is not supported (supported: \"BatchLongest\", {\"Fixed\": n})");
        }
        String direction = JsonFields.text(file, node, "padding", "direction");
        if (!"Right".equals(direction) && !"Left".equals(direction)) {
            throw new TokenizerLoadException(
                    file, "'padding.direction' '" + direction + "' is not supported (supported: Right, Left)");
        }
        JsonNode multiple = node.get("pad_to_multiple_of");
        int multipleOf = multiple == null || multiple.isNull()
                ? 0
                : JsonFields.intIn(file, node, "padding", "pad_to_multiple_of", 1, MAX_LENGTH);
        int padId = JsonFields.intIn(file, node, "padding", "pad_id", 0, Integer.MAX_VALUE);
        if (!isToken.test(padId)) {
            throw new TokenizerLoadException(file, "'padding.pad_id' = " + padId + " is not a token of this tokenizer");
        }
        // Type ids are not produced; the key is read so that a malformed one is still refused.
        JsonFields.intIn(file, node, "padding", "pad_type_id", 0, Integer.MAX_VALUE);
        String padToken = JsonFields.text(file, node, "padding", "pad_token");
        return new Padding(fixed, multipleOf, "Left".equals(direction), padId, padToken);
    }

    /** {@code ids} padded to the fixed length (or their own), rounded up to the multiple; never shortened. */
    int[] apply(int[] ids) {
        // As the Rust library: the target is rounded up first, and a longer text is left as it is.
        long target = fixedLength > 0 ? fixedLength : ids.length;
        if (multipleOf > 0 && target % multipleOf != 0) {
            target += multipleOf - target % multipleOf;
        }
        if (target <= ids.length) {
            return ids;
        }
        int[] out = new int[Math.toIntExact(target)];
        Arrays.fill(out, padId);
        System.arraycopy(ids, 0, out, left ? out.length - ids.length : 0, ids.length);
        return out;
    }
}
