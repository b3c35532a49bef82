package dev.qsparse.flink;

import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
import java.io.Serializable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Objects;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.util.TimeUtils;

/**
 * The validated, serializable settings of one Q-Sparse operator, read from {@link QSparseOptions}.
 * Every bound is checked here, when the job is built, so that a bad setting fails the submission
 * instead of a running task.
 */
public final class QSparseSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The bounds the runtime's {@link GenerationParams} accepts. */
    static final double MAX_TEMPERATURE = 10.0;

    /**
     * Smallest accepted {@code qsparse.output.max-record-size}: a dead letter's fields other than
     * the payload take at most about 14 KiB (an id of {@value EventParser#MAX_ID_CHARS} chars, a
     * reason of {@value DeadLetter#MAX_REASON_CHARS}, a model name of {@value #MAX_MODEL_NAME_CHARS},
     * each char at most a 6-byte escape), so there is always room for it.
     */
    public static final int MIN_RECORD_BYTES = 16 * 1024;
    /** Largest accepted {@code qsparse.output.max-record-size}. */
    public static final int MAX_RECORD_BYTES = 256 * 1024 * 1024;
    /** Longest model name (it is written into every record). */
    public static final int MAX_MODEL_NAME_CHARS = 256;
    /**
     * Largest accepted {@code qsparse.batch.max-size}: far past where batching stops paying (the
     * benchmarks flatten out by 64), and small enough that the async capacity (2 x batch x threads)
     * and a batch's activations stay modest.
     */
    public static final int MAX_BATCH_SIZE = 4096;
    /** Most inference threads per parallel task ({@code qsparse.threads}). */
    public static final int MAX_THREADS = 256;
    /** Longest accepted {@code qsparse.batch.max-wait}. */
    public static final Duration MAX_BATCH_WAIT = Duration.ofMinutes(1);
    /** Shortest accepted {@code qsparse.async.timeout}: results are reported in whole milliseconds. */
    public static final Duration MIN_TIMEOUT = Duration.ofMillis(1);
    /** Longest accepted {@code qsparse.async.timeout}. */
    public static final Duration MAX_TIMEOUT = Duration.ofDays(1);
    /** Largest accepted {@code qsparse.input.max-chars} (code points). */
    public static final int MAX_INPUT_CHARS = 1 << 20;
    /** Largest accepted {@code qsparse.generate.max-new-tokens-limit}. */
    public static final int MAX_NEW_TOKENS_LIMIT = 1 << 20;
    /** Longest accepted {@code qsparse.generate.chat} template, in chars. */
    public static final int MAX_CHAT_TEMPLATE_CHARS = 4096;

    private final String modelPath;
    private final String modelName;
    private final Task defaultMode;
    private final int maxBatchSize;
    private final Duration maxWait;
    private final int threads;
    private final Duration timeout;
    private final boolean ordered;
    private final int maxNewTokens;
    private final int maxNewTokensLimit;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final long seed;
    private final ArrayList<String> stopStrings;
    private final String chat;
    private final ArrayList<String> chatStops;
    private final Pooling pooling;
    private final int inputMaxChars;
    private final InputOverflow inputOverflow;
    private final int maxRecordBytes;
    private final String modelCacheDir;
    private final String modelVersion;
    private final long modelCacheMaxBytes;

    private QSparseSettings(ReadableConfig c) {
        this.modelPath = c.getOptional(QSparseOptions.MODEL_PATH)
                .filter(p -> !p.isBlank())
                .orElseThrow(() -> new IllegalArgumentException(QSparseOptions.MODEL_PATH.key() + " is required"));
        ModelLocation.parse(modelPath, QSparseOptions.MODEL_PATH.key());
        this.modelCacheDir = c.getOptional(QSparseOptions.MODEL_CACHE_DIR)
                .filter(d -> !d.isBlank())
                .orElseGet(() -> Path.of(System.getProperty("java.io.tmpdir"), "qsparse-model-cache")
                        .toString());
        if (ModelLocation.parse(modelCacheDir, QSparseOptions.MODEL_CACHE_DIR.key())
                .isRemote()) {
            throw new IllegalArgumentException(
                    QSparseOptions.MODEL_CACHE_DIR.key() + " must be a local directory, got " + modelCacheDir);
        }
        this.modelVersion = c.getOptional(QSparseOptions.MODEL_VERSION)
                .filter(v -> !v.isBlank())
                .orElse(null);
        if (modelVersion != null && modelVersion.length() > ModelManifest.MAX_VERSION_CHARS) {
            throw new IllegalArgumentException(QSparseOptions.MODEL_VERSION.key() + " must be at most "
                    + ModelManifest.MAX_VERSION_CHARS + " characters, got " + modelVersion.length());
        }
        this.modelCacheMaxBytes = c.get(QSparseOptions.MODEL_CACHE_MAX_SIZE).getBytes();
        if (modelCacheMaxBytes < 1) {
            throw new IllegalArgumentException(QSparseOptions.MODEL_CACHE_MAX_SIZE.key() + " must be positive");
        }
        this.modelName = c.getOptional(QSparseOptions.MODEL_NAME)
                .filter(n -> !n.isBlank())
                .orElseGet(() -> ModelLocation.parse(modelPath, QSparseOptions.MODEL_PATH.key())
                        .lastSegment());
        if (modelName.length() > MAX_MODEL_NAME_CHARS) {
            throw new IllegalArgumentException(QSparseOptions.MODEL_NAME.key() + " must be at most "
                    + MAX_MODEL_NAME_CHARS + " characters, got " + modelName.length()
                    + " (set it explicitly when the directory name is longer)");
        }
        this.defaultMode = c.get(QSparseOptions.MODE);
        this.maxBatchSize =
                between(c.get(QSparseOptions.BATCH_MAX_SIZE), 1, MAX_BATCH_SIZE, QSparseOptions.BATCH_MAX_SIZE.key());
        this.maxWait = between(
                c.get(QSparseOptions.BATCH_MAX_WAIT),
                Duration.ZERO,
                MAX_BATCH_WAIT,
                QSparseOptions.BATCH_MAX_WAIT.key());
        this.threads = between(c.get(QSparseOptions.THREADS), 1, MAX_THREADS, QSparseOptions.THREADS.key());
        this.timeout = between(
                c.get(QSparseOptions.ASYNC_TIMEOUT), MIN_TIMEOUT, MAX_TIMEOUT, QSparseOptions.ASYNC_TIMEOUT.key());
        this.ordered = c.get(QSparseOptions.ASYNC_ORDERED);
        this.maxNewTokensLimit = between(
                c.get(QSparseOptions.GENERATE_MAX_NEW_TOKENS_LIMIT),
                1,
                MAX_NEW_TOKENS_LIMIT,
                QSparseOptions.GENERATE_MAX_NEW_TOKENS_LIMIT.key());
        this.maxNewTokens =
                atLeast(c.get(QSparseOptions.GENERATE_MAX_NEW_TOKENS), 1, QSparseOptions.GENERATE_MAX_NEW_TOKENS.key());
        if (maxNewTokens > maxNewTokensLimit) {
            throw new IllegalArgumentException(QSparseOptions.GENERATE_MAX_NEW_TOKENS.key() + " = " + maxNewTokens
                    + " exceeds " + QSparseOptions.GENERATE_MAX_NEW_TOKENS_LIMIT.key() + " = " + maxNewTokensLimit);
        }
        this.temperature = c.get(QSparseOptions.GENERATE_TEMPERATURE);
        this.topK = c.get(QSparseOptions.GENERATE_TOP_K);
        this.topP = c.get(QSparseOptions.GENERATE_TOP_P);
        this.seed = c.get(QSparseOptions.GENERATE_SEED);
        this.stopStrings = new ArrayList<>(c.get(QSparseOptions.GENERATE_STOP));
        // The bounds of an event's params.stop, so that a default is never something an event may not ask for.
        boundedList(
                stopStrings,
                EventParser.MAX_STOP_STRINGS,
                EventParser.MAX_STOP_CHARS,
                QSparseOptions.GENERATE_STOP.key());
        this.chat = c.getOptional(QSparseOptions.GENERATE_CHAT)
                .filter(t -> !t.isBlank())
                .orElse(null);
        if (chat != null && chat.length() > MAX_CHAT_TEMPLATE_CHARS) {
            throw new IllegalArgumentException(QSparseOptions.GENERATE_CHAT.key() + " must be at most "
                    + MAX_CHAT_TEMPLATE_CHARS + " characters, got " + chat.length());
        }
        this.chatStops = new ArrayList<>(c.get(QSparseOptions.GENERATE_CHAT_STOP));
        boundedList(
                chatStops,
                EventParser.MAX_STOP_STRINGS,
                EventParser.MAX_STOP_CHARS,
                QSparseOptions.GENERATE_CHAT_STOP.key());
        this.pooling = c.getOptional(QSparseOptions.EMBED_POOLING).orElse(null);
        this.inputMaxChars = between(
                c.get(QSparseOptions.INPUT_MAX_CHARS), 1, MAX_INPUT_CHARS, QSparseOptions.INPUT_MAX_CHARS.key());
        this.inputOverflow = c.get(QSparseOptions.INPUT_OVERFLOW);
        long recordBytes = c.get(QSparseOptions.OUTPUT_MAX_RECORD_SIZE).getBytes();
        if (recordBytes < MIN_RECORD_BYTES || recordBytes > MAX_RECORD_BYTES) {
            throw new IllegalArgumentException(QSparseOptions.OUTPUT_MAX_RECORD_SIZE.key() + " must be between "
                    + MIN_RECORD_BYTES + " and " + MAX_RECORD_BYTES + " bytes, got " + recordBytes);
        }
        this.maxRecordBytes = (int) recordBytes;
        try {
            defaultGeneration();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("qsparse.generate.* defaults: " + e.getMessage(), e);
        }
    }

    /** Reads and validates the options; throws {@link IllegalArgumentException} naming a bad option. */
    public static QSparseSettings from(ReadableConfig config) {
        return new QSparseSettings(Objects.requireNonNull(config, "config"));
    }

    private static int atLeast(int value, int min, String key) {
        if (value < min) {
            throw new IllegalArgumentException(key + " must be >= " + min + ", got " + value);
        }
        return value;
    }

    private static void boundedList(java.util.List<String> values, int maxCount, int maxChars, String key) {
        if (values.size() > maxCount) {
            throw new IllegalArgumentException(
                    key + " must have at most " + maxCount + " entries, got " + values.size());
        }
        for (String v : values) {
            if (v.length() > maxChars) {
                throw new IllegalArgumentException(
                        key + " entries must be at most " + maxChars + " characters, got one of " + v.length());
            }
        }
    }

    private static int between(int value, int min, int max, String key) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(key + " must be between " + min + " and " + max + ", got " + value);
        }
        return value;
    }

    /**
     * {@code value} within [min, max]. Compared exactly (no conversion to a unit that could
     * overflow); the message gives both bounds and the value in Flink's duration syntax.
     */
    private static Duration between(Duration value, Duration min, Duration max, String key) {
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(key + " must be between " + TimeUtils.formatWithHighestUnit(min)
                    + " and " + TimeUtils.formatWithHighestUnit(max) + ", got "
                    + TimeUtils.formatWithHighestUnit(value));
        }
        return value;
    }

    /** Where the model is: local (mapped in place) or remote (copied into the cache first). */
    public ModelLocation modelLocation() {
        return ModelLocation.parse(modelPath, QSparseOptions.MODEL_PATH.key());
    }

    /** {@code qsparse.model.version}, or null when not set. */
    public String modelVersion() {
        return modelVersion;
    }

    /** The task manager's cache of remote models, as configured. */
    public ModelCache modelCache() {
        return new ModelCache(Path.of(modelCacheDir), modelCacheMaxBytes);
    }

    public String modelPath() {
        return modelPath;
    }

    public String modelName() {
        return modelName;
    }

    public Task defaultMode() {
        return defaultMode;
    }

    public int maxBatchSize() {
        return maxBatchSize;
    }

    public Duration maxWait() {
        return maxWait;
    }

    public int threads() {
        return threads;
    }

    public Duration timeout() {
        return timeout;
    }

    public boolean ordered() {
        return ordered;
    }

    /** Capacity of the async operator: room for one batch running and one forming, per thread. */
    public int asyncCapacity() {
        return 2 * maxBatchSize * threads;
    }

    public int maxNewTokensLimit() {
        return maxNewTokensLimit;
    }

    /** The configured pooling, or null: each model's own. */
    public Pooling pooling() {
        return pooling;
    }

    public int inputMaxChars() {
        return inputMaxChars;
    }

    public InputOverflow inputOverflow() {
        return inputOverflow;
    }

    /** Largest output record (enriched or dead letter), in UTF-8 bytes of its JSON. */
    public int maxRecordBytes() {
        return maxRecordBytes;
    }

    /** The generation parameters of an event without "params". */
    public GenerationParams defaultGeneration() {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, seed, stopStrings, true, promptTemplate());
    }

    /** The qsparse.generate.chat template, or null (the event text is the whole prompt). */
    private PromptTemplate promptTemplate() {
        boolean custom = chat != null && chat.contains(PromptTemplate.TEXT);
        if (!chatStops.isEmpty() && !custom) {
            throw new IllegalArgumentException(QSparseOptions.GENERATE_CHAT_STOP.key() + " goes with a "
                    + QSparseOptions.GENERATE_CHAT.key() + " template string containing " + PromptTemplate.TEXT);
        }
        if (chat == null) {
            return null;
        }
        try {
            return custom ? PromptTemplate.parse(chat, chatStops) : PromptTemplate.named(chat);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(QSparseOptions.GENERATE_CHAT.key() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "QSparseSettings{model=" + modelPath + " (" + modelName + "), mode=" + defaultMode.wireName()
                + ", maxBatchSize=" + maxBatchSize + ", maxWait=" + maxWait + ", threads=" + threads
                + ", timeout=" + timeout + ", ordered=" + ordered + ", generation=" + defaultGeneration()
                + ", maxNewTokensLimit=" + maxNewTokensLimit + ", pooling="
                + (pooling == null ? "model's own" : pooling)
                + ", inputMaxChars=" + inputMaxChars + ", inputOverflow=" + inputOverflow
                + ", maxRecordBytes=" + maxRecordBytes + "}";
    }
}
