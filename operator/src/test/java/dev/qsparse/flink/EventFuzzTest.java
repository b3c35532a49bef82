package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.flink.configuration.MemorySize;
import org.junit.jupiter.api.Test;

/**
 * Seeded fuzzing of the event path: valid events of every mode, mutated (hostile values for
 * every field and parameter, removed and added keys, raw-byte damage: truncation, flipped bytes,
 * invalid UTF-8, bare NaN tokens, trailing garbage), through the {@link EventParser} alone and
 * through the async operator in Flink's test harness. Invariants: the parser never throws and
 * gives exactly one of an event or a dead letter; the operator emits exactly one record per
 * event, in order, with the id the parser read; every record is valid JSON (no NaN, no
 * Infinity) and at most {@code qsparse.output.max-record-size} bytes.
 *
 * <p>{@code -Dqsparse.fuzz.seed=N} and {@code -Dqsparse.fuzz.events=N} change the seed and the
 * number of events through the operator (the parser sees ten times as many).
 */
class EventFuzzTest {

    private static final long SEED = Long.getLong("qsparse.fuzz.seed", 20261130L);
    private static final int EVENTS = Integer.getInteger("qsparse.fuzz.events", 240);
    /** The smallest bound the settings allow, so that the bound is actually reached. */
    private static final int MAX_RECORD = QSparseSettings.MIN_RECORD_BYTES;

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final List<String> KEYS = List.of(
            "id",
            "text",
            "mode",
            "params",
            "max_new_tokens",
            "temperature",
            "top_k",
            "top_p",
            "seed",
            "stop",
            "pooling");

    private static QSparseSettings settings() {
        return settings(TestEvents.MODEL.toString());
    }

    private static QSparseSettings settings(String modelPath) {
        return QSparseEnrichment.builder()
                .modelPath(modelPath)
                .maxBatchSize(8)
                .maxWait(Duration.ofMillis(2))
                .maxNewTokens(4)
                .maxNewTokensLimit(6)
                .inputMaxChars(400)
                .maxRecordSize(new MemorySize(MAX_RECORD))
                .build()
                .settings();
    }

    /** Generates mutated event payloads from one seed. */
    static final class Events {
        private final SplittableRandom random;
        private int n;

        Events(long seed) {
            this.random = new SplittableRandom(seed);
        }

        JsonNode hostile() {
            switch (random.nextInt(26)) {
                case 0:
                    return F.numberNode(new BigDecimal("1e400"));
                case 1:
                    return F.numberNode(new BigDecimal("-1e-400"));
                case 2:
                    return F.numberNode(new BigDecimal("1.50"));
                case 3:
                    return F.numberNode(new BigInteger("123456789012345678901234567890"));
                case 4:
                    return F.numberNode(Long.MIN_VALUE);
                case 5:
                    return F.numberNode(random.nextInt(-3, 12));
                case 6:
                    return F.numberNode(1e-300);
                case 7:
                    return F.numberNode(random.nextDouble() * 12 - 1);
                case 8:
                    return F.textNode("");
                case 9:
                    return F.textNode(" \t\n");
                case 10:
                    return F.textNode("x".repeat(random.nextInt(1, 40_000)));
                case 11:
                    return F.textNode("\uD800 lone " + "\uDC00");
                case 12:
                    return F.textNode("emoji \uD83D\uDE00 \u0000 \u001F control");
                case 13:
                    return F.textNode(random.nextBoolean() ? "generate" : random.nextBoolean() ? "score" : "last");
                case 14:
                    return F.nullNode();
                case 15:
                    return F.booleanNode(random.nextBoolean());
                case 16:
                    return F.arrayNode();
                case 17:
                    return F.objectNode();
                case 18: {
                    ArrayNode a = F.arrayNode();
                    for (int i = random.nextInt(12); i > 0; i--) {
                        a.add(random.nextBoolean() ? "stop" + i : "");
                    }
                    return a;
                }
                case 19: {
                    JsonNode deep = F.textNode("deep");
                    for (int i = random.nextInt(1, 300); i > 0; i--) {
                        ArrayNode a = F.arrayNode();
                        a.add(deep);
                        deep = a;
                    }
                    return deep;
                }
                case 20:
                    return F.textNode("mean");
                case 21:
                    return F.numberNode(0.0001);
                case 22:
                    return F.numberNode(-0.0);
                default:
                    return F.textNode("A sentence for the model, number " + random.nextInt(1000) + ".");
            }
        }

        ObjectNode valid() {
            ObjectNode o = F.objectNode();
            int i = n++;
            if (random.nextInt(4) == 0) {
                o.put("id", i);
            } else {
                o.put("id", "f" + i);
            }
            o.put("text", TestEvents.sentence(i));
            String[] modes = {"embed", "generate", "score"};
            o.put("mode", modes[random.nextInt(3)]);
            if (random.nextBoolean()) {
                ObjectNode p = o.putObject("params");
                p.put("max_new_tokens", 1 + random.nextInt(6));
                p.put("temperature", random.nextBoolean() ? 0 : 0.7);
                p.put("seed", random.nextInt(100));
                p.put("pooling", random.nextBoolean() ? "mean" : "last");
            }
            return o;
        }

        byte[] next() {
            ObjectNode o = valid();
            int kind = random.nextInt(10);
            if (kind < 2) {
                return TestEvents.bytes(o); // some stay valid, so inference really runs
            }
            for (int k = 1 + random.nextInt(3); k > 0; k--) {
                List<ObjectNode> objects = new ArrayList<>();
                objects.add(o);
                if (o.get("params") instanceof ObjectNode p) {
                    objects.add(p);
                }
                ObjectNode target = objects.get(random.nextInt(objects.size()));
                List<String> names = new ArrayList<>();
                for (Iterator<String> it = target.fieldNames(); it.hasNext(); ) {
                    names.add(it.next());
                }
                int op = random.nextInt(10);
                if (op < 6 && !names.isEmpty()) {
                    target.set(names.get(random.nextInt(names.size())), hostile());
                } else if (op < 7 && !names.isEmpty()) {
                    target.remove(names.get(random.nextInt(names.size())));
                } else {
                    target.set(KEYS.get(random.nextInt(KEYS.size())), hostile());
                }
            }
            byte[] b;
            try {
                b = TestEvents.JSON.writeValueAsString(o).getBytes(StandardCharsets.UTF_8);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return kind < 7 ? b : damage(b);
        }

        byte[] damage(byte[] b) {
            switch (random.nextInt(6)) {
                case 0:
                    return Arrays.copyOf(b, random.nextInt(b.length + 1));
                case 1: {
                    byte[] c = b.clone();
                    for (int i = 1 + random.nextInt(4); i > 0 && c.length > 0; i--) {
                        c[random.nextInt(c.length)] = (byte) random.nextInt(256);
                    }
                    return c;
                }
                case 2:
                    return concat(b, new byte[] {(byte) 0xFF, (byte) 0xC0, (byte) 0x80});
                case 3: {
                    String s = new String(b, StandardCharsets.UTF_8);
                    return s.replaceFirst(
                                    "\"id\":(\"[^\"]*\"|[-0-9.eE+]+)",
                                    "\"id\":" + (random.nextBoolean() ? "NaN" : "Infinity"))
                            .getBytes(StandardCharsets.UTF_8);
                }
                case 4:
                    return concat(b, " {\"id\":\"second\"}".getBytes(StandardCharsets.UTF_8));
                default: {
                    String s = new String(b, StandardCharsets.UTF_8);
                    return s.replaceFirst("\\{", "{\"id\":\"dup\",").getBytes(StandardCharsets.UTF_8);
                }
            }
        }

        private static byte[] concat(byte[] a, byte[] b) {
            byte[] out = Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, out, a.length, b.length);
            return out;
        }
    }

    private static void checkRecord(String json, String what) throws Exception {
        long bytes = json.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(bytes <= MAX_RECORD, what + ": a record of " + bytes + " bytes, over " + MAX_RECORD);
        JsonNode root = NonFiniteOutputTest.strictJson(json);
        assertTrue(root.isObject(), what);
    }

    @Test
    void theParserNeverThrowsAndEveryDeadLetterIsBoundedJson() throws Exception {
        EventParser parser = new EventParser(settings());
        Events events = new Events(SEED);
        for (int i = 0; i < EVENTS * 10; i++) {
            byte[] payload = events.next();
            String what = "seed " + SEED + " event " + i;
            EventParser.Outcome o;
            try {
                o = parser.parse(payload);
            } catch (RuntimeException | StackOverflowError e) {
                throw new AssertionError(
                        what + ": the parser threw on "
                                + new String(payload, 0, Math.min(payload.length, 300), StandardCharsets.UTF_8),
                        e);
            }
            assertTrue((o.event == null) != (o.deadLetter == null), what + ": exactly one of event / dead letter");
            if (o.deadLetter != null) {
                checkRecord(o.deadLetter.toJson(), what);
            }
        }
    }

    @Test
    void theOperatorEmitsExactlyOneBoundedJsonRecordPerEventWithItsId() throws Exception {
        fuzzOperator(settings(), SEED + 1, EVENTS, EVENTS / 10);
    }

    /**
     * The same invariants over a model whose finite weights overflow to NaN (NaN weights no longer
     * load): nothing is enriched, nothing says NaN.
     */
    @Test
    void overAModelThatProducesNaNEveryRecordIsStillValidJson(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path model =
                NonFiniteOutputTest.poisoned(dir.resolve("nan"), "model.norm.weight", Float.MAX_VALUE);
        fuzzOperator(settings(model.toString()), SEED + 2, EVENTS / 3, 0);
    }

    private static void fuzzOperator(QSparseSettings settings, long seed, int count, int minEnriched) throws Exception {
        EventParser parser = new EventParser(settings);
        Events events = new Events(seed);
        List<byte[]> sent = new ArrayList<>();
        int enriched = 0;
        try (var harness = Harnesses.async(settings)) {
            harness.open();
            for (int i = 0; i < count; i++) {
                byte[] payload = events.next();
                sent.add(payload);
                harness.processElement(payload, i);
            }
            harness.endInput();
            List<QSparseResult> out = Harnesses.results(harness);
            assertEquals(sent.size(), out.size(), "one record per event");
            for (int i = 0; i < out.size(); i++) {
                String what = "seed " + seed + " event " + i;
                QSparseResult r = out.get(i);
                assertNotNull(r, what);
                EventParser.Outcome o = parser.parse(sent.get(i));
                String expectedId = o.event != null ? o.event.id : o.deadLetter.id;
                assertEquals(expectedId, r.id(), what + ": in order, with the id the parser read");
                checkRecord(r.toJson(), what);
                if (!r.isDeadLetter()) {
                    enriched++;
                    if (o.event == null) {
                        fail(what + ": enriched an event the parser rejects");
                    }
                }
            }
        }
        assertTrue(enriched >= minEnriched, "too few valid events to exercise inference: " + enriched);
    }
}
