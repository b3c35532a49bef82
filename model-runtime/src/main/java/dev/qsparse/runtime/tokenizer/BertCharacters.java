package dev.qsparse.runtime.tokenizer;

/**
 * The character classes BERT's normalizer and pre-tokenizer use, as the Rust {@code tokenizers}
 * library defines them (not as {@link Character#isWhitespace} does: that one leaves out U+00A0 and
 * counts U+001C..U+001F).
 */
final class BertCharacters {
    private BertCharacters() {}

    /** Unicode White_Space (Rust's {@code char::is_whitespace}). */
    static boolean isWhiteSpace(int cp) {
        if (cp < 0x80) {
            return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
        }
        return cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000;
    }

    /**
     * What {@code clean_text} drops: control, format and private-use characters (Cc, Cf, Co) except
     * tab, LF and CR. Unassigned code points (Cn) stay, as in the Rust library; surrogates cannot
     * reach here (lone ones are U+FFFD by then).
     */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        switch (Character.getType(cp)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.PRIVATE_USE:
                return true;
            default:
                return false;
        }
    }

    /** ASCII punctuation and symbols ({@code !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~}) and Unicode P*. */
    static boolean isPunctuation(int cp) {
        if (cp < 0x80) {
            return (cp >= 33 && cp <= 47)
                    || (cp >= 58 && cp <= 64)
                    || (cp >= 91 && cp <= 96)
                    || (cp >= 123 && cp <= 126);
        }
        switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION:
            case Character.DASH_PUNCTUATION:
            case Character.START_PUNCTUATION:
            case Character.END_PUNCTUATION:
            case Character.INITIAL_QUOTE_PUNCTUATION:
            case Character.FINAL_QUOTE_PUNCTUATION:
            case Character.OTHER_PUNCTUATION:
                return true;
            default:
                return false;
        }
    }

    /** The CJK ideograph blocks BERT puts spaces around (its "Chinese characters"; not kana, not Hangul). */
    static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
