package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Normalisation never hands {@link Normalizer} a run of more than 30 consecutive non-starters
 * (the Stream-Safe Text Format of UAX #15), so its canonical reordering, quadratic in a run's
 * length, is linear in the text; text without such runs is normalised exactly as before. Checked
 * by the bound on what the normaliser receives, not by timing.
 */
class UnicodeNormalizationTest {

    /**
     * Canonical combining classes from UnicodeData.txt, the test's own oracle (independent of the
     * code's derivation), for the marks the adversarial texts are built from.
     */
    private static final Map<Integer, Integer> CCC = Map.ofEntries(
            Map.entry(0x0300, 230),
            Map.entry(0x0301, 230),
            Map.entry(0x0308, 230),
            Map.entry(0x0316, 220),
            Map.entry(0x0317, 220),
            Map.entry(0x031B, 216),
            Map.entry(0x0327, 202),
            Map.entry(0x0334, 1),
            Map.entry(0x0345, 240),
            Map.entry(0x05B0, 10),
            Map.entry(0x0E38, 103),
            Map.entry(0x302A, 218));

    private static final int[] MARKS =
            CCC.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();

    /**
     * Longest run of consecutive non-starters in the full decomposition of {@code text} (what the
     * normaliser reorders), by the test's table: texts here hold only ASCII, CGJ, the table's marks,
     * U+0344 (= U+0308 U+0301) and precomposed letters whose marks are in the table.
     */
    private static int longestRun(String text) {
        String d = Normalizer.normalize(text, Normalizer.Form.NFKD);
        int longest = 0;
        int run = 0;
        for (int i = 0; i < d.length(); ) {
            int cp = d.codePointAt(i);
            run = CCC.getOrDefault(cp, 0) != 0 ? run + 1 : 0;
            longest = Math.max(longest, run);
            i += Character.charCount(cp);
        }
        return longest;
    }

    private static String repeat(int n, int... codePoints) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.appendCodePoint(codePoints[i % codePoints.length]);
        }
        return s.toString();
    }

    @Test
    void theCodesCombiningClassesAgreeWithUnicodeData() {
        for (int mark : MARKS) {
            assertTrue(UnicodeNormalization.isNonStarter(mark), Integer.toHexString(mark));
            assertEquals(1, UnicodeNormalization.nonStartersOf(mark), Integer.toHexString(mark));
        }
        assertEquals(2, UnicodeNormalization.nonStartersOf(0x0344), "U+0344 = U+0308 U+0301");
        // Starters: letters, a precomposed letter, CGJ, and marks whose class is 0.
        for (int starter : new int[] {'a', 0xE9, UnicodeNormalization.CGJ, 0x0941, 0x093F, 0x0E31, 0xAC00, 0x1F600}) {
            assertFalse(UnicodeNormalization.isNonStarter(starter), Integer.toHexString(starter));
        }
    }

    @Test
    void noRunLongerThan30ReachesTheNormaliser() {
        Random random = new Random(15);
        String[] hostile = {
            // The repro: alternating classes, the worst case of insertion sorting.
            "a" + repeat(1 << 20, 0x0301, 0x0316),
            repeat(100_000, 0x0301),
            // Marks only, no base at all; every class in the table, descending order.
            repeat(50_000, 0x0345, 0x0334, 0x302A, 0x0E38, 0x05B0, 0x0316, 0x031B),
            // A precomposed letter brings one trailing mark (é = e U+0301), U+0344 brings two.
            "\u00e9" + repeat(29, 0x0316) + "\u0344" + repeat(1000, 0x0301, 0x0316),
            repeat(10_000, 0x0344),
            // Runs of exactly 30 and 31 between letters.
            ("x" + repeat(30, 0x0301, 0x0316)).repeat(100),
            ("x" + repeat(31, 0x0301, 0x0316)).repeat(100),
        };
        StringBuilder mixed = new StringBuilder();
        for (int i = 0; i < 200_000; i++) {
            int r = random.nextInt(10);
            mixed.appendCodePoint(
                    r == 0 ? 'a' + random.nextInt(26) : r == 1 ? 0x0344 : MARKS[random.nextInt(MARKS.length)]);
        }
        for (String text : hostile) {
            String handed = UnicodeNormalization.streamSafe(text);
            assertTrue(
                    longestRun(handed) <= UnicodeNormalization.MAX_NON_STARTERS, "longest run " + longestRun(handed));
            // Only joiners were added: removing them gives the text back.
            assertEquals(text, handed.replace(String.valueOf(UnicodeNormalization.CGJ), ""));
        }
        String handed = UnicodeNormalization.streamSafe(mixed.toString());
        assertTrue(longestRun(handed) <= 30, "random mix: longest run " + longestRun(handed));
    }

    @Test
    void aJoinerGoesWhereTheRunWouldPass30() {
        String run31 = "x" + repeat(31, 0x0301);
        assertEquals(
                "x" + repeat(30, 0x0301) + UnicodeNormalization.CGJ + "\u0301", UnicodeNormalization.streamSafe(run31));
        String run30 = "x" + repeat(30, 0x0301) + "y";
        assertSame(run30, UnicodeNormalization.streamSafe(run30));
        // é already holds one non-starter: 29 more make 30 (kept), 30 more make 31 (split).
        String thirty = "\u00e9" + repeat(29, 0x0316);
        assertSame(thirty, UnicodeNormalization.streamSafe(thirty));
        assertEquals(
                "\u00e9" + repeat(29, 0x0316) + UnicodeNormalization.CGJ + "\u0316",
                UnicodeNormalization.streamSafe("\u00e9" + repeat(30, 0x0316)));
        // U+0344 counts for two: 15 of them are 30, a 16th starts after a joiner.
        assertEquals(
                repeat(15, 0x0344) + UnicodeNormalization.CGJ + "\u0344",
                UnicodeNormalization.streamSafe(repeat(16, 0x0344)));
    }

    @Test
    void realTextIsNormalisedExactlyAsBefore() {
        String[] texts = {
            "plain ASCII, nothing to do",
            "Cafe\u0301 na\u0308ive re\u0301sume\u0301 \u00c5ngstr\u00f6m",
            "Vi\u1ec7t Nam: Ti\u00ea\u0301ng Vi\u00ea\u0323t c\u00f3 d\u00e2\u0301u",
            "\u1100\u1161\u11a8 \ud55c\uad6d\uc5b4",
            "\u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651\u064e\u0629",
            "\u0939\u093f\u0928\u094d\u0926\u0940 \u0926\u0947\u0935\u0928\u093e\u0917\u0930\u0940",
            "\ufb01 \u2460 \u00bd \u3300 \ufdfa emoji \ud83d\udc69\u200d\ud83d\udcbb",
            "a\u0316\u0301\u0345\u0334\u302a",
        };
        for (String t : texts) {
            assertSame(t, UnicodeNormalization.streamSafe(t), t);
            for (Normalizer.Form form : Normalizer.Form.values()) {
                assertEquals(Normalizer.normalize(t, form), UnicodeNormalization.normalize(t, form), form + " " + t);
            }
        }
    }

    @Test
    void everyFormOfAHostileTextIsNormalisedAndStaysBounded() {
        String hostile = "a" + repeat(200_000, 0x0301, 0x0316);
        for (Normalizer.Form form : Normalizer.Form.values()) {
            String out = UnicodeNormalization.normalize(hostile, form);
            assertTrue(Normalizer.isNormalized(out, form), form.toString());
            assertTrue(longestRun(out) <= 30, form + ": " + longestRun(out));
        }
    }

    @Test
    void anNfcTokenizerNormalisesThroughTheStreamSafeFormat(@TempDir Path dir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode)
                json.readTree(TokenizerTest.fixture("tokenizer.json").toFile());
        root.putObject("normalizer").put("type", "NFC");
        Path file = dir.resolve("nfc-tokenizer.json");
        Files.writeString(file, json.writeValueAsString(root));
        Tokenizer tokenizer = Tokenizer.load(file);
        String hostile = "word " + "e" + repeat(3000, 0x0301, 0x0316);
        String decoded = tokenizer.decode(tokenizer.encode(hostile));
        // Before, the whole run went to the normaliser: no joiner, one run of 3001 non-starters.
        assertTrue(decoded.indexOf(UnicodeNormalization.CGJ) > 0, "the text was made stream-safe first");
        assertTrue(longestRun(decoded) <= 30, "longest run " + longestRun(decoded));
        assertEquals(Normalizer.normalize(UnicodeNormalization.streamSafe(hostile), Normalizer.Form.NFC), decoded);
        // Ordinary text is untouched.
        String ordinary = "Cafe\u0301 \u00e9t\u00e9";
        assertEquals(Normalizer.normalize(ordinary, Normalizer.Form.NFC), tokenizer.decode(tokenizer.encode(ordinary)));
    }
}
