package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.safetensors.ModelFiles;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * What a sentence-transformers directory adds to its transformer: {@code sentence_bert_config.json}
 * ({@code max_seq_length}, {@code do_lower_case}), {@code modules.json} naming the modules in order
 * (Transformer, Pooling, optionally Normalize) and the Pooling module's {@code config.json}. Only
 * what sentence-transformers would compute the same way here is accepted: another module type, a
 * pooling mode we do not implement, several modes at once (their concatenation) or an unknown key
 * is refused by name, with the file.
 *
 * <p>A directory without {@code modules.json} is a plain Hugging Face model, which
 * sentence-transformers wraps with mean pooling and no normalisation; without {@code
 * sentence_bert_config.json} the longest input is {@code max_position_embeddings}.
 *
 * @param maxSeqLength the longest input in tokens, [CLS] and [SEP] included
 * @param pooling the Pooling module's mode (every token counts, [CLS] and [SEP] included)
 * @param normalize whether a Normalize module follows (L2 normalisation)
 */
public record SentenceModules(int maxSeqLength, Pooling pooling, boolean normalize) {

    public static final String MODULES_FILE = "modules.json";
    public static final String SENTENCE_CONFIG_FILE = "sentence_bert_config.json";

    static final String TRANSFORMER = "sentence_transformers.models.Transformer";
    static final String POOLING = "sentence_transformers.models.Pooling";
    static final String NORMALIZE = "sentence_transformers.models.Normalize";

    private static final Set<String> MODULE_KEYS = Set.of("idx", "name", "path", "type");
    private static final Set<String> SENTENCE_CONFIG_KEYS = Set.of("max_seq_length", "do_lower_case");
    private static final Set<String> POOLING_KEYS = Set.of(
            "word_embedding_dimension",
            "pooling_mode_cls_token",
            "pooling_mode_mean_tokens",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens",
            "pooling_mode_lasttoken",
            "include_prompt");
    /** Modules are a handful; a longer list is not a sentence-transformers file. */
    private static final int MAX_MODULES = 16;

    public SentenceModules {
        if (maxSeqLength < 1) {
            throw new IllegalArgumentException("max_seq_length must be positive, got " + maxSeqLength);
        }
        if (pooling == null) {
            throw new IllegalArgumentException("pooling must be given");
        }
    }

    /** Reads the modules of {@code dir} for a transformer of {@code hidden} channels and {@code maxPositions} positions. */
    static SentenceModules read(Path dir, int hidden, int maxPositions) throws ModelLoadException {
        int maxSeq = maxSequenceLength(dir, maxPositions);
        Path modulesFile = dir.resolve(MODULES_FILE);
        if (!ModelFiles.isPresent(dir, modulesFile)) {
            return new SentenceModules(maxSeq, Pooling.MEAN, false);
        }
        JsonNode modules = json(dir, modulesFile);
        if (!modules.isArray() || modules.isEmpty() || modules.size() > MAX_MODULES) {
            throw ModelLoadException.forFile(
                    modulesFile, "must be a list of 1 to " + MAX_MODULES + " modules, got " + kind(modules));
        }
        List<String> types = new ArrayList<>();
        Pooling pooling = null;
        for (int i = 0; i < modules.size(); i++) {
            JsonNode m = modules.get(i);
            String at = "[" + i + "]";
            try {
                requireOnly(m, at, MODULE_KEYS);
                String type = text(m, at, "type");
                String path = text(m, at, "path");
                types.add(type);
                switch (type) {
                    case TRANSFORMER -> {
                        if (i != 0 || !path.isEmpty()) {
                            throw new IllegalArgumentException(at + ".path '" + path + "': the Transformer must be"
                                    + " the first module, with its files in the directory itself (path \"\")");
                        }
                    }
                    case POOLING -> {
                        if (i != 1) {
                            throw new IllegalArgumentException(at + ": the Pooling module must come second");
                        }
                        pooling = pooling(dir, modulePath(dir, path, at), hidden);
                    }
                    case NORMALIZE -> {
                        if (i != 2 || i != modules.size() - 1) {
                            throw new IllegalArgumentException(at + ": the Normalize module must come third and last");
                        }
                    }
                    default ->
                        throw new IllegalArgumentException(at + ".type '" + type + "' is not supported (supported: "
                                + TRANSFORMER + ", " + POOLING + ", " + NORMALIZE + ")");
                }
            } catch (IllegalArgumentException e) {
                throw ModelLoadException.forFile(modulesFile, e.getMessage());
            }
        }
        if (pooling == null) {
            throw ModelLoadException.forFile(
                    modulesFile, "has no " + POOLING + " module: token embeddings alone are not a sentence embedding");
        }
        return new SentenceModules(maxSeq, pooling, types.contains(NORMALIZE));
    }

    /**
     * The modules of a decoder's directory (Qwen3-Embedding, bitnet-embedding: last-token pooling,
     * Normalize), or null without {@code modules.json}: a plain decoder, which keeps its own
     * embedding rules (mean over the text, no template suffix).
     */
    public static SentenceModules forDecoder(Path dir, QSparseConfig config) throws ModelLoadException {
        if (!ModelFiles.isPresent(dir, dir.resolve(MODULES_FILE))) {
            return null;
        }
        return read(dir, config.hiddenSize(), config.contextLength());
    }

    /**
     * The module configuration files in sub-directories ({@code 1_Pooling/config.json}) of a directory
     * whose modules {@link #read} accepted: what a copy of the model must carry beside its top-level
     * files.
     */
    static List<Path> moduleConfigs(Path dir) throws ModelLoadException {
        Path modulesFile = dir.resolve(MODULES_FILE);
        List<Path> out = new ArrayList<>();
        if (ModelFiles.isPresent(dir, modulesFile)) {
            for (JsonNode m : json(dir, modulesFile)) {
                String path = m.path("path").asText("");
                Path config = path.isEmpty() ? null : dir.resolve(path).resolve("config.json");
                if (config != null && ModelFiles.isPresent(dir, config)) {
                    out.add(config);
                }
            }
        }
        return out;
    }

    /**
     * The directories modules.json names (relative, inside {@code dir}), whether or not they hold a
     * config: a converted copy recreates them all (2_Normalize has no file, but sentence-transformers
     * opens the folder it names).
     */
    static List<Path> moduleDirectories(Path dir) throws ModelLoadException {
        Path modulesFile = dir.resolve(MODULES_FILE);
        List<Path> out = new ArrayList<>();
        if (ModelFiles.isPresent(dir, modulesFile)) {
            for (JsonNode m : json(dir, modulesFile)) {
                String path = m.path("path").asText("");
                Path relative = Path.of(path).normalize();
                if (!path.isEmpty() && !relative.isAbsolute() && !relative.startsWith("..")) {
                    out.add(relative);
                }
            }
        }
        return out;
    }

    /** sentence_bert_config.json's max_seq_length, at most max_position_embeddings. */
    private static int maxSequenceLength(Path dir, int maxPositions) throws ModelLoadException {
        Path file = dir.resolve(SENTENCE_CONFIG_FILE);
        if (!ModelFiles.isPresent(dir, file)) {
            return maxPositions;
        }
        JsonNode c = json(dir, file);
        try {
            requireOnly(c, "", SENTENCE_CONFIG_KEYS);
            // Java's and Python's lower-casing differ on some scripts: refused rather than approximated.
            if (ConfigReader.bool(c, "do_lower_case", false)) {
                throw new IllegalArgumentException("'do_lower_case' true is not supported (the tokenizer's own"
                        + " normalizer lower-cases BERT's uncased models)");
            }
            return ConfigReader.optionalInt(c, "max_seq_length", maxPositions, 1, maxPositions);
        } catch (IllegalArgumentException e) {
            throw ModelLoadException.forFile(
                    file,
                    e.getMessage() + (e.getMessage().contains("max_seq_length") ? " (max_position_embeddings)" : ""));
        }
    }

    /** The Pooling module's config.json: exactly one mode we implement. */
    private static Pooling pooling(Path dir, Path moduleDir, int hidden) throws ModelLoadException {
        Path file = moduleDir.resolve("config.json");
        ModelFiles.requireRegular(dir, file);
        JsonNode c = json(dir, file);
        try {
            requireOnly(c, "", POOLING_KEYS);
            int width = ConfigReader.optionalInt(c, "word_embedding_dimension", hidden, 1, ConfigReader.MAX_HIDDEN);
            if (width != hidden) {
                throw new IllegalArgumentException(
                        "'word_embedding_dimension' " + width + " differs from config.json's hidden_size " + hidden);
            }
            for (String unsupported :
                    new String[] {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"}) {
                if (ConfigReader.bool(c, unsupported, false)) {
                    throw new IllegalArgumentException("'" + unsupported + "' true is not supported (supported:"
                            + " pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens,"
                            + " pooling_mode_lasttoken)");
                }
            }
            List<Pooling> modes = new ArrayList<>();
            addIf(c, "pooling_mode_mean_tokens", Pooling.MEAN, modes);
            addIf(c, "pooling_mode_cls_token", Pooling.CLS, modes);
            addIf(c, "pooling_mode_max_tokens", Pooling.MAX, modes);
            addIf(c, "pooling_mode_lasttoken", Pooling.LAST, modes);
            if (modes.size() != 1) {
                throw new IllegalArgumentException(
                        modes.isEmpty()
                                ? "no pooling_mode_* key is true"
                                : "several pooling_mode_* keys are true " + modes
                                        + ": their concatenation is not supported, set exactly one");
            }
            // include_prompt only matters with prompts, which are never added here.
            ConfigReader.bool(c, "include_prompt", true);
            return modes.get(0);
        } catch (IllegalArgumentException e) {
            throw ModelLoadException.forFile(file, e.getMessage());
        }
    }

    private static void addIf(JsonNode c, String key, Pooling mode, List<Pooling> modes) {
        if (ConfigReader.bool(c, key, false)) {
            modes.add(mode);
        }
    }

    /** The module's directory; its config.json must then resolve inside the model (checked when read). */
    private static Path modulePath(Path dir, String path, String at) {
        if (path.isEmpty() || Path.of(path).isAbsolute()) {
            throw new IllegalArgumentException(at + ".path '" + path + "' is not a sub-directory of the model");
        }
        return dir.resolve(path);
    }

    private static JsonNode json(Path dir, Path file) throws ModelLoadException {
        ModelFiles.requireRegular(dir, file);
        return ModelFiles.parseJson(file, "", ModelFiles.readBounded(file, ModelFiles.MAX_CONFIG_BYTES));
    }

    private static void requireOnly(JsonNode node, String at, Set<String> known) {
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException(
                    (at.isEmpty() ? "" : at + ": ") + "must be a JSON object, got " + kind(node));
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!known.contains(key)) {
                throw new IllegalArgumentException("'" + at + (at.isEmpty() ? "" : ".") + key
                        + "' is not a key this reader knows (known: " + known + ")");
            }
        }
    }

    private static String text(JsonNode node, String at, String key) {
        JsonNode v = node.get(key);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("'" + at + "." + key + "' must be a string, got " + kind(v));
        }
        return v.textValue();
    }

    private static String kind(JsonNode v) {
        return v == null ? "nothing" : v.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }
}
