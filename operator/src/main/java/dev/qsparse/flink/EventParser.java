package dev.qsparse.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a raw event payload into a {@link ParsedEvent} or a {@link DeadLetter} with the reason.
 * Never throws for bad input.
 *
 * <p>An event is a UTF-8 JSON object:
 * <pre>{"id": "a-1" | 17, "text": "...", "mode"?: "embed"|"generate"|"score", "params"?: {...}}</pre>
 * Checks, in order, each failure giving a dead letter with the stage and reason shown:
 * <ol>
 *   <li>decode: empty payload; bytes that are not valid UTF-8 (strict decoding, never replaced);
 *   <li>parse: not JSON, duplicate keys, trailing data, not an object;
 *   <li>validate: {@code id} missing, not a non-empty string / number, or longer than
 *       {@value #MAX_ID_CHARS} characters; {@code text} missing, not
 *       a string, empty or only white space, or (with {@code REJECT}) longer than
 *       {@code qsparse.input.max-chars} code points; unknown {@code mode}; {@code params} not an
 *       object, an unknown key, or a value of the wrong type or out of range:
 *       {@code max_new_tokens} in [1, max-new-tokens-limit], {@code temperature} 0 (greedy) or in
 *       [1e-4, 10] (below the floor {@link GenerationParams#MIN_TEMPERATURE} the logits would
 *       overflow: use 0),
 *       {@code top_k} >= 0, {@code top_p} in (0, 1], {@code seed} an integer, {@code stop} a list of
 *       at most {@value #MAX_STOP_STRINGS} non-empty strings of at most
 *       {@value #MAX_STOP_CHARS} characters, {@code pooling} "mean", "last", "cls" or "max" (absent: qsparse.embed.pooling, else the
 *       model's own). Every known key is
 *       accepted in every mode (a generation key is ignored by embed, for example).
 * </ol>
 * Other top-level fields are ignored (producers may add metadata); unknown {@code params} keys are
 * not (a misspelt parameter would otherwise be silently dropped). The id is kept in every dead
 * letter where it could be read; a numeric id is kept as its exact JSON token ({@code 1.50},
 * {@code 1E2}, {@code 1e400} are echoed as sent, never rounded or turned into {@code Infinity}).
 * Every dead letter is bounded by {@code qsparse.output.max-record-size} (see {@link DeadLetter}).
 * Stateless and thread-safe.
 */
public final class EventParser {

    public static final int MAX_STOP_STRINGS = 8;
    public static final int MAX_STOP_CHARS = 64;
    /**
     * Longest id, in chars (for a number, of its token). The id is echoed in every output record
     * and is the Kafka job's record key, so it must stay small next to the record size bound.
     */
    public static final int MAX_ID_CHARS = 1024;

    private static final Set<String> PARAMS =
            Set.of("max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop", "pooling");

    /** The payload of a text that came without one: its dead letter carries only the reason. */
    private static final byte[] NO_PAYLOAD = new byte[0];

    private final QSparseSettings settings;
    private final GenerationParams defaults;

    public EventParser(QSparseSettings settings) {
        this.settings = settings;
        this.defaults = settings.defaultGeneration();
    }

    /** Either a valid event or a dead letter. */
    public static final class Outcome {
        final ParsedEvent event;
        final DeadLetter deadLetter;

        private Outcome(ParsedEvent event, DeadLetter deadLetter) {
            this.event = event;
            this.deadLetter = deadLetter;
        }

        /** The valid event, or null. */
        public ParsedEvent event() {
            return event;
        }

        /** Why the input was rejected, or null. */
        public DeadLetter deadLetter() {
            return deadLetter;
        }
    }

    /** Thrown inside the parser only; carries what the dead letter needs. */
    private static final class Invalid extends Exception {
        final String stage;

        Invalid(String stage, String reason) {
            super(reason, null, false, false);
            this.stage = stage;
        }
    }

    Outcome parse(byte[] payload) {
        String json;
        try {
            json = decode(payload);
        } catch (Invalid e) {
            boolean empty = payload == null || payload.length == 0;
            return dead(payload, empty, null, false, e);
        }
        String id = null;
        boolean idNumeric = false;
        try {
            JsonNode root = readObject(json);
            JsonNode idNode = root.get("id");
            if (idNode == null || idNode.isNull()) {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, "missing id");
            }
            String candidate;
            if (idNode.isTextual() && !idNode.asText().isEmpty()) {
                candidate = idNode.asText();
            } else if (idNode.isNumber()) {
                // The tree holds the parsed value (1e400 as Infinity, 1.50 as 1.5): echo the token.
                candidate = rawIdToken(json);
                idNumeric = true;
            } else {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, "id must be a non-empty string or a number");
            }
            if (candidate.length() > MAX_ID_CHARS) {
                throw new Invalid(
                        DeadLetter.STAGE_VALIDATE,
                        "id has " + candidate.length() + " characters, over the limit of " + MAX_ID_CHARS);
            }
            id = candidate;
            return new Outcome(validate(payload, root, id, idNumeric), null);
        } catch (Invalid e) {
            return dead(payload, true, id, idNumeric, e);
        }
    }

    private Outcome dead(byte[] payload, boolean validUtf8, String id, boolean idNumeric, Invalid e) {
        return new Outcome(
                null,
                DeadLetter.of(
                        payload,
                        validUtf8,
                        id,
                        idNumeric,
                        e.stage,
                        e.getMessage(),
                        settings.modelName(),
                        settings.maxRecordBytes()));
    }

    /**
     * The text of the top-level "id" value exactly as it appears in {@code json}, which has
     * already been read as a valid object with no duplicate keys.
     */
    private static String rawIdToken(String json) throws Invalid {
        try (JsonParser p = Json.READER.getFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalStateException("not an object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if ("id".equals(name) && value.isNumeric()) {
                    return p.getText();
                }
                p.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            throw new Invalid(DeadLetter.STAGE_PARSE, "invalid JSON: cannot re-read the id: " + e.getMessage());
        }
        throw new Invalid(DeadLetter.STAGE_PARSE, "invalid JSON: numeric id not found on re-reading");
    }

    private static String decode(byte[] payload) throws Invalid {
        if (payload == null || payload.length == 0) {
            throw new Invalid(DeadLetter.STAGE_DECODE, "empty payload");
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(payload);
        try {
            CharBuffer chars = decoder.decode(in);
            return chars.toString();
        } catch (MalformedInputException e) {
            throw new Invalid(DeadLetter.STAGE_DECODE, "invalid UTF-8 at byte " + in.position());
        } catch (CharacterCodingException e) {
            throw new Invalid(DeadLetter.STAGE_DECODE, "invalid UTF-8");
        }
    }

    private static JsonNode readObject(String json) throws Invalid {
        JsonNode root;
        try {
            root = Json.READER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new Invalid(DeadLetter.STAGE_PARSE, "invalid JSON: " + e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode()) {
            throw new Invalid(DeadLetter.STAGE_PARSE, "invalid JSON: no value");
        }
        if (!root.isObject()) {
            throw new Invalid(DeadLetter.STAGE_PARSE, "event is not a JSON object");
        }
        return root;
    }

    private ParsedEvent validate(byte[] payload, JsonNode root, String id, boolean idNumeric) throws Invalid {
        JsonNode textNode = root.get("text");
        if (textNode == null || textNode.isNull()) {
            throw new Invalid(DeadLetter.STAGE_VALIDATE, "missing text");
        }
        if (!textNode.isTextual()) {
            throw new Invalid(DeadLetter.STAGE_VALIDATE, "text must be a string");
        }
        String original = textNode.asText();
        String text = boundedText(original);
        boolean truncated = text.length() != original.length();

        Task mode = settings.defaultMode();
        JsonNode modeNode = root.get("mode");
        if (modeNode != null && !modeNode.isNull()) {
            if (!modeNode.isTextual()) {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, "mode must be a string");
            }
            try {
                mode = Task.fromWireName(modeNode.asText());
            } catch (IllegalArgumentException e) {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, e.getMessage());
            }
        }

        GenerationParams generation = defaults;
        Pooling pooling = settings.pooling();
        JsonNode params = root.get("params");
        if (params != null && !params.isNull()) {
            if (!params.isObject()) {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, "params must be an object");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> p = it.next();
                String key = p.getKey();
                JsonNode v = p.getValue();
                switch (key) {
                    case "max_new_tokens" ->
                        generation = generation.withMaxNewTokens(intIn(key, v, 1, settings.maxNewTokensLimit()));
                    case "temperature" -> generation = generation.withTemperature(temperature(v));
                    case "top_k" -> generation = generation.withTopK(intIn(key, v, 0, Integer.MAX_VALUE));
                    case "top_p" -> generation = generation.withTopP(doubleIn(key, v, 0, 1, false));
                    case "seed" -> {
                        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                            throw new Invalid(DeadLetter.STAGE_VALIDATE, "params.seed must be a 64-bit integer");
                        }
                        generation = generation.withSeed(v.asLong());
                    }
                    case "stop" -> generation = generation.withStopStrings(stops(v));
                    case "pooling" -> {
                        if (!v.isTextual()) {
                            throw new Invalid(
                                    DeadLetter.STAGE_VALIDATE,
                                    "params.pooling must be \"mean\", \"last\", \"cls\" or \"max\"");
                        }
                        try {
                            pooling = Pooling.fromName(v.asText());
                        } catch (IllegalArgumentException e) {
                            throw new Invalid(DeadLetter.STAGE_VALIDATE, "params.pooling: " + e.getMessage());
                        }
                    }
                    default ->
                        throw new Invalid(
                                DeadLetter.STAGE_VALIDATE,
                                "unknown parameter params." + key + " (expected one of "
                                        + String.join(", ", sorted(PARAMS)) + ")");
                }
            }
        }
        return new ParsedEvent(payload, id, idNumeric, text, truncated, mode, generation, pooling);
    }

    /**
     * {@code text} checked (not blank) and bounded by {@code qsparse.input.max-chars}: cut to that
     * many code points, or rejected with {@code REJECT}.
     */
    private String boundedText(String text) throws Invalid {
        if (text.isBlank()) {
            throw new Invalid(DeadLetter.STAGE_VALIDATE, "empty text");
        }
        int max = settings.inputMaxChars();
        int codePoints = text.codePointCount(0, text.length());
        if (codePoints <= max) {
            return text;
        }
        if (settings.inputOverflow() == InputOverflow.REJECT) {
            throw new Invalid(
                    DeadLetter.STAGE_VALIDATE, "text has " + codePoints + " characters, over the limit of " + max);
        }
        return text.substring(0, text.offsetByCodePoints(0, max));
    }

    /**
     * A plain text (a SQL row's column, not a JSON event) in the default mode with the default
     * parameters, under the same text checks as an event's "text": a null, blank or (with
     * {@code REJECT}) too long text gives a dead letter with the reason, without id or payload.
     */
    public Outcome parseText(String text) {
        try {
            if (text == null) {
                throw new Invalid(DeadLetter.STAGE_VALIDATE, "missing text (null)");
            }
            String bounded = boundedText(text);
            return new Outcome(
                    new ParsedEvent(
                            NO_PAYLOAD,
                            null,
                            false,
                            bounded,
                            bounded.length() != text.length(),
                            settings.defaultMode(),
                            defaults,
                            settings.pooling()),
                    null);
        } catch (Invalid e) {
            return dead(NO_PAYLOAD, true, null, false, e);
        }
    }

    private static List<String> sorted(Set<String> s) {
        List<String> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }

    private static int intIn(String key, JsonNode v, int min, int max) throws Invalid {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw new Invalid(
                    DeadLetter.STAGE_VALIDATE,
                    "params." + key + " must be an integer in [" + min + ", "
                            + (max == Integer.MAX_VALUE ? "2^31-1" : String.valueOf(max)) + "], got " + v);
        }
        return v.asInt();
    }

    private static double doubleIn(String key, JsonNode v, double min, double max, boolean minInclusive)
            throws Invalid {
        double d = v.isNumber() ? v.asDouble() : Double.NaN;
        boolean ok = v.isNumber() && (minInclusive ? d >= min : d > min) && d <= max;
        if (!ok) {
            throw new Invalid(
                    DeadLetter.STAGE_VALIDATE,
                    "params." + key + " must be a number in " + (minInclusive ? "[" : "(") + fmt(min) + ", " + fmt(max)
                            + "], got " + v);
        }
        return d;
    }

    /** 0 (greedy) or in [MIN_TEMPERATURE, MAX_TEMPERATURE]: the floor of {@link GenerationParams}. */
    private static double temperature(JsonNode v) throws Invalid {
        double t = v.isNumber() ? v.asDouble() : Double.NaN;
        if (!v.isNumber() || !GenerationParams.validTemperature(t)) {
            throw new Invalid(
                    DeadLetter.STAGE_VALIDATE,
                    "params.temperature must be 0 (greedy) or a number in [" + GenerationParams.MIN_TEMPERATURE + ", "
                            + fmt(GenerationParams.MAX_TEMPERATURE) + "], got " + v);
        }
        return t;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    private static List<String> stops(JsonNode v) throws Invalid {
        if (!v.isArray()) {
            throw new Invalid(DeadLetter.STAGE_VALIDATE, "params.stop must be a list of strings");
        }
        if (v.size() > MAX_STOP_STRINGS) {
            throw new Invalid(
                    DeadLetter.STAGE_VALIDATE,
                    "params.stop has " + v.size() + " strings, at most " + MAX_STOP_STRINGS + " are allowed");
        }
        List<String> out = new ArrayList<>(v.size());
        for (JsonNode s : v) {
            if (!s.isTextual() || s.asText().isEmpty() || s.asText().length() > MAX_STOP_CHARS) {
                throw new Invalid(
                        DeadLetter.STAGE_VALIDATE,
                        "params.stop entries must be non-empty strings of at most " + MAX_STOP_CHARS
                                + " characters, got " + s);
            }
            out.add(s.asText());
        }
        return out;
    }
}
