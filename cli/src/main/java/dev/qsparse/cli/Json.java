package dev.qsparse.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Map;

/** Prints one JSON object per command on stdout. */
final class Json {

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

    private Json() {
    }

    static void print(Map<String, ?> object) throws IOException {
        MAPPER.writeValue(System.out, object);
        System.out.println();
        System.out.flush();
    }
}
