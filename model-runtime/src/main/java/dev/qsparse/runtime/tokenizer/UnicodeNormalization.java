package dev.qsparse.runtime.tokenizer;

import java.text.Normalizer;

/**
 * Unicode normalisation (NFC, NFD, NFKC, NFKD) in time linear in the text, whatever the text.
 *
 * <p>{@link Normalizer} puts each run of consecutive non-starters (characters of non-zero
 * canonical combining class: accents, vowel signs, ...) in canonical order by insertion, so a run
 * of n non-starters in alternating classes costs O(n²): 300,000 of them took over a minute. Real
 * text never has long runs, and UAX #15 section 13 defines the <em>Stream-Safe Text Format</em>
 * for exactly this: a U+034F COMBINING GRAPHEME JOINER (a starter that is invisible and ignored by
 * collation) is inserted before a character that would make a run of more than {@value
 * #MAX_NON_STARTERS} non-starters, counted in each character's compatibility decomposition.
 * {@link #normalize} hands the normaliser only stream-safe text, so no run it sorts is longer than
 * 30 and its cost is linear. A text with no such run is normalised exactly as by {@link
 * Normalizer} alone.
 *
 * <p>The JDK exposes no combining classes, so they are derived from {@link Normalizer} itself: U+0345
 * has the largest class in use (240, no other character has it), so canonical ordering moves a
 * decomposed character {@code c} in front of it in {@code "\u0345" + c} exactly when c's class is
 * between 1 and 239. Each code point is classified once, on first sight, and cached.
 */
public final class UnicodeNormalization {

    /** Longest run of consecutive non-starters in stream-safe text (UAX #15). */
    public static final int MAX_NON_STARTERS = 30;

    /** U+034F COMBINING GRAPHEME JOINER: combining class 0, so it ends a run of non-starters. */
    public static final char CGJ = '\u034F';

    private static final char IOTA_SUBSCRIPT = '\u0345';

    /**
     * Per code point, once known: bit 15 set, bits 0-5 the leading and bits 6-11 the trailing
     * non-starters of its compatibility decomposition, bit 12 when the decomposition holds only
     * non-starters. 0 = not classified yet. Races only repeat the same computation.
     */
    private static volatile short[] table;

    private static final int KNOWN = 1 << 15;
    private static final int ALL_NON_STARTERS = 1 << 12;

    private UnicodeNormalization() {}

    /** {@code text} in normalisation form {@code form}, in linear time (see the class comment). */
    public static String normalize(String text, Normalizer.Form form) {
        return Normalizer.normalize(streamSafe(text), form);
    }

    /**
     * {@code text} in the Stream-Safe Text Format: U+034F inserted where a run of consecutive
     * non-starters (counted in the characters' compatibility decompositions) would exceed {@value
     * #MAX_NON_STARTERS}. The same string when there is no such run.
     */
    public static String streamSafe(String text) {
        int n = text.length();
        int i = 0;
        // Fast path: nothing below U+00A0 decomposes or is a non-starter.
        while (i < n && text.charAt(i) < 0xA0) {
            i++;
        }
        if (i == n) {
            return text;
        }
        StringBuilder out = null;
        int run = 0;
        int copied = 0;
        for (int at = 0; at < n; ) {
            int cp = text.codePointAt(at);
            int info = classify(cp);
            int leading = info & 0x3F;
            if (run + leading > MAX_NON_STARTERS) {
                if (out == null) {
                    out = new StringBuilder(n + n / MAX_NON_STARTERS + 16);
                }
                out.append(text, copied, at).append(CGJ);
                copied = at;
                run = 0;
            }
            if ((info & ALL_NON_STARTERS) != 0) {
                run += leading;
            } else {
                run = (info >>> 6) & 0x3F;
            }
            at += Character.charCount(cp);
        }
        if (out == null) {
            return text;
        }
        return out.append(text, copied, n).toString();
    }

    /**
     * Whether {@code cp} counts as non-starters only, as the stream-safe format counts: every code
     * point of its compatibility decomposition has a non-zero canonical combining class (U+0301,
     * U+0345; U+0344 which decomposes to two of them). U+034F itself is a starter.
     */
    public static boolean isNonStarter(int cp) {
        return (classify(cp) & ALL_NON_STARTERS) != 0;
    }

    /** Non-starters that {@code cp} counts for in a run (its decomposition's length), 0 for a starter. */
    public static int nonStartersOf(int cp) {
        int info = classify(cp);
        return (info & ALL_NON_STARTERS) != 0 ? info & 0x3F : 0;
    }

    private static int classify(int cp) {
        if (cp < 0xA0) {
            return KNOWN;
        }
        short[] t = table;
        if (t == null) {
            synchronized (UnicodeNormalization.class) {
                t = table;
                if (t == null) {
                    t = new short[Character.MAX_CODE_POINT + 1];
                    table = t;
                }
            }
        }
        int info = t[cp] & 0xFFFF;
        if (info == 0) {
            info = compute(cp);
            t[cp] = (short) info;
        }
        return info;
    }

    /** Leading and trailing non-starters of the compatibility decomposition of {@code cp}. */
    private static int compute(int cp) {
        String d = Normalizer.normalize(new String(Character.toChars(cp)), Normalizer.Form.NFKD);
        int count = d.codePointCount(0, d.length());
        int leading = 0;
        int trailing = 0;
        boolean seenStarter = false;
        for (int at = 0; at < d.length(); ) {
            int c = d.codePointAt(at);
            if (decomposedIsNonStarter(c)) {
                if (!seenStarter) {
                    leading++;
                }
                trailing++;
            } else {
                seenStarter = true;
                trailing = 0;
            }
            at += Character.charCount(c);
        }
        int info = KNOWN | Math.min(leading, 0x3F) | (Math.min(trailing, 0x3F) << 6);
        if (leading == count && count > 0) {
            info |= ALL_NON_STARTERS;
        }
        return info;
    }

    /** For a code point of a full decomposition: non-zero combining class, by canonical reordering. */
    private static boolean decomposedIsNonStarter(int c) {
        if (c == IOTA_SUBSCRIPT) {
            return true;
        }
        if (c < 0x300) {
            return false;
        }
        String probe = IOTA_SUBSCRIPT + new String(Character.toChars(c));
        return Normalizer.normalize(probe, Normalizer.Form.NFD).charAt(0) != IOTA_SUBSCRIPT;
    }
}
