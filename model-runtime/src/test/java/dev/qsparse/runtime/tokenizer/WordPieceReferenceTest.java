package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2 {@code tokenizer.json} (from langchain4j's jar on Maven Central) gives
 * the same ids here as in the Rust {@code tokenizers} library itself, run through DJL's binding,
 * whose native library ships in its Maven jar and loads offline (nothing is downloaded).
 */
public class WordPieceReferenceTest {
    static final String RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    static final ObjectMapper MAPPER = new ObjectMapper();

    static {
        // DJL unpacks its native library into a cache: keep that under target/, and never download.
        System.setProperty(
                "DJL_CACHE_DIR", Path.of("target", "djl-cache").toAbsolutePath().toString());
        System.setProperty(
                "ENGINE_CACHE_DIR",
                Path.of("target", "djl-cache").toAbsolutePath().toString());
        System.setProperty("offline", "true");
    }

    /** One text per case the issue names; each is checked on its own. */
    public static final List<String> CORPUS = List.of(
            "Hello, world! How are you doing today?",
            "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé façade coöperate Ångström",
            "Größere Übungen für Straßenbahnfahrer: schön, ÄÖÜ äöü ß.",
            "L'été dernier, nous sommes allés à la plage — c'était très agréable !",
            "我喜欢自然语言处理。北京是中国的首都。",
            "日本語のテキスト：東京タワーに行きました。カタカナ、ひらがな",
            "한국어 문장입니다. 안녕하세요!",
            "مرحبا بالعالم، كيف حالك؟ اَلْعَرَبِيَّةُ",
            "नमस्ते दुनिया, สวัสดีครับ, Tiếng Việt có dấu",
            "Emoji: 😀👍🏽 👨‍👩‍👧 ❤️ 🥰 and symbols ©®™ €£¥",
            "control\u0000chars\u0001here\u0007 and\ttabs\nnewlines\r\nand\u000Bvertical\u000C feed",
            "nel\u0085x nbsp\u00A0y zwsp\u200Bz soft\u00ADhy bom\uFEFFw repl\uFFFDv private\uE000u",
            "unassigned \u0378 \uD83F\uDFFE ideographic\u3000space thin\u2009space",
            "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
            "a".repeat(100) + " " + "b".repeat(101) + " " + "é".repeat(100) + " " + "ab".repeat(60),
            "This sentence has [SEP] inside and [CLS] too, plus [MASK] and [PAD] and [UNK].",
            "[SEP][SEP]x[CLS] [sep] [ SEP ] [SEP",
            "Numbers: 3.14159, 1,000,000, 42nd, 2024-01-15, 10:30pm, $99.99, 50%",
            "Visit https://example.com/path?query=1&x=y#frag or mail foo.bar@example.org",
            "ABC-def_ghi/jkl\\mno|pqr~stu`vwx^yz{}<>=+*",
            "İstanbul ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ STRASSE ǅ ﬁ ①② ＡＢＣ１２３！",
            "¿Qué? ¡Sí! «guillemets» „Anführung“ ‘single’ ‐‑‒–—― …",
            "𠀀𠀁 豈 丽 㐀 Ext-B and compatibility ideographs",
            "",
            "   \t\n  ",
            "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
                            .repeat(8)
                    + "and so on.");

    @TempDir
    static Path dir;

    static Path file;
    static WordPieceTokenizer ours;
    static HuggingFaceTokenizer reference;
    static HuggingFaceTokenizer referenceTruncating;

    @BeforeAll
    static void load() throws IOException {
        file = dir.resolve("tokenizer.json");
        copyResource(file);
        ours = assertInstanceOf(WordPieceTokenizer.class, Tokenizer.load(file));
        // DJL keeps the file's truncation unless told otherwise: off here, 128 (as the file) below.
        reference = HuggingFaceTokenizer.builder()
                .optTokenizerPath(file)
                .optTruncation(false)
                .build();
        referenceTruncating = HuggingFaceTokenizer.builder()
                .optTokenizerPath(file)
                .optTruncation(true)
                .optMaxLength(128)
                .build();
    }

    @AfterAll
    static void close() {
        reference.close();
        referenceTruncating.close();
    }

    static void copyResource(Path to) throws IOException {
        try (InputStream in = WordPieceReferenceTest.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException(RESOURCE + " is not on the test class path (langchain4j jar)");
            }
            Files.copy(in, to);
        }
    }

    static int[] ids(ai.djl.huggingface.tokenizers.Encoding e) {
        return Arrays.stream(e.getIds()).mapToInt(Math::toIntExact).toArray();
    }

    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void idsEqualTheRustLibraryWithAndWithoutSpecialTokens() {
        for (String text : CORPUS) {
            int[] content = ours.encodeWithSpecialTokens(text);
            assertArrayEquals(ids(reference.encode(text, false, false)), content, () -> "content of " + text);
            assertArrayEquals(
                    ids(reference.encode(text, true, false)),
                    concat(ours.prefixTokens().orElseThrow(), content, ours.suffixTokens()),
                    () -> "[CLS] text [SEP] of " + text);
        }
    }

    @Test
    void truncationAtTheFilesMaxLengthKeepsTheTemplate() {
        assertEquals(128, ours.maxLength().orElseThrow());
        int truncated = 0;
        for (String text : CORPUS) {
            int[] content = ours.encodeWithSpecialTokens(text);
            int[] withTemplate = ours.postProcess(content, true);
            assertArrayEquals(
                    ids(referenceTruncating.encode(text, true, false)), withTemplate, () -> "template " + text);
            assertArrayEquals(
                    ids(referenceTruncating.encode(text, false, false)),
                    ours.postProcess(content, false),
                    () -> "no template " + text);
            assertTrue(withTemplate.length <= 128);
            assertEquals(101, withTemplate[0]);
            assertEquals(102, withTemplate[withTemplate.length - 1]);
            truncated += content.length > 126 ? 1 : 0;
        }
        assertTrue(truncated >= 1, "the corpus has a text past max_length");
    }

    @Test
    void paddingAsTheFileSays() throws IOException {
        try (HuggingFaceTokenizer padding = HuggingFaceTokenizer.builder()
                .optTokenizerPath(file)
                .optTruncation(true)
                .optPadToMaxLength()
                .optMaxLength(128)
                .build()) {
            for (String text : CORPUS) {
                int[] padded = ours.pad(ours.postProcess(ours.encodeWithSpecialTokens(text), true));
                assertArrayEquals(ids(padding.encode(text, true, false)), padded, () -> "padded " + text);
            }
        }
        assertEquals(0, ours.padTokenId().orElseThrow());
    }

    @Test
    void literalTextNeverBecomesASpecialToken() {
        // encode() reads "[SEP]" as text: what the library gives for the same text with no added token in it.
        String text = "a [SEP] b [CLS] c [MASK]";
        int[] literal = ours.encode(text);
        for (int id : literal) {
            assertFalse(ours.isSpecialToken(id), "special id " + id + " from literal text");
        }
        assertArrayEquals(ids(reference.encode(text.toLowerCase(java.util.Locale.ROOT), false, false)), literal);
        for (String line : CORPUS) {
            if (!line.contains("[")) {
                assertArrayEquals(ours.encodeWithSpecialTokens(line), ours.encode(line), line);
            }
        }
    }

    @Test
    void decodeEqualsTheRustLibrary() {
        for (String text : CORPUS) {
            int[] ids = ours.postProcess(ours.encodeWithSpecialTokens(text), true);
            long[] asLongs = Arrays.stream(ids).asLongStream().toArray();
            assertEquals(reference.decode(asLongs, false), ours.decode(ids), () -> "decode of " + text);
        }
    }

    @Test
    void specialTokensAndVocabulary() {
        assertEquals(30522, ours.vocabSize());
        assertEquals(100, ours.unkTokenId());
        assertArrayEquals(new int[] {101}, ours.prefixTokens().orElseThrow());
        assertArrayEquals(new int[] {102}, ours.suffixTokens());
        assertEquals(102, ours.tokenId("[SEP]").getAsInt());
        assertEquals("##ing", ours.tokenText(ours.tokenId("##ing").getAsInt()));
        assertTrue(ours.isSpecialToken(103) && ours.isAddedToken(0));
        // A lone surrogate is U+FFFD, which clean_text drops.
        assertArrayEquals(ours.encode("ab"), ours.encode("a\uD800b"));
    }

    /**
     * The other settings the reader supports, each against the library on a variant of the real
     * file: BertProcessing, accents kept, case kept, no CJK spacing, a non-special added token
     * matched after normalization, a Sequence of normalizers, no decoder cleanup, a shorter
     * max_length, truncation from the left.
     */
    @Test
    void variantsOfTheFileAgreeWithTheRustLibrary() throws IOException {
        ObjectNode root = (ObjectNode) MAPPER.readTree(file.toFile());
        ObjectNode bert = (ObjectNode) root.get("normalizer");
        bert.put("lowercase", false);
        bert.put("strip_accents", false);
        bert.put("handle_chinese_chars", false);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "BertProcessing");
        post.putArray("sep").add("[SEP]").add(102);
        post.putArray("cls").add("[CLS]").add(101);
        ((ObjectNode) root.get("decoder")).put("cleanup", false);
        ArrayNode added = (ArrayNode) root.get("added_tokens");
        ObjectNode extra = added.addObject();
        extra.put("id", 30522)
                .put("content", "Brown Fox")
                .put("single_word", false)
                .put("lstrip", false);
        extra.put("rstrip", false).put("normalized", true).put("special", false);
        check(root, "cased", 128);

        ObjectNode seq = root.putObject("normalizer");
        seq.put("type", "Sequence");
        ArrayNode list = seq.putArray("normalizers");
        list.addObject().put("type", "NFD");
        list.addObject().put("type", "StripAccents");
        list.addObject().put("type", "Lowercase");
        extra.put("single_word", true).put("rstrip", true);
        ((ObjectNode) root.get("truncation")).put("max_length", 40);
        check(root, "sequence", 40);

        // DJL sets the direction itself (Right): the text's last ids, checked against its untruncated ids.
        ((ObjectNode) root.get("truncation")).put("direction", "Left");
        WordPieceTokenizer left = write(root, "left");
        String text = CORPUS.get(CORPUS.size() - 1);
        int[] all = left.encodeWithSpecialTokens(text);
        assertArrayEquals(
                concat(new int[] {101}, Arrays.copyOfRange(all, all.length - 38, all.length), new int[] {102}),
                left.postProcess(all, true));
    }

    private static WordPieceTokenizer write(ObjectNode root, String name) throws IOException {
        Path variant = dir.resolve(name + ".json");
        MAPPER.writeValue(variant.toFile(), root);
        return (WordPieceTokenizer) Tokenizer.load(variant);
    }

    private static void check(ObjectNode root, String name, int maxLength) throws IOException {
        WordPieceTokenizer tok = write(root, name);
        Path variant = dir.resolve(name + ".json");
        List<String> texts = new ArrayList<>(CORPUS);
        texts.add("The quick Brown Fox, the quick brown fox, the quick BROWN FOX!");
        try (HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder()
                .optTokenizerPath(variant)
                .optTruncation(true)
                .optMaxLength(maxLength)
                .build()) {
            for (String text : texts) {
                int[] ids = tok.postProcess(tok.encodeWithSpecialTokens(text), true);
                assertArrayEquals(ids(ref.encode(text, true, false)), ids, () -> name + ": " + text);
                long[] asLongs = Arrays.stream(ids).asLongStream().toArray();
                assertEquals(ref.decode(asLongs, false), tok.decode(ids), () -> name + " decode: " + text);
            }
        }
    }
}
