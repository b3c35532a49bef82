package dev.qsparse.runtime.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A chat-style prompt around one untrusted text: {@code prefix + text + suffix}. The template is
 * trusted configuration, so the added/special tokens written in it (e.g. {@code <|eot_id|>}) become
 * their control ids; the text is event data and is encoded literally ({@link Tokenizer#encode}), so
 * a special token written in it stays text and cannot close the turn or open a new one. The
 * template's stop tokens (its end-of-turn token) end a generation like the end-of-sequence token.
 *
 * <p>A template is the whole prompt format, as a Hugging Face chat template is: it writes the BOS
 * token itself where the family wants one (Llama 3, BitNet), and the session adds nothing to it.
 *
 * @param prefix text before the untrusted text (special tokens recognised)
 * @param suffix text after it (special tokens recognised)
 * @param stopTokens added tokens that end the generation, e.g. {@code <|eot_id|>}
 */
public record PromptTemplate(String prefix, String suffix, List<String> stopTokens) {
    /** Where the untrusted text goes in a template string. */
    public static final String TEXT = "{text}";
    /** Longest template string accepted (characters). */
    public static final int MAX_LENGTH = 64 * 1024;

    /** Llama 3 Instruct: one user turn, then the assistant header. */
    public static final PromptTemplate LLAMA3 = parse(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            List.of("<|eot_id|>"));
    /** BitNet b1.58 2B4T's chat format: {@code <|begin_of_text|>User: ...<|eot_id|>Assistant: }. */
    public static final PromptTemplate BITNET =
            parse("<|begin_of_text|>User: {text}<|eot_id|>Assistant: ", List.of("<|eot_id|>"));
    /** ChatML (Qwen2/Qwen3): {@code <|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n}. */
    public static final PromptTemplate CHATML =
            parse("<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n", List.of("<|im_end|>"));

    public PromptTemplate {
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(suffix, "suffix");
        stopTokens = stopTokens == null ? List.of() : List.copyOf(stopTokens);
        if (prefix.length() + suffix.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("prompt template is longer than " + MAX_LENGTH + " characters");
        }
        for (String s : stopTokens) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("prompt template stop tokens must not be empty");
            }
        }
    }

    /**
     * A template string with exactly one {@value #TEXT} where the untrusted text goes, e.g.
     * {@code "<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"}.
     */
    public static PromptTemplate parse(String template, List<String> stopTokens) {
        Objects.requireNonNull(template, "template");
        int at = template.indexOf(TEXT);
        if (at < 0 || template.indexOf(TEXT, at + 1) >= 0) {
            throw new IllegalArgumentException("prompt template must contain " + TEXT + " exactly once: " + template);
        }
        return new PromptTemplate(template.substring(0, at), template.substring(at + TEXT.length()), stopTokens);
    }

    /** A built-in template by name: {@code llama3}, {@code bitnet} or {@code chatml}. */
    public static PromptTemplate named(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "llama3" -> LLAMA3;
            case "bitnet" -> BITNET;
            case "chatml", "qwen" -> CHATML;
            default ->
                throw new IllegalArgumentException(
                        "unknown prompt template '" + name + "' (built in: llama3, bitnet, chatml)");
        };
    }

    /**
     * The prompt's ids: the prefix and suffix with their special tokens, the text literally.
     *
     * @throws IllegalArgumentException if a stop token is not an added token of {@code tokenizer}
     *     (the template was written for another model family)
     */
    public int[] encode(Tokenizer tokenizer, String untrustedText) {
        stopTokenIds(tokenizer);
        int[] head = tokenizer.encodeWithSpecialTokens(prefix);
        int[] body = tokenizer.encode(untrustedText);
        int[] tail = tokenizer.encodeWithSpecialTokens(suffix);
        int[] out = Arrays.copyOf(head, head.length + body.length + tail.length);
        System.arraycopy(body, 0, out, head.length, body.length);
        System.arraycopy(tail, 0, out, head.length + body.length, tail.length);
        return out;
    }

    /**
     * Ids of the stop tokens in {@code tokenizer}.
     *
     * @throws IllegalArgumentException naming the token if one is not an added token of it
     */
    public int[] stopTokenIds(Tokenizer tokenizer) {
        int[] ids = new int[stopTokens.size()];
        for (int i = 0; i < ids.length; i++) {
            OptionalInt id = tokenizer.tokenId(stopTokens.get(i));
            if (id.isEmpty() || !tokenizer.isAddedToken(id.getAsInt())) {
                throw new IllegalArgumentException("prompt template stop token '" + stopTokens.get(i)
                        + "' is not an added token of the model's tokenizer (a template for another model family?)");
            }
            ids[i] = id.getAsInt();
        }
        return ids;
    }
}
