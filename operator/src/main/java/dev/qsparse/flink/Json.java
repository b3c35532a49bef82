package dev.qsparse.flink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.regex.Pattern;

/** The runtime's Jackson (com.fasterxml, not Flink's shaded copy), set up once. */
final class Json {

    /** Strict reader: duplicate keys and anything after the top-level value are errors. */
    static final ObjectMapper READER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final JsonFactory FACTORY = new JsonFactory();

    /** RFC 8259's number grammar: what a numeric id must look like to be written unquoted. */
    private static final Pattern JSON_NUMBER = Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

    private Json() {}

    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    /**
     * One JSON object, written by {@code body}, as a string. A lone UTF-16 surrogate in any string
     * (Jackson writes it as a raw char, which UTF-8 encoding would turn into {@code ?}) is written
     * as its {@code \\uXXXX} escape, so the result is valid JSON that survives UTF-8 exactly.
     */
    static String object(Body body) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            body.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return escapeLoneSurrogates(out.toString());
    }

    /**
     * Replaces every unpaired surrogate char by its six-character JSON escape. Only valid on
     * Jackson's output, where such a char can only sit inside a string literal.
     */
    static String escapeLoneSurrogates(String json) {
        StringBuilder fixed = null;
        int n = json.length();
        for (int i = 0; i < n; i++) {
            char c = json.charAt(i);
            if (!Character.isSurrogate(c)) {
                if (fixed != null) {
                    fixed.append(c);
                }
                continue;
            }
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(json.charAt(i + 1))) {
                if (fixed != null) {
                    fixed.append(c).append(json.charAt(i + 1));
                }
                i++;
                continue;
            }
            if (fixed == null) {
                fixed = new StringBuilder(n + 16).append(json, 0, i);
            }
            fixed.append(String.format("\\u%04X", (int) c));
        }
        return fixed == null ? json : fixed.toString();
    }

    /** Bytes of {@code s} in UTF-8 (an unpaired surrogate counts as the one byte it becomes). */
    static long utf8Length(String s) {
        long bytes = 0;
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes += 1;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /**
     * Writes an event id the way it came in: a string as a string, a number as its exact JSON token
     * ({@code 1.50}, {@code 1E2} and {@code 1e400} unchanged). A "numeric" id that is not a JSON
     * number (never produced by the parser) is written as a string, so the output stays JSON.
     */
    static void writeId(JsonGenerator g, String id, boolean numeric) throws IOException {
        g.writeFieldName("id");
        if (id == null) {
            g.writeNull();
        } else if (numeric && isJsonNumber(id)) {
            g.writeNumber(id);
        } else {
            g.writeString(id);
        }
    }

    /**
     * Writes a number, or {@code null} when it is NaN or infinite: JSON has no such numbers, and
     * Jackson would write them as the strings {@code "NaN"} / {@code "Infinity"} (or, with quoting
     * off, as bare tokens no JSON reader accepts). Results never carry them (the runtime fails
     * such a request, see {@code FiniteCheck}); this keeps every record valid, typed JSON anyway.
     */
    static void number(JsonGenerator g, String field, double v) throws IOException {
        g.writeFieldName(field);
        number(g, v);
    }

    static void number(JsonGenerator g, double v) throws IOException {
        if (Double.isFinite(v)) {
            g.writeNumber(v);
        } else {
            g.writeNull();
        }
    }

    static void number(JsonGenerator g, float v) throws IOException {
        if (Float.isFinite(v)) {
            g.writeNumber(v);
        } else {
            g.writeNull();
        }
    }

    static boolean isJsonNumber(String token) {
        return token.length() <= 10_000 && JSON_NUMBER.matcher(token).matches();
    }
}
