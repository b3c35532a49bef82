package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.PatternSyntaxException;
import org.junit.jupiter.api.Test;

/**
 * Split regexes keep the meaning Oniguruma (the Rust library's engine) gives them, where Java's
 * regex and the JavaScript reference differ from it.
 */
class OnigurumaRegexTest {
    private static List<String> pieces(String regex, String text) {
        List<String> out = new ArrayList<>();
        PreTokenizer.splitSpans(OnigurumaRegex.compile(regex), text, false, PreTokenizer.Behavior.ISOLATED, out);
        return out;
    }

    private static boolean matches(String regex, String text) {
        return OnigurumaRegex.compile(regex).matcher(text).matches();
    }

    @Test
    void whitespaceIsTheUnicodeWhiteSpaceProperty() {
        for (int cp : new int[] {
            '\t', '\n', 0x0B, '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000
        }) {
            assertTrue(matches("\\s", Character.toString(cp)), () -> "\\s should match U+" + Integer.toHexString(cp));
        }
        // U+FEFF is in JavaScript's \s but not in Oniguruma's; the others are format characters.
        for (int cp : new int[] {0xFEFF, 0x200B, 0x180E, 0x200D, 'a', '_'}) {
            assertFalse(
                    matches("\\s", Character.toString(cp)), () -> "\\s should not match U+" + Integer.toHexString(cp));
        }
    }

    @Test
    void lettersAndNumbersAreGeneralCategories() {
        assertTrue(matches("\\p{L}+", "aÄßΩжא中ひカ한ก"));
        assertFalse(matches("\\p{L}", "\u0301")); // a combining mark is M, not L
        assertFalse(matches("\\p{L}", "_"));
        assertTrue(matches("\\p{N}+", "09٣३৩Ⅻ½²"));
        // Digits group in threes whatever their script (Llama 3); Qwen takes them one by one.
        assertEquals(List.of("١٢٣", "٤", " ", "१२३", "४५"), pieces("\\p{N}{1,3}|\\s+|.", "١٢٣٤ १२३४५"));
        assertEquals(List.of("1", "2", "3"), pieces("\\p{N}", "123"));
    }

    @Test
    void contractionsFoldCaseLikeOniguruma() {
        String llama3 = TokenizerSplitTest.LLAMA3_PATTERN;
        assertEquals(List.of("I", "'M", " DON", "'T", " we", "'Ll"), pieces(llama3, "I'M DON'T we'Ll"));
        // The long s folds to "s" in Oniguruma's Unicode case folding (JavaScript's [sS] misses it).
        assertEquals(List.of("it", "'ſ"), pieces(llama3, "it'ſ"));
        // Only the listed suffixes: "'x" is punctuation followed by a word.
        assertEquals(List.of("it", "'x"), pieces(llama3, "it'x"));
    }

    @Test
    void lookaheadLeavesTheLastSpaceToTheNextWord() {
        String llama3 = TokenizerSplitTest.LLAMA3_PATTERN;
        assertEquals(List.of("a", "   ", " b", "  \n\n", "\t", " c", "  "), pieces(llama3, "a    b  \n\n\t c  "));
        assertEquals(List.of("a", "\u3000", "\u3000b"), pieces(llama3, "a\u3000\u3000b"));
    }

    @Test
    void anchorsAndDotFollowOnigurumaLines() {
        // '.' stops only at \n; '^' and '$' are line anchors.
        assertTrue(matches("a.b", "a\rb"));
        assertTrue(matches("a.b", "a\u2028b"));
        assertFalse(matches("a.b", "a\nb"));
        assertEquals(List.of("x", "\n", "y"), pieces("^.", "x\ny"));
        assertTrue(OnigurumaRegex.compile("x$").matcher("x\ny").find());
    }

    @Test
    void escapesThatMeanSomethingElseInJavaAreRewritten() {
        assertEquals("[0-9a-fA-F]+", OnigurumaRegex.translate("\\h+"));
        assertTrue(matches("\\h+", "09afAF"));
        assertFalse(matches("\\h", " ")); // Java's \h would be horizontal space
        assertTrue(matches("[\\h_]+", "_f0"));
        assertTrue(matches("\\H", "g"));
        assertTrue(matches("\\v", "\u000B"));
        assertFalse(matches("\\v", "\n")); // Java's \v would be any vertical space
        assertTrue(matches("[]a]+", "]a]"));
        assertTrue(matches("[^]a]", "b"));
    }

    @Test
    void constructsWithoutAJavaMeaningAreRefused() {
        for (String regex : new String[] {"[[:alpha:]]", "(?m:.)", "(?im).", "a\\Kb", "\\p{^L}", "\\"}) {
            assertThrows(PatternSyntaxException.class, () -> OnigurumaRegex.compile(regex), regex);
        }
        // Options Java reads the same way are kept.
        assertTrue(matches("(?i:ab)", "AB"));
        assertTrue(matches("(?<w>a)\\k<w>", "aa"));
    }

    @Test
    void aMatchNeverStartsInsideAnEmoji() {
        // Oniguruma runs on UTF-8 and tries the next code point after a failed match; Java (9+) skips
        // the low surrogate of a pair the same way, so a negated class never takes half an emoji.
        assertEquals(List.of("😀😀", "ab", "😀"), pieces("[^\\p{So}]+", "😀😀ab😀"));
        assertEquals(List.of("ab", "👨‍👩‍👧"), pieces("[a-z]+", "ab👨‍👩‍👧"));
    }
}
