package dev.qsparse.flink;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;

/**
 * An event the operator could not enrich, with the original payload and the reason. A Flink POJO
 * (public fields, no-arg constructor), so it never goes through Kryo.
 *
 * <p>JSON form ({@link #toJson()}): {@code {"id", "stage", "reason", "model", "payload",
 * "payload_base64"?, "payload_bytes", "payload_truncated", "payload_sha256"?}}. {@code payload} is
 * the payload decoded as UTF-8 with invalid bytes replaced by U+FFFD; {@code payload_base64} holds
 * the exact bytes and is present only when they were not valid UTF-8; {@code payload_bytes} is the
 * length of the original payload.
 *
 * <p><b>Bounded size.</b> Made by {@link #of}, a dead letter's JSON is never longer than the
 * operator's {@code qsparse.output.max-record-size} in UTF-8 bytes, whatever came in (a sink such
 * as Kafka's rejects records over its limit, and a rejected record would fail the job again on
 * every restart). When the whole payload does not fit, {@code payload} and
 * {@code payload_base64} hold the longest prefix of its bytes that does (cut on a character
 * boundary when the payload is valid UTF-8), {@code payload_truncated} is true and
 * {@code payload_sha256} is the SHA-256 (hex) of the complete original bytes. The size is
 * measured on the JSON actually written: one invalid byte becomes a 3-byte U+FFFD plus base64,
 * a control character a 6-byte escape. The reason is cut at {@value #MAX_REASON_CHARS} characters.
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
    /** The enriched record would be larger than {@code qsparse.output.max-record-size}. */
    public static final String STAGE_OUTPUT = "output";
    /**
     * A record of the model control topic that was refused (malformed, or a version that failed to
     * load or its smoke check); the old version keeps serving. The payload is the control record.
     */
    public static final String STAGE_MODEL_SWITCH = "model-switch";

    /** Longest reason kept; a reason can quote a value of the event, which may be huge. */
    public static final int MAX_REASON_CHARS = 1000;

    /** The event's id when it could be read, else null. */
    public String id;
    /** Whether {@link #id} was a JSON number (then {@link #id} is its exact token). */
    public boolean idNumeric;

    public String stage;
    public String reason;
    public String model;
    /** The payload (or, when {@link #payloadTruncated}, its prefix) as UTF-8 text. */
    public String originalPayload;
    /** Base64 of the raw payload (or prefix), only when it was not valid UTF-8; else null. */
    public String payloadBase64;
    /** Length of the complete original payload in bytes. */
    public long payloadLength;
    /** Whether {@link #originalPayload} / {@link #payloadBase64} hold only a prefix. */
    public boolean payloadTruncated;
    /** SHA-256 (lower-case hex) of the complete original payload; set only when truncated. */
    public String payloadSha256;

    public DeadLetter() {}

    /**
     * A dead letter whose JSON is at most {@code maxBytes} UTF-8 bytes, cutting the payload if it
     * must. {@code maxBytes} must leave room for the other fields (the settings guarantee at least
     * {@link QSparseSettings#MIN_RECORD_BYTES}, and ids, reasons and model names are bounded).
     */
    static DeadLetter of(
            byte[] payload,
            boolean validUtf8,
            String id,
            boolean idNumeric,
            String stage,
            String reason,
            String model,
            int maxBytes) {
        DeadLetter d = new DeadLetter();
        d.id = id;
        d.idNumeric = idNumeric;
        d.stage = stage;
        d.reason = cut(reason);
        d.model = model;
        byte[] bytes = payload == null ? new byte[0] : payload;
        d.payloadLength = bytes.length;
        d.setPayload(bytes, bytes.length, validUtf8);
        if (d.sizeAtMost(maxBytes)) {
            return d;
        }
        // Too big: keep the longest prefix that fits. Binary search on the measured JSON size; lo
        // always fits (checked below), hi never does.
        d.payloadTruncated = true;
        d.payloadSha256 = sha256(bytes);
        d.setPayload(bytes, 0, validUtf8);
        if (!d.sizeAtMost(maxBytes)) {
            throw new IllegalStateException("a dead letter without its payload is still larger than " + maxBytes
                    + " bytes: " + d.toJson().substring(0, 200));
        }
        int lo = 0;
        // Every payload byte costs at least one output byte, so more than maxBytes never fits.
        int hi = (int) Math.min(bytes.length, (long) maxBytes + 1);
        while (hi - lo > 1) {
            int mid = (int) (((long) lo + hi) >>> 1);
            d.setPayload(bytes, mid, validUtf8);
            if (d.sizeAtMost(maxBytes)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        d.setPayload(bytes, lo, validUtf8);
        return d;
    }

    /** Sets the payload fields from the first {@code length} bytes (backed off to a character boundary if valid). */
    private void setPayload(byte[] bytes, int length, boolean validUtf8) {
        int n = length;
        if (validUtf8) {
            // Never cut inside a character: a continuation byte (10xxxxxx) cannot start the rest.
            while (n > 0 && n < bytes.length && (bytes[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        originalPayload = new String(bytes, 0, n, StandardCharsets.UTF_8);
        payloadBase64 = validUtf8 ? null : Base64.getEncoder().encodeToString(Arrays.copyOf(bytes, n));
    }

    /**
     * Whether the JSON form fits in {@code maxBytes}. Most dead letters are small: a cheap upper
     * bound (every char at most a 6-byte escape) answers without writing the JSON.
     */
    boolean sizeAtMost(long maxBytes) {
        long bound = 256
                + 6L * (len(id) + len(stage) + len(reason) + len(model) + len(originalPayload))
                + len(payloadBase64)
                + len(payloadSha256);
        return bound <= maxBytes || Json.utf8Length(toJson()) <= maxBytes;
    }

    private static long len(String s) {
        return s == null ? 0 : s.length();
    }

    private static String cut(String reason) {
        if (reason == null || reason.length() <= MAX_REASON_CHARS) {
            return reason;
        }
        int end = MAX_REASON_CHARS;
        if (Character.isLowSurrogate(reason.charAt(end)) && Character.isHighSurrogate(reason.charAt(end - 1))) {
            end--;
        }
        return reason.substring(0, end) + "... (" + reason.length() + " characters)";
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }

    /** The payload bytes kept: all of them, or the prefix when {@link #payloadTruncated}. */
    public byte[] payloadBytes() {
        return payloadBase64 != null
                ? Base64.getDecoder().decode(payloadBase64)
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
            g.writeNumberField("payload_bytes", payloadLength);
            g.writeBooleanField("payload_truncated", payloadTruncated);
            if (payloadSha256 != null) {
                g.writeStringField("payload_sha256", payloadSha256);
            }
        });
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof DeadLetter d)) {
            return false;
        }
        return idNumeric == d.idNumeric
                && Objects.equals(id, d.id)
                && Objects.equals(stage, d.stage)
                && Objects.equals(reason, d.reason)
                && Objects.equals(model, d.model)
                && Objects.equals(originalPayload, d.originalPayload)
                && Objects.equals(payloadBase64, d.payloadBase64)
                && payloadLength == d.payloadLength
                && payloadTruncated == d.payloadTruncated
                && Objects.equals(payloadSha256, d.payloadSha256);
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
