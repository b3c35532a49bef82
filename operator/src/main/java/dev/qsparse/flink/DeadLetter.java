package dev.qsparse.flink;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * An event the operator could not enrich, with the original payload and the reason. A Flink POJO
 * (public fields, no-arg constructor), so it never goes through Kryo.
 *
 * <p>JSON form ({@link #toJson()}): {@code {"id", "stage", "reason", "model", "payload",
 * "payload_base64"?}}. {@code payload} is the payload decoded as UTF-8 with invalid bytes replaced
 * by U+FFFD; {@code payload_base64} holds the exact bytes and is present only when they were not
 * valid UTF-8.
 */
public class DeadLetter {

    /** The payload is not valid UTF-8 (or is empty). */
    public static final String STAGE_DECODE = "decode";
    /** The payload is not a JSON object. */
    public static final String STAGE_PARSE = "parse";
    /** A field or parameter is missing, of the wrong type, or out of range. */
    public static final String STAGE_VALIDATE = "validate";
    /** The model could not serve the event (for example, a text with nothing to score). */
    public static final String STAGE_INFERENCE = "inference";
    /** No result within {@code qsparse.async.timeout}. */
    public static final String STAGE_TIMEOUT = "timeout";

    /** The event's id when it could be read, else null. */
    public String id;
    /** Whether {@link #id} was a JSON number. */
    public boolean idNumeric;
    public String stage;
    public String reason;
    public String model;
    public String originalPayload;
    /** Base64 of the raw payload, only when it was not valid UTF-8; else null. */
    public String payloadBase64;

    public DeadLetter() {
    }

    static DeadLetter of(byte[] payload, boolean validUtf8, String id, boolean idNumeric, String stage,
                         String reason, String model) {
        DeadLetter d = new DeadLetter();
        d.id = id;
        d.idNumeric = idNumeric;
        d.stage = stage;
        d.reason = reason;
        d.model = model;
        byte[] bytes = payload == null ? new byte[0] : payload;
        d.originalPayload = new String(bytes, StandardCharsets.UTF_8);
        d.payloadBase64 = validUtf8 ? null : Base64.getEncoder().encodeToString(bytes);
        return d;
    }

    /** The exact payload bytes. */
    public byte[] payloadBytes() {
        return payloadBase64 != null ? Base64.getDecoder().decode(payloadBase64)
                : originalPayload.getBytes(StandardCharsets.UTF_8);
    }

    public String toJson() {
        return Json.object(g -> {
            Json.writeId(g, id, idNumeric);
            g.writeStringField("stage", stage);
            g.writeStringField("reason", reason);
            g.writeStringField("model", model);
            g.writeStringField("payload", originalPayload);
            if (payloadBase64 != null) {
                g.writeStringField("payload_base64", payloadBase64);
            }
        });
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof DeadLetter d)) {
            return false;
        }
        return idNumeric == d.idNumeric && Objects.equals(id, d.id) && Objects.equals(stage, d.stage)
                && Objects.equals(reason, d.reason) && Objects.equals(model, d.model)
                && Objects.equals(originalPayload, d.originalPayload)
                && Objects.equals(payloadBase64, d.payloadBase64);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, stage, reason, originalPayload);
    }

    @Override
    public String toString() {
        return toJson();
    }
}
