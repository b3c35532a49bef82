package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Set;

/**
 * Reads the rotary embedding's keys as transformers does: {@code rope_theta} and {@code
 * rope_scaling} (transformers 4), or {@code rope_parameters} (transformers 5, which holds the theta
 * and the scaling in one object). Both spellings may be present; then they must agree. Scaling
 * types other than default, linear and llama3, keys inside them we do not read, and a partial
 * rotary factor other than 1 are refused by name.
 */
final class RopeKeys {

    /** The base and the frequency rule of a model's rotary embedding. */
    record Rope(double theta, RopeScaling scaling) {}

    private static final Set<String> TYPE_KEYS = Set.of("rope_type", "type");
    private static final Set<String> LINEAR_KEYS = Set.of("factor");
    private static final Set<String> LLAMA3_KEYS =
            Set.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings");

    private RopeKeys() {}

    static Rope read(JsonNode c, double defaultTheta) {
        requireFullRotation(c, "partial_rotary_factor");
        boolean hasTheta = c.hasNonNull("rope_theta");
        double theta = ConfigReader.positive(c, "rope_theta", defaultTheta, Double.MAX_VALUE);
        JsonNode legacy = c.get("rope_scaling");
        RopeScaling scaling = scaling(legacy, "rope_scaling", false);
        JsonNode params = c.get("rope_parameters");
        if (params == null || params.isNull()) {
            return new Rope(theta, scaling);
        }
        if (!params.isObject()) {
            throw new IllegalArgumentException("'rope_parameters' must be an object, got " + params);
        }
        double paramsTheta = ConfigReader.positive(params, "rope_theta", theta, Double.MAX_VALUE);
        RopeScaling paramsScaling = scaling(params, "rope_parameters", true);
        if (hasTheta && paramsTheta != theta) {
            throw new IllegalArgumentException("'rope_parameters.rope_theta' " + paramsTheta + " disagrees with"
                    + " 'rope_theta' " + theta + ": give one of them");
        }
        if (legacy != null && !legacy.isNull() && !paramsScaling.equals(scaling)) {
            throw new IllegalArgumentException(
                    "'rope_parameters' " + params + " disagrees with 'rope_scaling' " + legacy + ": give one of them");
        }
        return new Rope(paramsTheta, paramsScaling);
    }

    /**
     * One scaling object. In rope_parameters the type may be absent (transformers 5 then means
     * default) and rope_theta sits beside it; in rope_scaling the type is required.
     */
    private static RopeScaling scaling(JsonNode s, String key, boolean parameters) {
        if (s == null || s.isNull()) {
            return RopeScaling.NONE;
        }
        if (!s.isObject()) {
            throw new IllegalArgumentException("'" + key + "' must be an object or null, got " + s);
        }
        String type = type(s, key, parameters);
        Set<String> keys = switch (type) {
            case "default" -> Set.of();
            case "linear" -> LINEAR_KEYS;
            case "llama3" -> LLAMA3_KEYS;
            default ->
                throw new IllegalArgumentException(
                        "'" + key + ".rope_type' '" + type + "' is not supported (supported: default, linear, llama3)");
        };
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            boolean known = keys.contains(name)
                    || TYPE_KEYS.contains(name)
                    || name.equals("partial_rotary_factor")
                    || (parameters && name.equals("rope_theta"));
            if (!known) {
                throw new IllegalArgumentException("'" + key + "." + name + "' is not supported for rope_type " + type
                        + " (this runtime reads "
                        + (keys.isEmpty()
                                ? "no other key"
                                : String.join(", ", keys.stream().sorted().toList()))
                        + ")");
            }
        }
        requireFullRotation(s, key + ".partial_rotary_factor");
        return switch (type) {
            case "linear" -> RopeScaling.linear(factor(s, key));
            case "llama3" -> {
                double low = ConfigReader.positive(s, "low_freq_factor", Double.NaN, Double.MAX_VALUE);
                double high = ConfigReader.positive(s, "high_freq_factor", Double.NaN, Double.MAX_VALUE);
                requirePresent(s, key, "low_freq_factor");
                requirePresent(s, key, "high_freq_factor");
                requirePresent(s, key, "original_max_position_embeddings");
                int original =
                        ConfigReader.optionalInt(s, "original_max_position_embeddings", 0, 1, ConfigReader.MAX_CONTEXT);
                if (!(high > low)) {
                    throw new IllegalArgumentException(
                            "'" + key + ".high_freq_factor' " + high + " must be greater than low_freq_factor " + low);
                }
                yield RopeScaling.llama3(factor(s, key), low, high, original);
            }
            default -> RopeScaling.NONE;
        };
    }

    private static String type(JsonNode s, String key, boolean parameters) {
        String ropeType = ConfigReader.string(s, "rope_type", null);
        String legacyType = ConfigReader.string(s, "type", null);
        if (ropeType != null && legacyType != null && !ropeType.equals(legacyType)) {
            throw new IllegalArgumentException("'" + key + ".rope_type' '" + ropeType + "' disagrees with '" + key
                    + ".type' '" + legacyType + "'");
        }
        String type = ropeType != null ? ropeType : legacyType;
        if (type == null) {
            if (parameters) {
                return "default";
            }
            throw new IllegalArgumentException("'" + key + "' has no rope_type");
        }
        return type;
    }

    private static double factor(JsonNode s, String key) {
        requirePresent(s, key, "factor");
        double factor = ConfigReader.positive(s, "factor", Double.NaN, Double.MAX_VALUE);
        if (!(factor >= 1)) {
            throw new IllegalArgumentException("'" + key + ".factor' must be >= 1, got " + factor);
        }
        return factor;
    }

    private static void requirePresent(JsonNode s, String key, String name) {
        if (!s.hasNonNull(name)) {
            throw new IllegalArgumentException("'" + key + "' is missing '" + name + "'");
        }
    }

    /** transformers rotates only a fraction of each head when this is below 1; the runtime rotates all of it. */
    private static void requireFullRotation(JsonNode c, String key) {
        String name = key.substring(key.lastIndexOf('.') + 1);
        JsonNode v = c.get(name);
        if (v != null && !v.isNull() && !(v.isNumber() && v.doubleValue() == 1.0)) {
            throw new IllegalArgumentException("'" + key + "' " + v + " is not supported (the whole head is rotated)");
        }
    }
}
