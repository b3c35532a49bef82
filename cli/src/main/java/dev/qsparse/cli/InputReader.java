package dev.qsparse.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns the lines of an input into {@link InputRecord}s, checking every bound and every line before
 * the caller loads a model: a command that runs many inputs either fails before its first result or
 * has nothing left to refuse. Blank lines are skipped in both formats (their numbers still count).
 *
 * <p>JSON Lines: each line one JSON object (no duplicate keys, nothing after it) with
 * <ul>
 *   <li>{@code "text"}: the input, a string that is not blank (required);
 *   <li>{@code "id"}: a non-empty string of at most {@value #MAX_ID_CHARS} characters or an integer,
 *       echoed in the result (optional);
 *   <li>the command's own keys ({@code commandKeys}); any other key is refused by name, so a
 *       misspelt parameter never goes unnoticed.
 * </ul>
 */
final class InputReader {

    /** Longest {@code "id"}, in chars: it is echoed in every result line. */
    static final int MAX_ID_CHARS = 1024;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private InputReader() {}

    /**
     * @param verb        what the command does to each input, for "no non-empty line to VERB"
     * @param commandKeys the JSON Lines keys the command reads besides "id" and "text"
     */
    static List<InputRecord> read(
            List<String> lines,
            String source,
            InputFormat format,
            int maxLines,
            int maxLineChars,
            String verb,
            Set<String> commandKeys) {
        List<InputRecord> records = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            int number = i + 1;
            int chars = line.codePointCount(0, line.length());
            if (chars > maxLineChars) {
                throw new IllegalArgumentException(source + ": line " + number + " is " + chars
                        + " code points, over --max-line-chars " + maxLineChars);
            }
            if (records.size() == maxLines) {
                throw new IllegalArgumentException(
                        source + ": more than --max-lines " + maxLines + " non-empty lines (line " + number + ")");
            }
            records.add(
                    format == InputFormat.LINES
                            ? new InputRecord(source, number, null, line, null)
                            : jsonRecord(line, source, number, commandKeys));
        }
        if (records.isEmpty()) {
            throw new IllegalArgumentException(
                    source + ": no non-empty line to " + verb + " (" + lines.size() + " line(s), all blank)");
        }
        return records;
    }

    private static InputRecord jsonRecord(String line, String source, int number, Set<String> commandKeys) {
        InputRecord at = new InputRecord(source, number, null, null, null);
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw at.error("not valid JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode object)) {
            throw at.error(
                    "expected a JSON object, got " + node.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        for (Iterator<String> names = object.fieldNames(); names.hasNext(); ) {
            String key = names.next();
            if (!key.equals("id") && !key.equals("text") && !commandKeys.contains(key)) {
                Set<String> known = new TreeSet<>(commandKeys);
                known.add("id");
                known.add("text");
                throw at.error("unknown key \"" + key + "\" (expected " + String.join(", ", known) + ")");
            }
        }
        JsonNode text = object.get("text");
        if (text == null || text.isNull()) {
            throw at.error("missing \"text\"");
        }
        if (!text.isTextual()) {
            throw at.error("\"text\" must be a string");
        }
        if (text.asText().isBlank()) {
            throw at.error("\"text\" is blank");
        }
        JsonNode id = object.get("id");
        if (id != null && !id.isNull()) {
            boolean string = id.isTextual() && !id.asText().isEmpty();
            if (!string && !id.isIntegralNumber()) {
                throw at.error("\"id\" must be a non-empty string or an integer");
            }
            if (string && id.asText().length() > MAX_ID_CHARS) {
                throw at.error("\"id\" has " + id.asText().length() + " characters, over the limit of " + MAX_ID_CHARS);
            }
        } else {
            id = null;
        }
        return new InputRecord(source, number, id, text.asText(), object);
    }
}
