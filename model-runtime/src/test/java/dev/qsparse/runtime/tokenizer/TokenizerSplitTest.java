package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Split pre-tokenizers (Llama-3 style), split behaviours, add_prefix_space, ignore_merges, added-token flags. */
class TokenizerSplitTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    static final String LLAMA3_PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    @TempDir
    Path dir;

    /** A tokenizer.json with the 256 byte symbols (ids = byte values) plus the given merges. */
    private ObjectNode baseJson(String... merges) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("normalizer");
        root.putObject("decoder").put("type", "ByteLevel");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteLevelAlphabet.toChar(b)), b);
        }
        ArrayNode mergeList = model.putArray("merges");
        int next = 256;
        for (String m : merges) {
            String[] p = m.split(" ");
            mergeList.addArray().add(p[0]).add(p[1]);
            if (!vocab.has(p[0] + p[1])) {
                vocab.put(p[0] + p[1], next++);
            }
        }
        return root;
    }

    private Tokenizer load(ObjectNode root) throws Exception {
        Path file = Files.createTempFile(dir, "tok", ".json");
        Files.writeString(file, MAPPER.writeValueAsString(root));
        return Tokenizer.load(file);
    }

    private static ObjectNode byteLevel(ObjectNode parent, boolean prefix, boolean regex) {
        return parent.put("type", "ByteLevel")
                .put("add_prefix_space", prefix)
                .put("trim_offsets", true)
                .put("use_regex", regex);
    }

    private ObjectNode llama3Json(String... merges) {
        ObjectNode root = baseJson(merges);
        ObjectNode seq = root.putObject("pre_tokenizer");
        seq.put("type", "Sequence");
        ArrayNode list = seq.putArray("pretokenizers");
        ObjectNode split = list.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", LLAMA3_PATTERN);
        split.put("behavior", "Isolated").put("invert", false);
        byteLevel(list.addObject(), false, false);
        return root;
    }

    private int id(Tokenizer t, String token) {
        return t.tokenId(token).getAsInt();
    }

    @Test
    void llama3StyleSplit() throws Exception {
        Tokenizer t = load(llama3Json("3 4", "1 2", "12 3", "Ġ H", "L L", "' S"));
        assertEquals(
                List.of("I", "'m", " ", "123", "45", " HELLO", "'S", "\n\n", "x"),
                ((BpeTokenizer) t).preTokenize("I'm 12345 HELLO'S\n\nx"));
        // "3 4" cannot merge across the 3-digit boundary; "12 3" builds "123"
        assertArrayEquals(new int[] {id(t, "123"), '4', '5'}, t.encode("12345"));
        assertArrayEquals(new int[] {id(t, "ĠH"), 'E', id(t, "LL"), 'O', id(t, "'S")}, t.encode(" HELLO'S"));
        for (String s : List.of("Grüße 12345 中文 😀👨‍👩‍👧 \n\n\t x", "", "  ", "'LL'll'Ll")) {
            assertEquals(s, t.decode(t.encode(s)));
        }
    }

    @Test
    void byteLevelWithoutRegexIsOnePiece() throws Exception {
        ObjectNode root = baseJson("a Ġ", "aĠ b");
        byteLevel(root.putObject("pre_tokenizer"), false, false);
        Tokenizer t = load(root);
        assertArrayEquals(new int[] {id(t, "aĠb")}, t.encode("a b"));
        ObjectNode withRegex = baseJson("a Ġ", "aĠ b");
        byteLevel(withRegex.putObject("pre_tokenizer"), false, true);
        Tokenizer r = load(withRegex);
        assertArrayEquals(new int[] {'a', ' ', 'b'}, r.encode("a b"));
    }

    @Test
    void addPrefixSpace() throws Exception {
        ObjectNode root = baseJson("Ġ h", "Ġh i");
        byteLevel(root.putObject("pre_tokenizer"), true, true);
        Tokenizer t = load(root);
        assertArrayEquals(new int[] {id(t, "Ġhi")}, t.encode("hi"));
        assertArrayEquals(new int[] {id(t, "Ġhi")}, t.encode(" hi"));
        assertEquals(" hi", t.decode(t.encode("hi")));
    }

    @Test
    void ignoreMerges() throws Exception {
        ObjectNode root = baseJson("a b");
        byteLevel(root.putObject("pre_tokenizer"), false, true);
        ((ObjectNode) root.get("model").get("vocab")).put("abc", 300);
        Tokenizer plain = load(root);
        assertArrayEquals(new int[] {256, 'c'}, plain.encode("abc"));
        ((ObjectNode) root.get("model")).put("ignore_merges", true);
        Tokenizer ignoring = load(root);
        assertArrayEquals(new int[] {300}, ignoring.encode("abc"));
        assertArrayEquals(new int[] {256, 'd'}, ignoring.encode("abd"));
    }

    @Test
    void mergeOrderLeftmostOnTies() throws Exception {
        ObjectNode root = baseJson("a a", "b c", "aa aa");
        byteLevel(root.putObject("pre_tokenizer"), false, true);
        Tokenizer t = load(root);
        assertArrayEquals(new int[] {256, 'a'}, t.encode("aaa"));
        assertArrayEquals(new int[] {id(t, "aaaa")}, t.encode("aaaa"));
        assertArrayEquals(new int[] {id(t, "aaaa"), 256, 'a'}, t.encode("aaaaaaa"));
        // rank decides, not position: "b c" (rank 1) beats nothing here, "a a" (rank 0) comes first
        assertArrayEquals(new int[] {256, id(t, "bc")}, t.encode("aabc"));
    }

    @Test
    void addedTokenFlags() throws Exception {
        ObjectNode root = baseJson();
        byteLevel(root.putObject("pre_tokenizer"), false, true);
        ArrayNode added = root.putArray("added_tokens");
        added.addObject()
                .put("id", 256)
                .put("content", "<s>")
                .put("special", true)
                .put("rstrip", true);
        added.addObject()
                .put("id", 257)
                .put("content", "<mask>")
                .put("special", true)
                .put("lstrip", true);
        added.addObject()
                .put("id", 258)
                .put("content", "cat")
                .put("special", false)
                .put("single_word", true);
        added.addObject().put("id", 259).put("content", "<s><s>").put("special", true);
        Tokenizer t = load(root);
        assertEquals(260, t.vocabSize());
        assertArrayEquals(new int[] {256, 'x'}, t.encodeWithSpecialTokens("<s>  x"));
        assertArrayEquals(new int[] {'x', 257}, t.encodeWithSpecialTokens("x  <mask>"));
        assertArrayEquals(new int[] {258, ' ', 'c', 'a', 't', 's'}, t.encodeWithSpecialTokens("cat cats"));
        assertArrayEquals(new int[] {259, 256}, t.encodeWithSpecialTokens("<s><s><s>"));
        assertArrayEquals(new int[] {'<', 's', '>'}, t.encode("<s>"));
        assertEquals("<s>", t.decode(new int[] {256}));
        assertEquals("cat", t.tokenText(258));
    }

    private static List<String> split(String regex, String behavior, boolean invert, String text) {
        List<String> out = new ArrayList<>();
        PreTokenizer.splitSpans(
                Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS),
                text,
                invert,
                PreTokenizer.Behavior.valueOf(behavior),
                out);
        return out;
    }

    @Test
    void splitBehaviours() {
        String s = "the-final--countdown";
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), split("-", "ISOLATED", false, s));
        assertEquals(List.of("the", "final", "countdown"), split("-", "REMOVED", false, s));
        assertEquals(List.of("the-", "final-", "-", "countdown"), split("-", "MERGED_WITH_PREVIOUS", false, s));
        assertEquals(List.of("the", "-final", "-", "-countdown"), split("-", "MERGED_WITH_NEXT", false, s));
        assertEquals(List.of("the", "-", "final", "--", "countdown"), split("-", "CONTIGUOUS", false, s));
        assertEquals(List.of("-", "--"), split("\\w+", "REMOVED", false, s));
        assertEquals(List.of("the", "final", "countdown"), split("\\w+", "REMOVED", true, s));
        assertEquals(List.of("-", "a-", "b"), split("-", "MERGED_WITH_PREVIOUS", false, "-a-b"));
        assertEquals(List.of("-a", "-b", "-"), split("-", "MERGED_WITH_NEXT", false, "-a-b-"));
        assertEquals(List.of("ab"), split("x*", "ISOLATED", false, "ab"));
    }

    @Test
    void splitWithStringPatternAndRemoved() throws Exception {
        ObjectNode root = baseJson();
        ObjectNode seq = root.putObject("pre_tokenizer");
        seq.put("type", "Sequence");
        ArrayNode list = seq.putArray("pretokenizers");
        ObjectNode split = list.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("String", "|");
        split.put("behavior", "Removed");
        byteLevel(list.addObject(), false, false);
        Tokenizer t = load(root);
        assertEquals(List.of("a", "b c"), ((BpeTokenizer) t).preTokenize("a|b c|"));
        assertEquals("ab c", t.decode(t.encode("a|b c|")));
    }
}
