package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * WordPiece tokenizer read from a Hugging Face {@code tokenizer.json} (BERT, MiniLM, bge, e5), as
 * the Rust {@code tokenizers} library runs it: added tokens are found first ({@link AddedTokens}),
 * the rest is normalized ({@link TextNormalizer}, usually {@link BertNormalizer}), split into words
 * ({@link BertPreTokenizer}) and each word into vocabulary pieces ({@link WordPieceModel}).
 *
 * <p>{@link #encode(String)} and {@link #encodeWithSpecialTokens(String)} give the text's own ids,
 * as every {@link Tokenizer} does. What {@code tokenizers}' {@code encode(text,
 * add_special_tokens)} returns for one text is {@code pad(postProcess(encodeWithSpecialTokens(text),
 * add_special_tokens))}: the file's {@code truncation} cuts the text so that it fits {@code
 * max_length} with the template ({@code [CLS] ... [SEP]}) around it, and its {@code padding} pads.
 *
 * <p>Anything the reader does not implement (another model, normalizer, pre-tokenizer,
 * post-processor or decoder type, an unknown key, a truncation strategy) is refused with a {@link
 * TokenizerLoadException} naming the file and the key. Immutable and thread-safe.
 */
public final class WordPieceTokenizer extends Tokenizer {
    private static final Set<String> ROOT_KEYS = Set.of(
            "version",
            "truncation",
            "padding",
            "added_tokens",
            "normalizer",
            "pre_tokenizer",
            "model",
            "post_processor",
            "decoder");

    private final WordPieceModel model;
    private final TextNormalizer normalizer;
    private final BertPreTokenizer preTokenizer;
    private final AddedTokens added;
    private final SingleTemplate template;
    private final Truncation truncation; // null: none
    private final Padding padding; // null: none
    private final WordPieceDecoder decoder;
    private final String[] idToText;
    private final boolean[] isAdded;
    private final boolean[] isSpecial;
    private final Map<String, Integer> addedIds;

    private WordPieceTokenizer(
            Path file, JsonNode root, WordPieceModel model, TextNormalizer normalizer, AddedTokens added)
            throws TokenizerLoadException {
        this.model = model;
        this.normalizer = normalizer;
        this.added = added;
        int size = 0;
        for (int id : model.vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (AddedTokens.Token t : added.all) {
            size = Math.max(size, t.id() + 1);
        }
        idToText = new String[size];
        isAdded = new boolean[size];
        isSpecial = new boolean[size];
        for (Map.Entry<String, Integer> e : model.vocab.entrySet()) {
            idToText[e.getValue()] = e.getKey();
        }
        Map<String, Integer> ids = new HashMap<>();
        for (AddedTokens.Token t : added.all) {
            // An added token sharing an id with a vocabulary token takes precedence for that id.
            idToText[t.id()] = t.content();
            isAdded[t.id()] = true;
            isSpecial[t.id()] = t.special();
            ids.put(t.content(), t.id());
        }
        this.addedIds = ids;
        this.preTokenizer = BertPreTokenizer.parse(file, root.get("pre_tokenizer"));
        this.template = SingleTemplate.parse(file, root.get("post_processor"), this::isToken);
        this.truncation = Truncation.parse(file, root.get("truncation"), template);
        this.padding = Padding.parse(file, root.get("padding"), this::isToken);
        this.decoder = WordPieceDecoder.parse(file, root.get("decoder"));
    }

    /** The WordPiece tokenizer a {@code tokenizer.json} with {@code model.type} {@code "WordPiece"} describes. */
    static WordPieceTokenizer fromJson(Path file, JsonNode root, int modelVocabSize) throws TokenizerLoadException {
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!ROOT_KEYS.contains(key)) {
                throw new TokenizerLoadException(
                        file, "'" + key + "' is not a top-level key this reader knows (known: " + ROOT_KEYS + ")");
            }
        }
        JsonNode version = root.get("version");
        if (version != null && !(version.isTextual() && "1.0".equals(version.textValue()))) {
            throw new TokenizerLoadException(file, "'version' " + version + " is not supported (supported: \"1.0\")");
        }
        TextNormalizer normalizer = TextNormalizer.parse(file, root.get("normalizer"));
        WordPieceModel model = WordPieceModel.parse(file, root.get("model"));
        AddedTokens added = AddedTokens.parse(file, root.get("added_tokens"), normalizer::normalize);
        checkIds(file, model, added, modelVocabSize);
        return new WordPieceTokenizer(file, root, model, normalizer, added);
    }

    /** Ids index arrays: bound them by the tokenizer's own size and the model's vocabulary first. */
    private static void checkIds(Path file, WordPieceModel model, AddedTokens added, int modelVocabSize)
            throws TokenizerLoadException {
        long ownLimit = (long) model.vocab.size() + added.all.size() + MAX_ID_GAP;
        for (Map.Entry<String, Integer> e : model.vocab.entrySet()) {
            if (e.getValue() >= modelVocabSize) {
                throw new TokenizerLoadException(
                        file,
                        "'model.vocab['" + e.getKey() + "']' = " + e.getValue() + " is outside the model's vocab_size "
                                + modelVocabSize);
            }
        }
        for (int i = 0; i < added.all.size(); i++) {
            int id = added.all.get(i).id();
            if (id >= ownLimit || id >= modelVocabSize) {
                throw new TokenizerLoadException(
                        file,
                        "'added_tokens[" + i + "].id' = " + id + " is too large (ids must be below "
                                + Math.min(ownLimit, modelVocabSize) + ")");
            }
        }
    }

    private boolean isToken(int id) {
        return id >= 0 && id < idToText.length && idToText[id] != null;
    }

    // -----------------------------------------------------------------------------------------------
    // Encoding

    @Override
    public int[] encode(String text) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 4 + 4);
        encodeSegment(replaceLoneSurrogates(text), out, false);
        return out.toArray();
    }

    /**
     * Encodes text in which added tokens ({@code [CLS]}, {@code [SEP]}, {@code [MASK]}, ...) become
     * their ids, found as the Rust library finds them: before normalization for tokens with {@code
     * normalized: false}, after it for the others.
     */
    @Override
    public int[] encodeWithSpecialTokens(String text) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 4 + 4);
        added.splitRaw(replaceLoneSurrogates(text), new AddedTokens.Sink() {
            @Override
            public void text(String raw) {
                encodeSegment(raw, out, true);
            }

            @Override
            public void token(int id) {
                out.add(id);
            }
        });
        return out.toArray();
    }

    private void encodeSegment(String raw, IntList out, boolean recognise) {
        if (raw.isEmpty()) {
            return;
        }
        String normalized = normalizer.normalize(raw);
        if (!recognise) {
            words(normalized, out);
            return;
        }
        added.splitNormalized(normalized, new AddedTokens.Sink() {
            @Override
            public void text(String text) {
                words(text, out);
            }

            @Override
            public void token(int id) {
                out.add(id);
            }
        });
    }

    private void words(String normalized, IntList out) {
        if (normalized.isEmpty()) {
            return;
        }
        List<String> words = new ArrayList<>();
        preTokenizer.split(normalized, words);
        for (String word : words) {
            model.tokenize(word, out);
        }
    }

    /**
     * The ids of one text as the model takes them: {@code content} cut by the file's {@code
     * truncation} (to {@code max_length}, less the template's tokens when they are added), then, with
     * {@code addTemplate}, the {@code post_processor}'s tokens around it ({@code [CLS] ... [SEP]}).
     * Without truncation in the file nothing is cut.
     */
    public int[] postProcess(int[] content, boolean addTemplate) {
        Objects.requireNonNull(content, "content");
        int reserved = addTemplate ? template.size() : 0;
        int[] text = truncation == null ? content : truncation.apply(content, reserved);
        if (!addTemplate || reserved == 0) {
            return text == content ? content.clone() : text;
        }
        int[] out = new int[reserved + text.length];
        System.arraycopy(template.prefix(), 0, out, 0, template.prefix().length);
        System.arraycopy(text, 0, out, template.prefix().length, text.length);
        System.arraycopy(template.suffix(), 0, out, template.prefix().length + text.length, template.suffix().length);
        return out;
    }

    /**
     * {@code ids} padded as the file's {@code padding} says (a {@code Fixed} length, a multiple), with
     * its {@code pad_id}; a copy of {@code ids} when the file has no padding. Never shortens.
     */
    public int[] pad(int[] ids) {
        Objects.requireNonNull(ids, "ids");
        return padding == null ? ids.clone() : padding.apply(ids.clone());
    }

    // -----------------------------------------------------------------------------------------------
    // Special tokens and lookup

    /** {@code [CLS]} for BERT: the template's tokens before the text (empty Optional without a post_processor). */
    @Override
    public Optional<int[]> prefixTokens() {
        return template.present() ? Optional.of(template.prefix().clone()) : Optional.empty();
    }

    /** {@code [SEP]} for BERT: the template's tokens after the text (empty without a post_processor). */
    @Override
    public int[] suffixTokens() {
        return template.suffix().clone();
    }

    /** The file's {@code truncation.max_length}, template tokens included; empty without truncation. */
    public OptionalInt maxLength() {
        return truncation == null ? OptionalInt.empty() : OptionalInt.of(truncation.maxLength());
    }

    /** The id of {@code model.unk_token} ({@code [UNK]}), which a word with no vocabulary pieces becomes. */
    public int unkTokenId() {
        return model.unkId;
    }

    /** The file's {@code padding.pad_id}; empty without padding (use {@code tokenId("[PAD]")}). */
    public OptionalInt padTokenId() {
        return padding == null ? OptionalInt.empty() : OptionalInt.of(padding.padId());
    }

    @Override
    public int vocabSize() {
        return idToText.length;
    }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = addedIds.get(token);
        if (id == null) {
            id = model.vocab.get(token);
        }
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public String tokenText(int id) {
        if (!isToken(id)) {
            throw new IllegalArgumentException(
                    "token id " + id + " is not a token of this tokenizer (vocab size " + idToText.length + ")");
        }
        return idToText[id];
    }

    @Override
    public boolean isAddedToken(int id) {
        return id >= 0 && id < isAdded.length && isAdded[id];
    }

    @Override
    public boolean isSpecialToken(int id) {
        return id >= 0 && id < isSpecial.length && isSpecial[id];
    }

    /**
     * Decodes with the file's {@code WordPiece} decoder ({@code "##"} pieces join the piece before,
     * other tokens are spaced, {@code cleanup} closes up punctuation); special tokens are kept, as
     * their literal text. The text is the normalized one: BERT's lowercasing and accent stripping are
     * not undone.
     */
    @Override
    public String decode(int[] ids, int from, int to) {
        Objects.checkFromToIndex(from, to, ids.length);
        String[] tokens = new String[to - from];
        for (int i = from; i < to; i++) {
            tokens[i - from] = tokenText(ids[i]);
        }
        return decoder.decode(tokens);
    }
}
