package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A tokenizer read from a Hugging Face {@code tokenizer.json}: {@link BpeTokenizer} for
 * {@code model.type} {@code "BPE"} (decoder language models), {@link WordPieceTokenizer} for
 * {@code "WordPiece"} (BERT-family encoders). {@link #load} reads the file and picks by that key.
 *
 * <p>Every implementation keeps one contract for untrusted text: {@link #encode(String)} treats
 * its input as literal text, so an added or special token written in it (e.g. {@code "[SEP]"},
 * {@code "<|endoftext|>"}) never becomes its special id; {@link #encodeWithSpecialTokens(String)}
 * recognises them. Neither adds the tokens a {@code post_processor} template puts around a text:
 * {@link #prefixTokens()} says which go before it. Instances are immutable and thread-safe.
 */
public abstract sealed class Tokenizer permits BpeTokenizer, WordPieceTokenizer {
    private static final ObjectMapper MAPPER =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * Unused ids a tokenizer may leave between its tokens: ids are checked against the number of
     * tokens plus this before any array indexed by id is made, so one huge id in the file cannot
     * exhaust the heap.
     */
    public static final int MAX_ID_GAP = 65_536;

    Tokenizer() {}

    /**
     * Reads a Hugging Face {@code tokenizer.json}.
     *
     * @throws TokenizerLoadException (naming the file and the problem) if the file cannot be read, is
     *     not JSON, or describes an unsupported or inconsistent tokenizer
     */
    public static Tokenizer load(Path tokenizerJson) throws IOException {
        return load(tokenizerJson, Integer.MAX_VALUE);
    }

    /**
     * Reads a Hugging Face {@code tokenizer.json} for a model with {@code modelVocabSize} embedding
     * rows: every id must also be below that, checked before any array is built.
     */
    public static Tokenizer load(Path tokenizerJson, int modelVocabSize) throws IOException {
        Objects.requireNonNull(tokenizerJson, "tokenizerJson");
        JsonNode root = readJson(tokenizerJson);
        JsonNode model = root.get("model");
        if (model == null || model.isNull()) {
            throw new TokenizerLoadException(tokenizerJson, "missing 'model'");
        }
        if (!model.isObject()) {
            throw new TokenizerLoadException(tokenizerJson, "'model' is not a JSON object");
        }
        JsonNode type = model.get("type");
        // Files written before tokenizers 0.10 have no model.type; those were all BPE.
        if (type == null || type.isNull() || "BPE".equals(type.asText())) {
            return BpeTokenizer.fromJson(tokenizerJson, root, modelVocabSize);
        }
        if ("WordPiece".equals(type.asText())) {
            return WordPieceTokenizer.fromJson(tokenizerJson, root, modelVocabSize);
        }
        throw new TokenizerLoadException(
                tokenizerJson, "model.type '" + type.asText() + "' is not supported (supported: BPE, WordPiece)");
    }

    private static JsonNode readJson(Path tokenizerJson) throws TokenizerLoadException {
        if (!Files.exists(tokenizerJson)) {
            throw new TokenizerLoadException(tokenizerJson, "file does not exist");
        }
        byte[] bytes;
        try {
            // Regular files only (a FIFO would block, /dev/zero never ends), read with a size bound.
            ModelFiles.requireRegularFile(tokenizerJson);
            bytes = ModelFiles.readBounded(tokenizerJson, ModelFiles.MAX_TOKENIZER_BYTES);
        } catch (ModelLoadException e) {
            throw new TokenizerLoadException(
                    tokenizerJson,
                    e.getMessage().substring(tokenizerJson.toString().length() + 2),
                    e);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new TokenizerLoadException(tokenizerJson, ModelFiles.jsonError(e), e);
        } catch (IOException e) {
            throw new TokenizerLoadException(
                    tokenizerJson, "cannot read file: " + e.getClass().getSimpleName(), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new TokenizerLoadException(tokenizerJson, "file is empty, expected a JSON object");
        }
        if (!root.isObject()) {
            throw new TokenizerLoadException(tokenizerJson, "top level is not a JSON object");
        }
        return root;
    }

    /**
     * Encodes literal text: added/special tokens written in the text are encoded as ordinary text.
     * Lone surrogates are replaced by U+FFFD. No template tokens are added.
     */
    public abstract int[] encode(String text);

    /** Encodes UTF-8 bytes as literal text; invalid UTF-8 is decoded with U+FFFD replacement. Never throws. */
    public int[] encode(byte[] utf8) {
        Objects.requireNonNull(utf8, "utf8");
        // String's decoding constructor replaces malformed input and yields no lone surrogates.
        return encode(new String(utf8, StandardCharsets.UTF_8));
    }

    /**
     * Encodes text in which added tokens (e.g. {@code "[SEP]"}, {@code "<|endoftext|>"}) are
     * recognised and become their ids; the text between them is encoded like {@link
     * #encode(String)}. No template tokens are added.
     */
    public abstract int[] encodeWithSpecialTokens(String text);

    /**
     * Decodes ids to text; added/special tokens contribute their literal text.
     *
     * @throws IllegalArgumentException naming the id if an id is not a token of this tokenizer
     */
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /** Decodes {@code ids[from..to)}; see {@link #decode(int[])}. */
    public abstract String decode(int[] ids, int from, int to);

    /**
     * The ids the tokenizer's {@code post_processor} puts before every text (Llama 3's current
     * files: {@code <|begin_of_text|>}; BERT: {@code [CLS]}; Qwen2/Qwen3: none), or empty when the
     * file has no {@code post_processor} and the model config's {@code bos_token_id} decides.
     */
    public abstract Optional<int[]> prefixTokens();

    /**
     * The ids the {@code post_processor} puts after a single text (BERT: {@code [SEP]};
     * Qwen3-Embedding: {@code <|endoftext|>}; Qwen3: none). Only embeddings append them: a prompt
     * never ends with them.
     */
    public int[] suffixTokens() {
        return new int[0];
    }

    /** Max id + 1 over the vocabulary and the added tokens. */
    public abstract int vocabSize();

    /** The id of a vocabulary token (as written in {@code tokenizer.json}) or an added token. */
    public abstract OptionalInt tokenId(String token);

    /**
     * The token string of {@code id} as written in {@code tokenizer.json}: the vocabulary's form
     * (e.g. {@code "Ġthe"}, {@code "##ing"}), the content for added tokens. For the text a token
     * stands for use {@code decode(new int[] {id})}.
     *
     * @throws IllegalArgumentException if {@code id} is not a token of this tokenizer
     */
    public abstract String tokenText(int id);

    /** Whether {@code id} is an added token (from {@code added_tokens}). */
    public abstract boolean isAddedToken(int id);

    /** Whether {@code id} is an added token marked {@code special}. */
    public abstract boolean isSpecialToken(int id);

    /** {@code s} with every unpaired surrogate replaced by U+FFFD (a Rust string cannot hold one). */
    static String replaceLoneSurrogates(String s) {
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                    continue;
                }
                return replaceLoneSurrogatesSlow(s);
            }
        }
        return s;
    }

    private static String replaceLoneSurrogatesSlow(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                sb.append('\uFFFD');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
