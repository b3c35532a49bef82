package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The supported pre-tokenizers: {@code ByteLevel}, {@code Split} and {@code Sequence} of those,
 * ending in {@code ByteLevel}. Pre-tokenization cuts text into pieces (concatenating to the text
 * unless a {@code Removed} split drops some); BPE then runs on each piece's UTF-8 bytes.
 *
 * <p>Regexes are Oniguruma regexes (what the Rust library runs), compiled to Java by {@link
 * OnigurumaRegex} with the same meaning: {@code \s} is the Unicode White_Space property and
 * {@code \p{L}}/{@code \p{N}} are general categories.
 */
final class PreTokenizer {
    /** GPT-2's split pattern, as used by the ByteLevel pre-tokenizer with {@code use_regex}. */
    static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final Pattern GPT2 = OnigurumaRegex.compile(GPT2_PATTERN);

    enum Behavior {
        REMOVED,
        ISOLATED,
        MERGED_WITH_PREVIOUS,
        MERGED_WITH_NEXT,
        CONTIGUOUS
    }

    private interface Step {
        void apply(String piece, List<String> out);
    }

    private final Step[] steps;

    private PreTokenizer(List<Step> steps) {
        this.steps = steps.toArray(new Step[0]);
    }

    /** Splits {@code text} into pieces; empty pieces are never returned. */
    List<String> split(String text) {
        List<String> pieces = new ArrayList<>(1);
        if (text.isEmpty()) {
            return pieces;
        }
        pieces.add(text);
        for (Step step : steps) {
            List<String> next = new ArrayList<>(Math.max(4, pieces.size() * 2));
            for (String p : pieces) {
                step.apply(p, next);
            }
            pieces = next;
        }
        return pieces;
    }

    // ---------------------------------------------------------------------------------------------
    // Steps

    private static final class ByteLevelStep implements Step {
        final boolean addPrefixSpace;
        final boolean useRegex;

        ByteLevelStep(boolean addPrefixSpace, boolean useRegex) {
            this.addPrefixSpace = addPrefixSpace;
            this.useRegex = useRegex;
        }

        @Override
        public void apply(String piece, List<String> out) {
            if (piece.isEmpty()) {
                return;
            }
            String s = addPrefixSpace && piece.charAt(0) != ' ' ? " " + piece : piece;
            if (useRegex) {
                splitSpans(GPT2, s, false, Behavior.ISOLATED, out);
            } else {
                out.add(s);
            }
        }
    }

    private static final class SplitStep implements Step {
        final Pattern pattern;
        final Behavior behavior;
        final boolean invert;

        SplitStep(Pattern pattern, Behavior behavior, boolean invert) {
            this.pattern = pattern;
            this.behavior = behavior;
            this.invert = invert;
        }

        @Override
        public void apply(String piece, List<String> out) {
            splitSpans(pattern, piece, invert, behavior, out);
        }
    }

    /** Splits {@code s} at the (non-empty) matches of {@code pattern}, following Hugging Face's split behaviours. */
    static void splitSpans(Pattern pattern, String s, boolean invert, Behavior behavior, List<String> out) {
        int n = s.length();
        if (n == 0) {
            return;
        }
        // spans as (start, end, isMatch) triples
        int[] starts = new int[8];
        int[] ends = new int[8];
        boolean[] isMatch = new boolean[8];
        int count = 0;
        Matcher m = pattern.matcher(s);
        int prev = 0;
        while (m.find()) {
            int st = m.start();
            int en = m.end();
            if (st == en) {
                continue;
            }
            if (count + 2 > starts.length) {
                starts = java.util.Arrays.copyOf(starts, starts.length * 2);
                ends = java.util.Arrays.copyOf(ends, ends.length * 2);
                isMatch = java.util.Arrays.copyOf(isMatch, isMatch.length * 2);
            }
            if (prev < st) {
                starts[count] = prev;
                ends[count] = st;
                isMatch[count++] = false;
            }
            starts[count] = st;
            ends[count] = en;
            isMatch[count++] = true;
            prev = en;
        }
        if (prev < n) {
            if (count + 1 > starts.length) {
                starts = java.util.Arrays.copyOf(starts, starts.length + 1);
                ends = java.util.Arrays.copyOf(ends, ends.length + 1);
                isMatch = java.util.Arrays.copyOf(isMatch, isMatch.length + 1);
            }
            starts[count] = prev;
            ends[count] = n;
            isMatch[count++] = false;
        }
        if (invert) {
            for (int i = 0; i < count; i++) {
                isMatch[i] = !isMatch[i];
            }
        }
        switch (behavior) {
            case ISOLATED:
                for (int i = 0; i < count; i++) {
                    out.add(s.substring(starts[i], ends[i]));
                }
                break;
            case REMOVED:
                for (int i = 0; i < count; i++) {
                    if (!isMatch[i]) {
                        out.add(s.substring(starts[i], ends[i]));
                    }
                }
                break;
            case MERGED_WITH_PREVIOUS: {
                // a match joins the preceding span unless that span was itself a match
                int curStart = -1;
                int curEnd = -1;
                boolean previousMatch = false;
                for (int i = 0; i < count; i++) {
                    if (isMatch[i] && !previousMatch && curStart >= 0) {
                        curEnd = ends[i];
                    } else {
                        if (curStart >= 0) {
                            out.add(s.substring(curStart, curEnd));
                        }
                        curStart = starts[i];
                        curEnd = ends[i];
                    }
                    previousMatch = isMatch[i];
                }
                if (curStart >= 0) {
                    out.add(s.substring(curStart, curEnd));
                }
                break;
            }
            case MERGED_WITH_NEXT: {
                // mirror image: a match joins the following span unless that span is itself a match
                List<String> reversed = new ArrayList<>();
                int curStart = -1;
                int curEnd = -1;
                boolean previousMatch = false;
                for (int i = count - 1; i >= 0; i--) {
                    if (isMatch[i] && !previousMatch && curStart >= 0) {
                        curStart = starts[i];
                    } else {
                        if (curStart >= 0) {
                            reversed.add(s.substring(curStart, curEnd));
                        }
                        curStart = starts[i];
                        curEnd = ends[i];
                    }
                    previousMatch = isMatch[i];
                }
                if (curStart >= 0) {
                    reversed.add(s.substring(curStart, curEnd));
                }
                for (int i = reversed.size() - 1; i >= 0; i--) {
                    out.add(reversed.get(i));
                }
                break;
            }
            case CONTIGUOUS: {
                int curStart = -1;
                int curEnd = -1;
                boolean previousMatch = false;
                for (int i = 0; i < count; i++) {
                    if (curStart >= 0 && isMatch[i] == previousMatch) {
                        curEnd = ends[i];
                    } else {
                        if (curStart >= 0) {
                            out.add(s.substring(curStart, curEnd));
                        }
                        curStart = starts[i];
                        curEnd = ends[i];
                    }
                    previousMatch = isMatch[i];
                }
                if (curStart >= 0) {
                    out.add(s.substring(curStart, curEnd));
                }
                break;
            }
            default:
                throw new AssertionError(behavior);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Parsing

    /** Parses {@code pre_tokenizer}; it must be ByteLevel or a Sequence of Splits ending in ByteLevel. */
    static PreTokenizer parse(Path file, JsonNode node) throws TokenizerLoadException {
        if (node == null || node.isNull() || node.isMissingNode()) {
            throw new TokenizerLoadException(
                    file, "'pre_tokenizer' is null; only byte-level BPE (a ByteLevel pre_tokenizer) is supported");
        }
        List<Step> steps = new ArrayList<>();
        collect(file, node, "pre_tokenizer", steps);
        if (steps.isEmpty() || !(steps.get(steps.size() - 1) instanceof ByteLevelStep)) {
            throw new TokenizerLoadException(
                    file,
                    "'pre_tokenizer' must be ByteLevel or a Sequence ending in ByteLevel (only byte-level BPE is supported)");
        }
        for (int i = 0; i < steps.size() - 1; i++) {
            if (steps.get(i) instanceof ByteLevelStep) {
                throw new TokenizerLoadException(
                        file,
                        "'pre_tokenizer' has a ByteLevel step before other steps; only a final ByteLevel step is supported");
            }
        }
        return new PreTokenizer(steps);
    }

    private static void collect(Path file, JsonNode node, String where, List<Step> steps)
            throws TokenizerLoadException {
        if (!node.isObject()) {
            throw new TokenizerLoadException(file, "'" + where + "' is not a JSON object");
        }
        String type = node.path("type").asText("");
        switch (type) {
            case "ByteLevel":
                steps.add(new ByteLevelStep(
                        bool(file, node, "add_prefix_space", false, where),
                        bool(file, node, "use_regex", true, where)));
                break;
            case "Sequence": {
                JsonNode list = node.get("pretokenizers");
                if (list == null || !list.isArray()) {
                    throw new TokenizerLoadException(file, "'" + where + "' Sequence has no 'pretokenizers' array");
                }
                for (int i = 0; i < list.size(); i++) {
                    collect(file, list.get(i), where + ".pretokenizers[" + i + "]", steps);
                }
                break;
            }
            case "Split":
                steps.add(parseSplit(file, node, where));
                break;
            default:
                throw new TokenizerLoadException(
                        file,
                        "unsupported pre-tokenizer type '" + type + "' at '" + where
                                + "' (supported: ByteLevel, Split, Sequence)");
        }
    }

    private static SplitStep parseSplit(Path file, JsonNode node, String where) throws TokenizerLoadException {
        JsonNode pattern = node.get("pattern");
        String regex;
        boolean isRegex = false;
        if (pattern != null
                && pattern.isObject()
                && pattern.hasNonNull("Regex")
                && pattern.get("Regex").isTextual()) {
            regex = pattern.get("Regex").asText();
            isRegex = true;
        } else if (pattern != null
                && pattern.isObject()
                && pattern.hasNonNull("String")
                && pattern.get("String").isTextual()) {
            regex = Pattern.quote(pattern.get("String").asText());
        } else {
            throw new TokenizerLoadException(
                    file, "'" + where + "' Split needs 'pattern' {\"Regex\": ...} or {\"String\": ...}");
        }
        Pattern compiled;
        try {
            compiled = isRegex ? OnigurumaRegex.compile(regex) : Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new TokenizerLoadException(
                    file,
                    "'" + where + "' Split pattern is not a valid regex: " + e.getDescription() + " in " + regex,
                    e);
        }
        String behaviorName = node.path("behavior").asText("");
        Behavior behavior;
        switch (behaviorName) {
            case "Removed":
                behavior = Behavior.REMOVED;
                break;
            case "Isolated":
                behavior = Behavior.ISOLATED;
                break;
            case "MergedWithPrevious":
                behavior = Behavior.MERGED_WITH_PREVIOUS;
                break;
            case "MergedWithNext":
                behavior = Behavior.MERGED_WITH_NEXT;
                break;
            case "Contiguous":
                behavior = Behavior.CONTIGUOUS;
                break;
            default:
                throw new TokenizerLoadException(
                        file, "'" + where + "' Split has unsupported behavior '" + behaviorName + "'");
        }
        return new SplitStep(compiled, behavior, bool(file, node, "invert", false, where));
    }

    private static boolean bool(Path file, JsonNode node, String field, boolean dflt, String where)
            throws TokenizerLoadException {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new TokenizerLoadException(file, "'" + where + "." + field + "' is not a boolean");
        }
        return v.booleanValue();
    }
}
