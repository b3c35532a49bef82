package dev.qsparse.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Map;

/** Prints one JSON object per command on stdout. */
final class Json {

    private static final ObjectMapper MAPPER = new ObjectMapper().disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

    private Json() {}

    /**
     * Prints {@code object}, after checking that it holds no NaN or infinity: JSON has no such
     * numbers, and a result made of them is a failure (exit 1 with a message), never output.
     */
    static void print(Map<String, ?> object) throws IOException {
        requireFinite(object, "");
        MAPPER.writeValue(System.out, object);
        System.out.println();
        System.out.flush();
    }

    /** Throws {@link IllegalStateException} naming the first non-finite number in {@code value}. */
    static void requireFinite(Object value, String path) {
        if (value instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                requireFinite(e.getValue(), path.isEmpty() ? String.valueOf(e.getKey()) : path + "." + e.getKey());
            }
        } else if (value instanceof Object[] rows) {
            for (int i = 0; i < rows.length; i++) {
                requireFinite(rows[i], path + "[" + i + "]");
            }
        } else if (value instanceof float[] v) {
            for (int i = 0; i < v.length; i++) {
                notFinite(Float.isFinite(v[i]), v[i], path + "[" + i + "]");
            }
        } else if (value instanceof double[] v) {
            for (int i = 0; i < v.length; i++) {
                notFinite(Double.isFinite(v[i]), v[i], path + "[" + i + "]");
            }
        } else if (value instanceof Double d) {
            notFinite(Double.isFinite(d), d, path);
        } else if (value instanceof Float f) {
            notFinite(Float.isFinite(f), f, path);
        }
    }

    private static void notFinite(boolean finite, double v, String path) {
        if (!finite) {
            throw new IllegalStateException("the model produced a non-finite number (" + v + ") in " + path
                    + "; its weights may hold NaN or infinity (nothing printed)");
        }
    }
}
