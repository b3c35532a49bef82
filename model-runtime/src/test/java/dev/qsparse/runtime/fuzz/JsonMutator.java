package dev.qsparse.runtime.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A seeded mutator of JSON documents and raw bytes, for the fuzz tests: every choice comes from
 * one {@link SplittableRandom}, so a seed reproduces a failing case exactly.
 */
public final class JsonMutator {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    public static final ObjectMapper JSON = new ObjectMapper();

    private final SplittableRandom random;

    public JsonMutator(long seed) {
        this.random = new SplittableRandom(seed);
    }

    public SplittableRandom random() {
        return random;
    }

    public int nextInt(int bound) {
        return random.nextInt(bound);
    }

    /** A hostile JSON value: extreme numbers, wrong types, huge or odd strings, deep nesting. */
    public JsonNode hostileValue() {
        switch (random.nextInt(22)) {
            case 0:
                return F.numberNode(0);
            case 1:
                return F.numberNode(-1);
            case 2:
                return F.numberNode(Integer.MAX_VALUE);
            case 3:
                return F.numberNode(Integer.MIN_VALUE);
            case 4:
                return F.numberNode(Long.MAX_VALUE);
            case 5:
                return F.numberNode(new BigInteger("99999999999999999999999999"));
            case 6:
                return F.numberNode(new BigDecimal("1e400"));
            case 7:
                return F.numberNode(new BigDecimal("-1e400"));
            case 8:
                return F.numberNode(48.7);
            case 9:
                return F.numberNode(-1e-9);
            case 10:
                return F.numberNode(random.nextInt(-5, 5000));
            case 11:
                return F.textNode("");
            case 12:
                return F.textNode("abc");
            case 13:
                return F.textNode("x".repeat(random.nextInt(1, 200_000)));
            case 14:
                return F.textNode("\uD800\u0000\uFFFF");
            case 15:
                return F.nullNode();
            case 16:
                return F.booleanNode(random.nextBoolean());
            case 17:
                return F.arrayNode();
            case 18:
                return F.objectNode();
            case 19: {
                ArrayNode a = F.arrayNode();
                a.add(random.nextInt(-2, 70_000));
                a.add(random.nextInt(-2, 70_000));
                return a;
            }
            case 20: {
                JsonNode deep = F.numberNode(1);
                for (int i = 0; i < random.nextInt(1, 400); i++) {
                    ArrayNode a = F.arrayNode();
                    a.add(deep);
                    deep = a;
                }
                return deep;
            }
            default: {
                ArrayNode a = F.arrayNode();
                int n = random.nextInt(0, 20_000);
                for (int i = 0; i < n; i++) {
                    a.add(i);
                }
                return a;
            }
        }
    }

    /** Every container node of {@code root}, root first. */
    private static List<JsonNode> containers(JsonNode root) {
        List<JsonNode> out = new ArrayList<>();
        List<JsonNode> todo = new ArrayList<>();
        todo.add(root);
        while (!todo.isEmpty()) {
            JsonNode n = todo.remove(todo.size() - 1);
            if (n.isContainerNode()) {
                out.add(n);
                n.forEach(todo::add);
            }
        }
        return out;
    }

    /**
     * Applies 1 to 3 structural mutations in place: a value replaced by a hostile one, a key
     * removed, a key added, an array element replaced. {@code focus}, when it matches a field
     * name, is preferred (so small documents' interesting keys get hit often).
     */
    public void mutateTree(JsonNode root, List<String> interestingKeys) {
        int count = 1 + random.nextInt(3);
        for (int k = 0; k < count; k++) {
            List<JsonNode> cs = containers(root);
            JsonNode target = cs.get(random.nextInt(cs.size()));
            if (target instanceof ObjectNode o) {
                List<String> names = new ArrayList<>();
                for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
                    names.add(it.next());
                }
                int op = random.nextInt(10);
                if (op < 6 && !names.isEmpty()) {
                    o.set(names.get(random.nextInt(names.size())), hostileValue());
                } else if (op < 8 && !names.isEmpty()) {
                    o.remove(names.get(random.nextInt(names.size())));
                } else if (!interestingKeys.isEmpty() && random.nextBoolean()) {
                    o.set(interestingKeys.get(random.nextInt(interestingKeys.size())), hostileValue());
                } else {
                    o.set("fuzz_" + random.nextInt(100), hostileValue());
                }
            } else if (target instanceof ArrayNode a) {
                int op = random.nextInt(3);
                if (op == 0 && a.size() > 0) {
                    a.set(random.nextInt(a.size()), hostileValue());
                } else if (op == 1 && a.size() > 0) {
                    a.remove(random.nextInt(a.size()));
                } else {
                    a.add(hostileValue());
                }
            }
        }
    }

    /** Byte-level damage: truncation, flipped bytes, inserted or duplicated runs. */
    public byte[] mutateBytes(byte[] in) {
        byte[] b = in.clone();
        switch (random.nextInt(5)) {
            case 0:
                return java.util.Arrays.copyOf(b, random.nextInt(b.length + 1));
            case 1: {
                int flips = 1 + random.nextInt(8);
                for (int i = 0; i < flips && b.length > 0; i++) {
                    b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                }
                return b;
            }
            case 2: {
                int at = random.nextInt(b.length + 1);
                byte[] junk = new byte[1 + random.nextInt(32)];
                for (int i = 0; i < junk.length; i++) {
                    String alphabet = "{}[]\",:0123456789eE.-+ \\\u00ff";
                    junk[i] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
                }
                return splice(b, at, junk);
            }
            case 3: {
                int from = random.nextInt(b.length + 1);
                int len = random.nextInt(Math.min(4096, b.length - from) + 1);
                return splice(b, random.nextInt(b.length + 1), java.util.Arrays.copyOfRange(b, from, from + len));
            }
            default:
                return splice(b, b.length, " trailing garbage".getBytes(StandardCharsets.US_ASCII));
        }
    }

    private static byte[] splice(byte[] b, int at, byte[] insert) {
        byte[] out = new byte[b.length + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at, out, at + insert.length, b.length - at);
        return out;
    }
}
