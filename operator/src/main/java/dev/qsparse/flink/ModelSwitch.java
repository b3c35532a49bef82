package dev.qsparse.flink;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Objects;
import java.util.Set;

/**
 * One record of the model control topic: "serve this model version from now on".
 * <pre>{@code
 * {"model": "s3://models/embedder/v4", "version": "v4"}
 * }</pre>
 * {@code model} is any location {@code qsparse.model.path} accepts (a local directory, a
 * {@code file:} URI, or a URI of a Flink file system); {@code version} is optional and follows the
 * same rule as the configured model's: given here, else the manifest's {@code version}, else the
 * directory's name.
 *
 * <p>Also the form the switch takes in the operator's state (with the version resolved): a POJO
 * (public fields, no-arg constructor), so Flink serializes it without Kryo.
 */
public class ModelSwitch {

    /** Largest control record accepted, in bytes (a location of {@value ModelLocation#MAX_CHARS} chars fits). */
    public static final int MAX_BYTES = 8 * 1024;

    static final String MODEL = "model";
    static final String VERSION = "version";
    private static final Set<String> KEYS = Set.of(MODEL, VERSION);

    /** Where the model is (as given, validated by {@link ModelLocation#parse}). */
    public String model;
    /** The version the outputs will carry; null in a parsed record that names none. */
    public String version;

    public ModelSwitch() {}

    public ModelSwitch(String model, String version) {
        this.model = model;
        this.version = version;
    }

    /**
     * Parses and validates one control record.
     *
     * @throws IllegalArgumentException the record is too large, not UTF-8, not one JSON object, has
     *                                  an unknown or duplicate key, or a bad value; the message
     *                                  names what is wrong
     */
    public static ModelSwitch parse(byte[] record) {
        if (record == null || record.length == 0) {
            throw new IllegalArgumentException("empty model switch record");
        }
        if (record.length > MAX_BYTES) {
            throw new IllegalArgumentException(
                    "model switch record is " + record.length + " bytes, over the limit of " + MAX_BYTES);
        }
        String json;
        try {
            json = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(record))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("model switch record is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = Json.READER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("model switch record is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(
                    "model switch record must be a JSON object like {\"model\": \"s3://b/m/v2\", \"version\": \"v2\"}");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!KEYS.contains(name)) {
                throw new IllegalArgumentException("model switch record has an unknown key \"" + clip(name)
                        + "\" (allowed: \"" + MODEL + "\", \"" + VERSION + "\")");
            }
        }
        JsonNode model = root.get(MODEL);
        if (model == null || !model.isTextual() || model.textValue().isBlank()) {
            throw new IllegalArgumentException("model switch record needs \"" + MODEL
                    + "\": the new model's location (a directory or a URI such as s3://bucket/models/m/v2)");
        }
        ModelLocation.parse(model.textValue(), "model switch \"" + MODEL + "\"");
        String version = null;
        JsonNode v = root.get(VERSION);
        if (v != null && !v.isNull()) {
            if (!v.isTextual() || v.textValue().isBlank()) {
                throw new IllegalArgumentException("model switch \"" + VERSION + "\" must be a non-blank string");
            }
            version = checkVersion(v.textValue(), "model switch \"" + VERSION + "\"");
        }
        return new ModelSwitch(model.textValue(), version);
    }

    /** {@code version} if it is at most {@link ModelManifest#MAX_VERSION_CHARS} printable characters. */
    static String checkVersion(String version, String what) {
        if (version.length() > ModelManifest.MAX_VERSION_CHARS) {
            throw new IllegalArgumentException(what + " must be at most " + ModelManifest.MAX_VERSION_CHARS
                    + " characters, got " + version.length());
        }
        for (int i = 0; i < version.length(); i++) {
            if (Character.isISOControl(version.charAt(i))) {
                throw new IllegalArgumentException(what + " must not contain control characters");
            }
        }
        return version;
    }

    private static String clip(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }

    /** The record that asks for {@code model} (with {@code version}, when not null): what a publisher writes. */
    public static String toJson(String model, String version) {
        Objects.requireNonNull(model, "model");
        return Json.object(g -> {
            g.writeStringField(MODEL, model);
            if (version != null) {
                g.writeStringField(VERSION, version);
            }
        });
    }

    /** The parsed location. */
    public ModelLocation location() {
        return ModelLocation.parse(model, "model switch \"" + MODEL + "\"");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSwitch s && Objects.equals(model, s.model) && Objects.equals(version, s.version);
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, version);
    }

    @Override
    public String toString() {
        // A record without a version takes the manifest's or the directory's when it loads.
        return (version == null ? "the version its location gives" : version) + " (" + model + ")";
    }
}
