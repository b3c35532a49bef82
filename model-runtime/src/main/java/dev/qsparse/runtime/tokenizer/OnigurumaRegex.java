package dev.qsparse.runtime.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles a {@code Split} regex of a {@code tokenizer.json} to a {@link Pattern} that matches what
 * the Rust library matches. The Rust library runs these patterns on Oniguruma (Ruby syntax, UTF-8),
 * whose meaning differs from Java's in a few places; each is translated or refused here, so a
 * pattern never silently means something else:
 *
 * <ul>
 *   <li>{@code \s}, {@code \w}, {@code \d}, {@code \b}, {@code \p{..}} and case-insensitive groups
 *       are Unicode in Oniguruma: {@link Pattern#UNICODE_CHARACTER_CLASS} (which implies Unicode
 *       case folding, so {@code (?i:'s)} also matches {@code "'S"} and the long s {@code "'ſ"}, as
 *       Oniguruma's folding does). {@code \s} is then White_Space: tab to carriage return, space,
 *       U+0085, U+00A0 and the other space separators, U+2028, U+2029; not U+FEFF.
 *   <li>{@code ^}, {@code $} are line anchors in Oniguruma and {@code .} stops only at {@code \n}:
 *       {@link Pattern#MULTILINE} and {@link Pattern#UNIX_LINES}.
 *   <li>{@code \h} / {@code \H} are a hex digit / not one in Oniguruma (horizontal space in Java);
 *       {@code \v} is only U+000B (any vertical space in Java): rewritten.
 *   <li>Inline {@code (?m)} means "dot matches newline" in Oniguruma, POSIX brackets
 *       ({@code [[:alpha:]]}) are a different class in Java: refused. Constructs Java lacks
 *       ({@code \K}, {@code \p{^L}}, absent groups) fail to compile: refused too.
 * </ul>
 *
 * <p>Characters are classified with the JDK's Unicode tables (Unicode 13 in Java 17): code points
 * assigned in later Unicode versions count as unassigned.
 */
final class OnigurumaRegex {
    static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.MULTILINE | Pattern.UNIX_LINES;

    private OnigurumaRegex() {}

    /**
     * The Java pattern with the Oniguruma pattern's meaning.
     *
     * @throws PatternSyntaxException if the pattern is invalid or uses a construct refused above
     */
    static Pattern compile(String onig) {
        return Pattern.compile(translate(onig), FLAGS);
    }

    /** The pattern rewritten to Java syntax (see the class comment). */
    static String translate(String onig) {
        StringBuilder out = new StringBuilder(onig.length() + 16);
        int depth = 0; // nesting of character classes
        int n = onig.length();
        for (int i = 0; i < n; i++) {
            char c = onig.charAt(i);
            if (c == '\\') {
                if (i + 1 >= n) {
                    throw new PatternSyntaxException("trailing backslash", onig, i);
                }
                char e = onig.charAt(++i);
                switch (e) {
                    case 'h':
                        out.append(depth > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]");
                        break;
                    case 'H':
                        if (depth > 0) {
                            throw new PatternSyntaxException("\\H inside a character class is not supported", onig, i);
                        }
                        out.append("[^0-9a-fA-F]");
                        break;
                    case 'v':
                        out.append("\\x0B");
                        break;
                    default:
                        out.append('\\').append(e);
                }
                continue;
            }
            if (c == '[') {
                if (depth > 0 && i + 1 < n && onig.charAt(i + 1) == ':') {
                    throw new PatternSyntaxException("POSIX bracket expressions ([:name:]) are not supported", onig, i);
                }
                depth++;
                out.append(c);
                // A ']' right after '[' or '[^' is a literal in both flavours.
                if (i + 1 < n && onig.charAt(i + 1) == '^') {
                    out.append('^');
                    i++;
                }
                if (i + 1 < n && onig.charAt(i + 1) == ']') {
                    out.append("\\]");
                    i++;
                }
                continue;
            }
            if (c == ']' && depth > 0) {
                depth--;
            } else if (c == '(' && depth == 0 && i + 1 < n && onig.charAt(i + 1) == '?') {
                checkInlineOptions(onig, i + 2);
            }
            out.append(c);
        }
        return out.toString();
    }

    /** Refuses {@code (?m)}: in Oniguruma it makes {@code .} match newlines, in Java it changes anchors. */
    private static void checkInlineOptions(String onig, int from) {
        for (int j = from; j < onig.length(); j++) {
            char o = onig.charAt(j);
            if (o == 'm') {
                throw new PatternSyntaxException(
                        "inline option 'm' (Oniguruma: dot matches newline) is not supported", onig, j);
            }
            if (o != 'i' && o != 'x' && o != '-') {
                return; // ':' or ')' ends the options; anything else is another group kind
            }
        }
    }
}
