package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;
import java.util.TreeSet;

/**
 * Strict reading of one object of a {@code tokenizer.json}: a key the reader does not know is
 * refused (a setting silently ignored would mis-tokenize), and every problem names the file and
 * the key's path (e.g. {@code normalizer.lowercase}).
 */
final class JsonFields {
    private JsonFields() {}

    /** Refuses {@code node} unless it is an object whose keys are all in {@code known}. */
    static void requireOnly(Path file, JsonNode node, String where, Set<String> known) throws TokenizerLoadException {
        requireObject(file, node, where);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!known.contains(key)) {
                throw new TokenizerLoadException(
                        file,
                        "'" + where + "." + key + "' is not a key this reader knows (known: " + new TreeSet<>(known)
                                + ")");
            }
        }
    }

    static void requireObject(Path file, JsonNode node, String where) throws TokenizerLoadException {
        if (node == null || !node.isObject()) {
            throw new TokenizerLoadException(file, "'" + where + "' is not a JSON object");
        }
    }

    /** A required boolean. */
    static boolean bool(Path file, JsonNode node, String where, String key) throws TokenizerLoadException {
        JsonNode v = node.get(key);
        if (v == null || !v.isBoolean()) {
            throw new TokenizerLoadException(
                    file, "'" + where + "." + key + "' is " + (v == null ? "missing" : v) + ", expected true or false");
        }
        return v.booleanValue();
    }

    /** An optional boolean: {@code fallback} when the key is absent (as the Rust library's default). */
    static boolean bool(Path file, JsonNode node, String where, String key, boolean fallback)
            throws TokenizerLoadException {
        return node.has(key) ? bool(file, node, where, key) : fallback;
    }

    /** A required string. */
    static String text(Path file, JsonNode node, String where, String key) throws TokenizerLoadException {
        JsonNode v = node.get(key);
        if (v == null || !v.isTextual()) {
            throw new TokenizerLoadException(
                    file, "'" + where + "." + key + "' is " + (v == null ? "missing" : v) + ", expected a string");
        }
        return v.textValue();
    }

    /** A required int in {@code [min, max]}. */
    static int intIn(Path file, JsonNode node, String where, String key, int min, int max)
            throws TokenizerLoadException {
        JsonNode v = node.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min || v.intValue() > max) {
            throw new TokenizerLoadException(
                    file,
                    "'" + where + "." + key + "' is " + (v == null ? "missing" : v) + ", expected an integer in [" + min
                            + ", " + max + "]");
        }
        return v.intValue();
    }
}
