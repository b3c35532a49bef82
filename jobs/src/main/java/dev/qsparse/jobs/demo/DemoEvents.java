package dev.qsparse.jobs.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The demo's input: held-out event texts as JSON, with deliberately malformed events mixed in,
 * each malformed kind once per round so every dead-letter reason shows up.
 */
public final class DemoEvents {

    /** One Kafka record value and the id the pipeline must account for. */
    public record Event(String id, byte[] payload, boolean malformed) {}

    private DemoEvents() {}

    /** Reads one text per non-blank line. */
    public static List<String> readTexts(Path file) throws IOException {
        List<String> texts = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                texts.add(line.strip());
            }
        }
        if (texts.isEmpty()) {
            throw new IOException(file + " has no event texts");
        }
        return texts;
    }

    /**
     * {@code count} well-formed events (texts reused round-robin) and {@code malformed} broken
     * ones, shuffled with a fixed seed. Malformed events that still carry an id use ids starting
     * with "bad-"; those that cannot carry one (not JSON, invalid UTF-8) are counted by the
     * caller through the dead-letter payloads.
     */
    public static List<Event> build(List<String> texts, int count, int malformed, String mode, long seed) {
        List<Event> events = new ArrayList<>(count + malformed);
        for (int i = 0; i < count; i++) {
            String id = String.format("evt-%05d", i);
            String json = "{\"id\":" + quote(id) + ",\"text\":" + quote(texts.get(i % texts.size()))
                    + (mode == null ? "" : ",\"mode\":" + quote(mode)) + "}";
            events.add(new Event(id, json.getBytes(StandardCharsets.UTF_8), false));
        }
        for (int i = 0; i < malformed; i++) {
            String id = String.format("bad-%05d", i);
            events.add(new Event(id, malformedPayload(i, id), true));
        }
        java.util.Collections.shuffle(events, new Random(seed));
        return events;
    }

    /** The kinds of broken input a real topic sees. */
    static byte[] malformedPayload(int i, String id) {
        String json = switch (i % 8) {
            case 0 -> "{\"id\": " + quote(id) + ", \"text\": \"unterminated"; // invalid JSON
            case 1 -> "{\"id\": " + quote(id) + "}"; // missing text
            case 2 -> "{\"id\": " + quote(id) + ", \"text\": \"\"}"; // empty text
            case 3 -> "{\"id\": " + quote(id) + ", \"text\": \"hello\", \"mode\": \"translate\"}"; // unknown mode
            case 4 ->
                "{\"id\": " + quote(id) + ", \"text\": \"hello\", \"mode\": \"generate\", "
                        + "\"params\": {\"temperature\": -3}}"; // out-of-range parameter
            case 5 -> "{\"text\": \"an event without an id\", \"ref\": " + quote(id) + "}"; // missing id
            case 6 -> "[" + quote(id) + ", \"a JSON array, not an object\"]"; // not an object
            default -> null; // invalid UTF-8
        };
        if (json != null) {
            return json.getBytes(StandardCharsets.UTF_8);
        }
        byte[] prefix = ("{\"id\": " + quote(id) + ", \"text\": \"bad bytes ").getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[prefix.length + 4];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        out[prefix.length] = (byte) 0xC3; // a lead byte ...
        out[prefix.length + 1] = (byte) 0x28; // ... followed by a non-continuation byte
        out[prefix.length + 2] = '"';
        out[prefix.length + 3] = '}';
        return out;
    }

    /** A JSON string literal. */
    static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();
}
