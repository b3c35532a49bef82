package dev.qsparse.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE tokenizer read from a Hugging Face {@code tokenizer.json} (GPT-2 / Llama-3 style).
 *
 * <p>Supported: {@code model.type == "BPE"} with {@code vocab} and {@code merges} (as {@code "a b"}
 * strings or {@code ["a", "b"]} arrays), {@code ignore_merges}; {@code added_tokens} (with
 * {@code single_word}, {@code lstrip}, {@code rstrip}; an added token sharing an id with a vocabulary
 * token takes precedence for that id); {@code normalizer} null or {@code NFC} (alone or in a
 * {@code Sequence}, as Qwen2/Qwen3 ship it); pre-tokenizer {@code ByteLevel} (with
 * {@code add_prefix_space}, {@code use_regex}) or a {@code Sequence} of {@code Split} steps ending
 * in {@code ByteLevel} (Llama 3, Qwen2/Qwen3), whose regexes keep their Oniguruma meaning
 * ({@link OnigurumaRegex}); decoder {@code ByteLevel} (or null). Anything
 * else (other normalizers, pre-tokenizers, decoders or models, BPE dropout, subword
 * prefixes/suffixes, a vocabulary lacking one of the 256 byte symbols, merges naming unknown
 * tokens) is rejected with a {@link TokenizerLoadException} rather than silently mis-tokenizing.
 * {@code encode} never adds BOS/EOS or other template tokens; {@link #prefixTokens()} says which
 * tokens the {@code post_processor} puts before a text ({@link PostProcessor}), for the caller to add.
 *
 * <p>Text handling:
 *
 * <ul>
 *   <li>{@link #encode(String)} treats its input as literal text: an added/special token written in
 *       the text (e.g. {@code "<|endoftext|>"}) is encoded as ordinary bytes, never as its special
 *       id, so untrusted stream data cannot inject control tokens. Use {@link
 *       #encodeWithSpecialTokens(String)} to recognise them.
 *   <li>Lone (unpaired) surrogates in a {@code String} are replaced by U+FFFD before encoding.
 *   <li>{@link #encode(byte[])} decodes invalid UTF-8 with U+FFFD replacement; it never throws.
 *   <li>{@link #decode(int[])} joins the tokens' bytes and decodes them as UTF-8, replacing
 *       incomplete or invalid sequences with U+FFFD; added tokens decode to their literal text.
 *   <li>With an {@code NFC} normalizer, the text between added tokens is put in Unicode
 *       Normalization Form C before it is split (the JDK's Unicode tables), as the Rust library
 *       does; {@code decode} then gives the NFC form of the text. The text is first put in the
 *       Stream-Safe Text Format ({@link UnicodeNormalization}: U+034F after 30 consecutive
 *       combining marks, which no real text has), so normalising is linear in the text.
 *   <li>For every string without lone surrogates, {@code decode(encode(s)).equals(s)} (given a
 *       tokenizer without {@code add_prefix_space}, without {@code Removed} splits, and without a
 *       normalizer or with {@code s} already in NFC).
 * </ul>
 *
 * <p>Instances are immutable and thread-safe; the only mutable state is a bounded concurrent cache
 * of piece to ids.
 */
public final class BpeTokenizer extends Tokenizer {
    /** Maximum number of cached pieces; the cache is cleared when it grows past this. */
    static final int CACHE_CAPACITY = 16_384;
    /** Pieces longer than this (in chars) are not cached. */
    private static final int CACHE_MAX_PIECE_LENGTH = 64;

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> addedIds;
    private final String[] idToText;
    private final byte[][] idToBytes;
    private final boolean[] isAdded;
    private final boolean[] isSpecial;
    private final int[] byteIds;
    private final MergeTable merges;
    private final boolean ignoreMerges;
    private final boolean nfc;
    private final PreTokenizer preTokenizer;
    private final int[] prefixTokens; // null: no post_processor
    private final int[] suffixTokens;
    private final AddedToken[] addedTokens;
    private final Map<Character, AddedToken[]> addedByFirstChar;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    private static final class AddedToken {
        final int id;
        final String content;
        final boolean special;
        final boolean singleWord;
        final boolean lstrip;
        final boolean rstrip;

        AddedToken(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip) {
            this.id = id;
            this.content = content;
            this.special = special;
            this.singleWord = singleWord;
            this.lstrip = lstrip;
            this.rstrip = rstrip;
        }
    }

    private BpeTokenizer(
            Map<String, Integer> vocab,
            List<AddedToken> added,
            int[] mergeLeft,
            int[] mergeRight,
            int[] mergeResult,
            boolean ignoreMerges,
            boolean nfc,
            PreTokenizer preTokenizer,
            int[] prefixTokens,
            int[] suffixTokens,
            int[] byteIds) {
        this.prefixTokens = prefixTokens;
        this.suffixTokens = suffixTokens;
        this.vocab = vocab;
        this.ignoreMerges = ignoreMerges;
        this.nfc = nfc;
        this.preTokenizer = preTokenizer;
        this.byteIds = byteIds;
        this.merges = MergeTable.build(mergeLeft, mergeRight, mergeResult);

        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (AddedToken t : added) {
            size = Math.max(size, t.id + 1);
        }
        idToText = new String[size];
        idToBytes = new byte[size][];
        isAdded = new boolean[size];
        isSpecial = new boolean[size];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            idToText[e.getValue()] = e.getKey();
            idToBytes[e.getValue()] = byteLevelDecode(e.getKey());
        }
        Map<String, Integer> ids = new HashMap<>();
        for (AddedToken t : added) {
            idToText[t.id] = t.content;
            idToBytes[t.id] = t.content.getBytes(StandardCharsets.UTF_8);
            isAdded[t.id] = true;
            isSpecial[t.id] = t.special;
            ids.put(t.content, t.id);
        }
        this.addedIds = ids;
        this.addedTokens = added.toArray(new AddedToken[0]);
        Map<Character, List<AddedToken>> byFirst = new HashMap<>();
        for (AddedToken t : addedTokens) {
            byFirst.computeIfAbsent(t.content.charAt(0), k -> new ArrayList<>()).add(t);
        }
        Map<Character, AddedToken[]> index = new HashMap<>();
        for (Map.Entry<Character, List<AddedToken>> e : byFirst.entrySet()) {
            AddedToken[] arr = e.getValue().toArray(new AddedToken[0]);
            Arrays.sort(arr, (a, b) -> Integer.compare(b.content.length(), a.content.length()));
            index.put(e.getKey(), arr);
        }
        this.addedByFirstChar = index;
    }

    /** Bytes of a vocabulary token: byte-level symbols map to their byte, other chars to their UTF-8. */
    private static byte[] byteLevelDecode(String token) {
        byte[] out = new byte[token.length() * 4];
        int n = 0;
        for (int i = 0; i < token.length(); ) {
            int cp = token.codePointAt(i);
            i += Character.charCount(cp);
            int b = ByteLevelAlphabet.toByte(cp);
            if (b >= 0) {
                out[n++] = (byte) b;
            } else {
                byte[] utf8 = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                System.arraycopy(utf8, 0, out, n, utf8.length);
                n += utf8.length;
            }
        }
        return Arrays.copyOf(out, n);
    }

    // -----------------------------------------------------------------------------------------------
    // Loading

    /** The BPE tokenizer a {@code tokenizer.json} with {@code model.type} {@code "BPE"} (or none) describes. */
    static BpeTokenizer fromJson(Path file, JsonNode root, int modelVocabSize) throws TokenizerLoadException {
        boolean nfc = parseNormalizer(file, root.get("normalizer"), "normalizer");
        checkDecoder(file, root.get("decoder"));
        PreTokenizer pre = PreTokenizer.parse(file, root.get("pre_tokenizer"));

        JsonNode model = root.get("model");
        if (model == null || model.isNull()) {
            throw new TokenizerLoadException(file, "missing 'model'");
        }
        if (!model.isObject()) {
            throw new TokenizerLoadException(file, "'model' is not a JSON object");
        }
        JsonNode type = model.get("type");
        if (type != null && !type.isNull() && !"BPE".equals(type.asText())) {
            throw new TokenizerLoadException(file, "model.type '" + type.asText() + "' is not BPE");
        }
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull() && !(dropout.isNumber() && dropout.doubleValue() == 0.0)) {
            throw new TokenizerLoadException(file, "model.dropout " + dropout + " is not supported");
        }
        for (String field : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
            JsonNode v = model.get(field);
            if (v != null && !v.isNull() && !v.asText().isEmpty()) {
                throw new TokenizerLoadException(file, "model." + field + " " + v + " is not supported");
            }
        }
        boolean ignoreMerges = model.path("ignore_merges").asBoolean(false);

        // vocab
        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw new TokenizerLoadException(file, "model.vocab is missing or not a JSON object");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        Map<Integer, String> byId = new HashMap<>(vocabNode.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
                throw new TokenizerLoadException(
                        file, "model.vocab['" + e.getKey() + "'] is not a non-negative int id: " + v);
            }
            String previous = byId.putIfAbsent(v.intValue(), e.getKey());
            if (previous != null) {
                throw new TokenizerLoadException(
                        file,
                        "model.vocab gives id " + v.intValue() + " to both '" + previous + "' and '" + e.getKey()
                                + "'");
            }
            vocab.put(e.getKey(), v.intValue());
        }
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevelAlphabet.toChar(b)));
            if (id == null) {
                throw new TokenizerLoadException(
                        file,
                        String.format(
                                "model.vocab lacks the byte-level symbol '%c' (U+%04X) for byte 0x%02X; only byte-level BPE is supported",
                                ByteLevelAlphabet.toChar(b), (int) ByteLevelAlphabet.toChar(b), b));
            }
            byteIds[b] = id;
        }

        // merges
        JsonNode mergesNode = model.get("merges");
        int n = mergesNode == null || mergesNode.isNull() ? 0 : mergesNode.size();
        if (mergesNode != null && !mergesNode.isNull() && !mergesNode.isArray()) {
            throw new TokenizerLoadException(file, "model.merges is not a JSON array");
        }
        int[] left = new int[n];
        int[] right = new int[n];
        int[] result = new int[n];
        for (int r = 0; r < n; r++) {
            JsonNode m = mergesNode.get(r);
            String a;
            String b;
            if (m.isTextual()) {
                String s = m.asText();
                int sp = s.indexOf(' ');
                if (sp <= 0 || sp == s.length() - 1 || s.indexOf(' ', sp + 1) >= 0) {
                    throw new TokenizerLoadException(
                            file, "model.merges[" + r + "] '" + s + "' is not two tokens separated by one space");
                }
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            } else if (m.isArray()
                    && m.size() == 2
                    && m.get(0).isTextual()
                    && m.get(1).isTextual()) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else {
                throw new TokenizerLoadException(
                        file, "model.merges[" + r + "] is neither \"a b\" nor [\"a\", \"b\"]: " + m);
            }
            left[r] = mergeToken(file, vocab, r, a, a, b);
            right[r] = mergeToken(file, vocab, r, b, a, b);
            result[r] = mergeToken(file, vocab, r, a + b, a, b);
        }

        // added tokens
        List<AddedToken> added = new ArrayList<>();
        JsonNode addedNode = root.get("added_tokens");
        if (addedNode != null && !addedNode.isNull()) {
            if (!addedNode.isArray()) {
                throw new TokenizerLoadException(file, "'added_tokens' is not a JSON array");
            }
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < addedNode.size(); i++) {
                JsonNode t = addedNode.get(i);
                JsonNode id = t.get("id");
                JsonNode content = t.get("content");
                if (id == null || !id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0) {
                    throw new TokenizerLoadException(file, "added_tokens[" + i + "] has no valid 'id'");
                }
                if (content == null || !content.isTextual() || content.asText().isEmpty()) {
                    throw new TokenizerLoadException(file, "added_tokens[" + i + "] has no non-empty 'content'");
                }
                Integer other = seen.putIfAbsent(content.asText(), id.intValue());
                if (other != null && other != id.intValue()) {
                    throw new TokenizerLoadException(
                            file,
                            "added token '" + content.asText() + "' has two ids " + other + " and " + id.intValue());
                }
                added.add(new AddedToken(
                        id.intValue(),
                        content.asText(),
                        t.path("special").asBoolean(false),
                        t.path("single_word").asBoolean(false),
                        t.path("lstrip").asBoolean(false),
                        t.path("rstrip").asBoolean(false)));
            }
        }
        checkIds(file, vocab, added, modelVocabSize);
        int[] prefix = prefixTokens(file, root.get("post_processor"), byId, added);
        int[] suffix = PostProcessor.suffix(file, root.get("post_processor"), Integer.MAX_VALUE);
        for (int id : suffix) {
            if (!byId.containsKey(id) && added.stream().noneMatch(t -> t.id == id)) {
                throw new TokenizerLoadException(
                        file, "post_processor puts token id " + id + " after the text, but no token has that id");
            }
        }
        return new BpeTokenizer(vocab, added, left, right, result, ignoreMerges, nfc, pre, prefix, suffix, byteIds);
    }

    /** The post-processor's leading tokens (null without a post_processor), each a token of this tokenizer. */
    private static int[] prefixTokens(Path file, JsonNode node, Map<Integer, String> vocabById, List<AddedToken> added)
            throws TokenizerLoadException {
        int size = 0;
        for (int id : vocabById.keySet()) {
            size = Math.max(size, id + 1);
        }
        for (AddedToken t : added) {
            size = Math.max(size, t.id + 1);
        }
        int[] prefix = PostProcessor.prefix(file, node, size).orElse(null);
        if (prefix != null) {
            for (int id : prefix) {
                if (!vocabById.containsKey(id) && added.stream().noneMatch(t -> t.id == id)) {
                    throw new TokenizerLoadException(
                            file, "post_processor puts token id " + id + " before the text, but no token has that id");
                }
            }
        }
        return prefix;
    }

    /**
     * The constructor makes arrays indexed by id: bound the largest id by the tokenizer's own size
     * (entries plus {@link #MAX_ID_GAP}) and by the model's vocabulary, naming the key that breaks it.
     */
    private static void checkIds(Path file, Map<String, Integer> vocab, List<AddedToken> added, int modelVocabSize)
            throws TokenizerLoadException {
        long ownLimit = (long) vocab.size() + added.size() + MAX_ID_GAP;
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            checkId(file, "model.vocab['" + e.getKey() + "']", e.getValue(), ownLimit, modelVocabSize);
        }
        for (int i = 0; i < added.size(); i++) {
            checkId(file, "added_tokens[" + i + "].id", added.get(i).id, ownLimit, modelVocabSize);
        }
    }

    private static void checkId(Path file, String key, int id, long ownLimit, int modelVocabSize)
            throws TokenizerLoadException {
        if (id >= ownLimit) {
            throw new TokenizerLoadException(
                    file,
                    key + " = " + id + " is too large for a tokenizer of " + (ownLimit - MAX_ID_GAP)
                            + " tokens (ids must be below " + ownLimit + ")");
        }
        if (id >= modelVocabSize) {
            throw new TokenizerLoadException(
                    file, key + " = " + id + " is outside the model's vocab_size " + modelVocabSize);
        }
    }

    private static int mergeToken(Path file, Map<String, Integer> vocab, int rank, String token, String a, String b)
            throws TokenizerLoadException {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new TokenizerLoadException(
                    file,
                    "model.merges[" + rank + "] ('" + a + "', '" + b + "') references token '" + token
                            + "' that is not in model.vocab");
        }
        return id;
    }

    /**
     * Whether the text is put in NFC first: the normalizer must be null, {@code NFC}, or a
     * {@code Sequence} of those; any other normalizer is refused rather than ignored.
     */
    private static boolean parseNormalizer(Path file, JsonNode node, String where) throws TokenizerLoadException {
        if (node == null || node.isNull()) {
            return false;
        }
        String type = node.path("type").asText("");
        if ("NFC".equals(type)) {
            return true;
        }
        if ("Sequence".equals(type) && node.path("normalizers").isArray()) {
            boolean nfc = false;
            JsonNode list = node.get("normalizers");
            for (int i = 0; i < list.size(); i++) {
                nfc |= parseNormalizer(file, list.get(i), where + ".normalizers[" + i + "]");
            }
            return nfc;
        }
        throw new TokenizerLoadException(
                file, "unsupported normalizer " + describe(node) + " at '" + where + "' (supported: null, NFC)");
    }

    private static void checkDecoder(Path file, JsonNode node) throws TokenizerLoadException {
        if (node == null
                || node.isNull()
                || "ByteLevel".equals(node.path("type").asText())) {
            return;
        }
        throw new TokenizerLoadException(
                file, "unsupported decoder " + describe(node) + " (only ByteLevel is supported)");
    }

    private static String describe(JsonNode node) {
        return node.isObject() && node.hasNonNull("type")
                ? "'" + node.get("type").asText() + "'"
                : String.valueOf(node);
    }

    // -----------------------------------------------------------------------------------------------
    // Encoding

    /**
     * Encodes literal text: added/special tokens written in the text are encoded as ordinary text.
     * Lone surrogates are replaced by U+FFFD.
     */
    @Override
    public int[] encode(String text) {
        Objects.requireNonNull(text, "text");
        IntBuffer out = new IntBuffer(text.length() / 3 + 4);
        encodeOrdinary(replaceLoneSurrogates(text), out);
        return out.toArray();
    }

    /**
     * Encodes text in which added tokens (e.g. {@code "<|endoftext|>"}) are recognised and become
     * their ids (leftmost, then longest match; honouring {@code single_word}, {@code lstrip} and
     * {@code rstrip}). The text between them is encoded like {@link #encode(String)}.
     */
    @Override
    public int[] encodeWithSpecialTokens(String text) {
        Objects.requireNonNull(text, "text");
        String s = replaceLoneSurrogates(text);
        IntBuffer out = new IntBuffer(s.length() / 3 + 4);
        if (addedTokens.length == 0) {
            encodeOrdinary(s, out);
            return out.toArray();
        }
        int segmentStart = 0;
        int i = 0;
        int n = s.length();
        while (i < n) {
            AddedToken[] candidates = addedByFirstChar.get(s.charAt(i));
            AddedToken hit = null;
            if (candidates != null) {
                for (AddedToken t : candidates) {
                    if (s.startsWith(t.content, i) && (!t.singleWord || isWordBoundary(s, i, i + t.content.length()))) {
                        hit = t;
                        break;
                    }
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            int start = i;
            int end = i + hit.content.length();
            if (hit.lstrip) {
                while (start > segmentStart && Character.isWhitespace(s.charAt(start - 1))) {
                    start--;
                }
            }
            if (hit.rstrip) {
                while (end < n && Character.isWhitespace(s.charAt(end))) {
                    end++;
                }
            }
            encodeOrdinary(s.substring(segmentStart, start), out);
            out.add(hit.id);
            segmentStart = end;
            i = end;
        }
        encodeOrdinary(s.substring(segmentStart), out);
        return out.toArray();
    }

    private static boolean isWordBoundary(String s, int start, int end) {
        if (start > 0 && isWordChar(s.codePointBefore(start))) {
            return false;
        }
        return end >= s.length() || !isWordChar(s.codePointAt(end));
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }

    private void encodeOrdinary(String text, IntBuffer out) {
        if (text.isEmpty()) {
            return;
        }
        String normalized = nfc ? UnicodeNormalization.normalize(text, Normalizer.Form.NFC) : text;
        for (String piece : preTokenizer.split(normalized)) {
            boolean cacheable = piece.length() <= CACHE_MAX_PIECE_LENGTH;
            int[] ids = cacheable ? cache.get(piece) : null;
            if (ids == null) {
                ids = bpe(piece);
                if (cacheable) {
                    if (cache.size() >= CACHE_CAPACITY) {
                        cache.clear();
                    }
                    cache.put(piece, ids);
                }
            }
            out.addAll(ids);
        }
    }

    /** Number of cached pieces (for tests). */
    int cacheSize() {
        return cache.size();
    }

    /** Pre-tokenizer pieces of {@code text} (for tests). */
    List<String> preTokenize(String text) {
        return preTokenizer.split(replaceLoneSurrogates(text));
    }

    /** BPE over the UTF-8 bytes of one piece: lowest merge rank first, leftmost on ties. O(n log n). */
    private int[] bpe(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        int n = bytes.length;
        if (ignoreMerges) {
            Integer whole = vocab.get(ByteLevelAlphabet.encode(bytes));
            if (whole != null) {
                return new int[] {whole};
            }
        }
        int[] syms = new int[n];
        for (int i = 0; i < n; i++) {
            syms[i] = byteIds[bytes[i] & 0xFF];
        }
        if (n < 2 || merges.size() == 0) {
            return syms;
        }
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) {
            int slot = merges.find(syms[i], syms[i + 1]);
            if (slot >= 0) {
                heap.push(((long) merges.rankAt(slot) << 32) | i);
            }
        }
        int remaining = n;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int rank = (int) (top >>> 32);
            int i = (int) top;
            if (dead[i]) {
                continue;
            }
            int j = next[i];
            if (j < 0) {
                continue;
            }
            int slot = merges.find(syms[i], syms[j]);
            if (slot < 0 || merges.rankAt(slot) != rank) {
                continue; // stale: one side changed since this entry was pushed
            }
            syms[i] = merges.mergedAt(slot);
            dead[j] = true;
            remaining--;
            int k = next[j];
            next[i] = k;
            if (k >= 0) {
                prev[k] = i;
                int s2 = merges.find(syms[i], syms[k]);
                if (s2 >= 0) {
                    heap.push(((long) merges.rankAt(s2) << 32) | i);
                }
            }
            int p = prev[i];
            if (p >= 0) {
                int s2 = merges.find(syms[p], syms[i]);
                if (s2 >= 0) {
                    heap.push(((long) merges.rankAt(s2) << 32) | p);
                }
            }
        }
        int[] out = new int[remaining];
        int w = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            out[w++] = syms[i];
        }
        return out;
    }

    // -----------------------------------------------------------------------------------------------
    // Decoding and lookup

    /**
     * Decodes ids to text: the tokens' bytes are joined and decoded as UTF-8, incomplete or invalid
     * sequences becoming U+FFFD; added/special tokens contribute their literal text.
     *
     * @throws IllegalArgumentException naming the id if an id is not a token of this tokenizer
     */
    @Override
    public String decode(int[] ids, int from, int to) {
        Objects.checkFromToIndex(from, to, ids.length);
        int total = 0;
        for (int i = from; i < to; i++) {
            total += bytesOf(ids[i]).length;
        }
        byte[] buf = new byte[total];
        int w = 0;
        for (int i = from; i < to; i++) {
            byte[] b = idToBytes[ids[i]];
            System.arraycopy(b, 0, buf, w, b.length);
            w += b.length;
        }
        return new String(buf, StandardCharsets.UTF_8);
    }

    private byte[] bytesOf(int id) {
        if (id < 0 || id >= idToBytes.length || idToBytes[id] == null) {
            throw new IllegalArgumentException(
                    "token id " + id + " is out of range (vocab size " + idToBytes.length + ")");
        }
        return idToBytes[id];
    }

    /**
     * The ids the tokenizer's {@code post_processor} puts before every text (Llama 3's current
     * files: {@code <|begin_of_text|>}; Qwen2/Qwen3: none), or empty when the file has no
     * {@code post_processor} and the model config's {@code bos_token_id} decides.
     */
    @Override
    public Optional<int[]> prefixTokens() {
        return prefixTokens == null ? Optional.empty() : Optional.of(prefixTokens.clone());
    }

    /** The ids the post_processor's template puts after a text (Qwen3-Embedding: {@code <|endoftext|>}). */
    @Override
    public int[] suffixTokens() {
        return suffixTokens.clone();
    }

    /** Max id + 1 over the vocabulary and the added tokens. */
    @Override
    public int vocabSize() {
        return idToText.length;
    }

    /** The id of a vocabulary token (in its byte-level form, e.g. {@code "Ġthe"}) or an added token. */
    @Override
    public OptionalInt tokenId(String token) {
        Integer id = addedIds.get(token);
        if (id == null) {
            id = vocab.get(token);
        }
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * The token string of {@code id} as written in {@code tokenizer.json}: the byte-level form for
     * vocabulary tokens (e.g. {@code "Ġthe"}), the content for added tokens. For the text a token
     * stands for use {@code decode(new int[] {id})}.
     *
     * @throws IllegalArgumentException if {@code id} is not a token of this tokenizer
     */
    @Override
    public String tokenText(int id) {
        bytesOf(id);
        return idToText[id];
    }

    /** Whether {@code id} is an added token (from {@code added_tokens}). */
    @Override
    public boolean isAddedToken(int id) {
        return id >= 0 && id < isAdded.length && isAdded[id];
    }

    /** Whether {@code id} is an added token marked {@code special}. */
    @Override
    public boolean isSpecialToken(int id) {
        return id >= 0 && id < isSpecial.length && isSpecial[id];
    }

    // -----------------------------------------------------------------------------------------------
    // Small primitive collections

    private static final class IntBuffer {
        private int[] data;
        private int size;

        IntBuffer(int capacity) {
            data = new int[Math.max(4, capacity)];
        }

        void add(int v) {
            if (size == data.length) {
                data = Arrays.copyOf(data, data.length * 2);
            }
            data[size++] = v;
        }

        void addAll(int[] vs) {
            if (size + vs.length > data.length) {
                data = Arrays.copyOf(data, Math.max(data.length * 2, size + vs.length));
            }
            System.arraycopy(vs, 0, data, size, vs.length);
            size += vs.length;
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }

    /** Binary min-heap of longs. */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, heap.length * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= v) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = v;
        }

        long pop() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            int half = size >>> 1;
            while (i < half) {
                int child = 2 * i + 1;
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (last <= heap[child]) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
