package dev.qsparse.flink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/** The runtime's Jackson (com.fasterxml, not Flink's shaded copy), set up once. */
final class Json {

    /** Strict reader: duplicate keys and anything after the top-level value are errors. */
    static final ObjectMapper READER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final JsonFactory FACTORY = new JsonFactory();

    private Json() {
    }

    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    /** One JSON object, written by {@code body}, as a string. */
    static String object(Body body) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            body.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** Writes an event id the way it came in: a JSON number stays a number. */
    static void writeId(JsonGenerator g, String id, boolean numeric) throws IOException {
        g.writeFieldName("id");
        if (id == null) {
            g.writeNull();
        } else if (numeric) {
            g.writeNumber(id);
        } else {
            g.writeString(id);
        }
    }
}
