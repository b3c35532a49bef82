package dev.qsparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One input of {@code --input}: its text, where it came from (1-based line of {@code source}) and,
 * in JSON Lines, its {@code id} and the command's own keys. The typed getters check a key's value
 * and fail with an error naming the source, the line and the key.
 *
 * @param id     the line's {@code "id"} (a non-empty string or an integer), or null
 * @param fields the line's JSON object (JSON Lines), or null (plain lines)
 */
record InputRecord(String source, int line, JsonNode id, String text, ObjectNode fields) {

    /** An error about this input: {@code "FILE: line N: message"}. */
    IllegalArgumentException error(String message) {
        return new IllegalArgumentException(source + ": line " + line + ": " + message);
    }

    /** Where a result came from: {@code "line"} always, {@code "id"} when the input had one. */
    void putOrigin(Map<String, Object> out) {
        out.put("line", line);
        if (id != null) {
            out.put("id", id);
        }
    }

    private JsonNode value(String key) {
        if (fields == null) {
            return null;
        }
        JsonNode v = fields.get(key);
        return v == null || v.isNull() ? null : v;
    }

    boolean has(String key) {
        return value(key) != null;
    }

    /** A string value, or null when absent. */
    String string(String key) {
        JsonNode v = value(key);
        if (v != null && !v.isTextual()) {
            throw error("\"" + key + "\" must be a string");
        }
        return v == null ? null : v.asText();
    }

    /** An integer value in [min, max]; call only when {@link #has} it. */
    int integer(String key, int min, int max) {
        JsonNode v = value(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw error("\"" + key + "\" must be an integer in [" + min + ", " + max + "]");
        }
        return v.asInt();
    }

    /** A 64-bit integer value; call only when {@link #has} it. */
    long int64(String key) {
        JsonNode v = value(key);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw error("\"" + key + "\" must be a 64-bit integer");
        }
        return v.asLong();
    }

    /** A finite number; call only when {@link #has} it. */
    double number(String key) {
        JsonNode v = value(key);
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
            throw error("\"" + key + "\" must be a finite number");
        }
        return v.asDouble();
    }

    /** A list of non-empty strings, at most {@code maxItems}; call only when {@link #has} it. */
    List<String> strings(String key, int maxItems) {
        JsonNode v = value(key);
        if (!v.isArray() || v.size() > maxItems) {
            throw error("\"" + key + "\" must be a list of at most " + maxItems + " strings");
        }
        List<String> out = new ArrayList<>(v.size());
        for (JsonNode item : v) {
            if (!item.isTextual() || item.asText().isEmpty()) {
                throw error("\"" + key + "\" must hold non-empty strings only");
            }
            out.add(item.asText());
        }
        return out;
    }
}
