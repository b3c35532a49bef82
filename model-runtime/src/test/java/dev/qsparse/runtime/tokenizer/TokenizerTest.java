package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Behaviour of the tokenizer on the committed fixture (a 1000-token vocab trained on English licences). */
class TokenizerTest {
    static BpeTokenizer tok;

    static Path fixture(String name) throws Exception {
        return Path.of(TokenizerTest.class.getResource("/tokenizer/" + name).toURI());
    }

    @BeforeAll
    static void load() throws Exception {
        tok = (BpeTokenizer) Tokenizer.load(fixture("tokenizer.json"));
    }

    private static void assertRoundTrip(String s) {
        int[] ids = tok.encode(s);
        assertEquals(s, tok.decode(ids), () -> "round trip of " + s + " via " + Arrays.toString(ids));
        assertArrayEquals(ids, tok.encode(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void roundTripsMultilingualText() {
        for (String s : List.of(
                "The quick brown fox jumps over the lazy dog.",
                "Grüße aus München! Äpfel, Öl, Übermaß, daß.",
                "中文分词测试：你好，世界！",
                "日本語のテキスト、カタカナとひらがな。",
                "مرحبا بالعالم، كيف حالك؟",
                "नमस्ते दुनिया, आप कैसे हैं?",
                "Привет, мир! Съешь же ещё этих мягких французских булок.",
                "Γειά σου Κόσμε · עברית · ไทย · 한국어",
                "you'll, we've, they're, it's, I'm, he'd, 'S 'LL")) {
            assertRoundTrip(s);
        }
    }

    @Test
    void roundTripsEmoji() {
        assertRoundTrip("😀🎉🚀");
        assertRoundTrip("family 👨‍👩‍👧‍👦 and 🧑🏽‍💻");
        assertRoundTrip("flags 🇩🇪🇯🇵🏴‍☠️🏳️‍🌈");
        assertRoundTrip("skin tones 👍🏻👍🏿 keycap 1️⃣ #️⃣");
    }

    @Test
    void roundTripsWhitespace() {
        for (String s : List.of(
                "",
                " ",
                "  ",
                "\n",
                "\t",
                "\r\n",
                "   a   b   ",
                "\t\tx\t\t",
                "a\n\n\nb",
                "line one\nline two\r\nthree\n",
                "\u00a0\u2003\u3000\u2028\u2029\u0085",
                " \u001c\u001f ")) {
            assertRoundTrip(s);
        }
        assertArrayEquals(new int[0], tok.encode(""));
        assertArrayEquals(new int[0], tok.encode(new byte[0]));
        assertEquals("", tok.decode(new int[0]));
    }

    @Test
    void roundTripsRandomUnicode() {
        Random rnd = new Random(20240607L);
        StringBuilder sb = new StringBuilder();
        for (int iter = 0; iter < 4000; iter++) {
            sb.setLength(0);
            int len = rnd.nextInt(40);
            for (int k = 0; k < len; k++) {
                double r = rnd.nextDouble();
                int cp;
                if (r < 0.35) {
                    cp = 0x20 + rnd.nextInt(0x5F);
                } else if (r < 0.45) {
                    cp = new int[] {'\t', '\n', '\r', ' ', ' ', 0xA0, 0x3000, 0x2028}[rnd.nextInt(8)];
                } else if (r < 0.75) {
                    cp = 0x80 + rnd.nextInt(0x10000 - 0x80);
                } else {
                    cp = 0x10000 + rnd.nextInt(0x110000 - 0x10000);
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) {
                    cp = 'x';
                }
                sb.appendCodePoint(cp);
            }
            String s = sb.toString();
            int[] ids = tok.encode(s);
            for (int id : ids) {
                assertTrue(id > 0 && id < tok.vocabSize(), "no special id from literal text");
            }
            assertEquals(s, tok.decode(ids), "random string #" + iter);
        }
    }

    @Test
    void invalidUtf8IsReplaced() {
        byte[] bad = {
            (byte) 0xFF, 'a', (byte) 0xC3, 'b', (byte) 0xE4, (byte) 0xB8, ' ', (byte) 0xF0, (byte) 0x9F, (byte) 0x98
        };
        int[] ids = tok.encode(bad);
        assertEquals(new String(bad, StandardCharsets.UTF_8), tok.decode(ids));
        assertEquals("\uFFFDa\uFFFDb\uFFFD \uFFFD", tok.decode(ids));
        // decoding a prefix that ends inside a multi-byte character
        int c3 = tok.tokenId(String.valueOf(ByteLevelAlphabet.toChar(0xC3))).getAsInt();
        int a9 = tok.tokenId(String.valueOf(ByteLevelAlphabet.toChar(0xA9))).getAsInt();
        assertEquals("\uFFFD", tok.decode(new int[] {c3}));
        assertEquals("é", tok.decode(new int[] {c3, a9}));
        assertEquals("x\uFFFD", tok.decode(new int[] {tok.tokenId("x").getAsInt(), a9}));
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacter() {
        assertEquals("a\uFFFDb", tok.decode(tok.encode("a\uD800b")));
        assertEquals("\uFFFD", tok.decode(tok.encode("\uDC00")));
        assertEquals("x\uFFFD", tok.decode(tok.encode("x\uD83D")));
        assertEquals("\uFFFD\uFFFD😀", tok.decode(tok.encode("\uDE00\uD83D\uD83D\uDE00")));
        assertArrayEquals(tok.encode("a\uFFFDb"), tok.encode("a\uD800b"));
    }

    @Test
    void specialTokensOnlyWithEncodeWithSpecialTokens() {
        int eot = tok.tokenId("<|endoftext|>").getAsInt();
        assertEquals(0, eot);
        assertTrue(tok.isSpecialToken(eot));
        String text = "end.<|endoftext|>Start";
        int[] literal = tok.encode(text);
        assertFalse(Arrays.stream(literal).anyMatch(id -> id == eot));
        assertEquals(text, tok.decode(literal));

        int[] special = tok.encodeWithSpecialTokens(text);
        int[] expected = IntStream.concat(
                        IntStream.concat(Arrays.stream(tok.encode("end.")), IntStream.of(eot)),
                        Arrays.stream(tok.encode("Start")))
                .toArray();
        assertArrayEquals(expected, special);
        assertEquals(text, tok.decode(special));
        assertEquals("<|endoftext|>", tok.decode(new int[] {eot}));
        assertArrayEquals(new int[] {eot, eot}, tok.encodeWithSpecialTokens("<|endoftext|><|endoftext|>"));
        assertArrayEquals(tok.encode("no specials here"), tok.encodeWithSpecialTokens("no specials here"));
        assertArrayEquals(tok.encode("<|endoftext"), tok.encodeWithSpecialTokens("<|endoftext"));
    }

    @Test
    void decodeRejectsUnknownIds() {
        int n = tok.vocabSize();
        assertEquals(1000, n);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {5, n}));
        assertTrue(e.getMessage().contains(String.valueOf(n)), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-7}));
        assertTrue(e.getMessage().contains("-7"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.tokenText(n));
    }

    @Test
    void decodeRange() {
        int[] ids = tok.encode("Hello brave new world");
        String all = tok.decode(ids);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            sb.append(tok.decode(ids, i, i + 1));
        }
        assertEquals(all, sb.toString());
        assertEquals("", tok.decode(ids, 2, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> tok.decode(ids, 1, ids.length + 1));
    }

    @Test
    void tokenLookup() {
        int the = tok.tokenId("Ġthe").getAsInt();
        assertEquals("Ġthe", tok.tokenText(the));
        assertEquals(" the", tok.decode(new int[] {the}));
        assertTrue(tok.tokenId("definitely-not-a-token").isEmpty());
        assertEquals("<|endoftext|>", tok.tokenText(0));
        assertArrayEquals(new int[] {the}, tok.encode(" the"));
    }

    @Test
    void gpt2PreTokenization() {
        assertEquals(
                List.of("Hello", " ", " world", "'s", " 12", "ab", "\n\n ", " hi", "!!", " x", "²", " ½"),
                tok.preTokenize("Hello  world's 12ab\n\n  hi!! x² ½"));
        assertEquals(List.of("a", "\u001c", "b", "\u3000"), tok.preTokenize("a\u001cb\u3000"));
    }

    @Test
    void cacheIsBounded() {
        for (int i = 0; i < BpeTokenizer.CACHE_CAPACITY + 500; i++) {
            tok.encode("w" + i);
        }
        assertTrue(tok.cacheSize() <= BpeTokenizer.CACHE_CAPACITY, "cache size " + tok.cacheSize());
    }

    @Test
    void longPiecesAreFast() {
        String letters = "a".repeat(200_000);
        String mixed = "lorem".repeat(40_000);
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            assertEquals(letters, tok.decode(tok.encode(letters)));
            assertEquals(mixed, tok.decode(tok.encode(mixed)));
            String spaces = " ".repeat(100_000) + "x";
            assertEquals(spaces, tok.decode(tok.encode(spaces)));
        });
    }

    @Test
    void threadSafe() throws Exception {
        Random rnd = new Random(7);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < 50; k++) {
                sb.append(rnd.nextInt(5) == 0 ? " " : String.valueOf((char) ('a' + rnd.nextInt(26))));
            }
            texts.add(sb.toString() + " Grüße 😀 " + i);
        }
        List<int[]> expected = new ArrayList<>();
        for (String t : texts) {
            expected.add(tok.encode(t));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> futures = new ArrayList<>();
            for (int th = 0; th < 8; th++) {
                futures.add(pool.submit(() -> {
                    for (int rep = 0; rep < 5; rep++) {
                        for (int i = 0; i < texts.size(); i++) {
                            if (!Arrays.equals(expected.get(i), tok.encode(texts.get(i)))) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : futures) {
                assertTrue(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
