package dev.qsparse.sql;

import dev.qsparse.flink.InputOverflow;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.runtime.inference.Pooling;
import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * The {@code WITH} options of {@code CREATE MODEL ... WITH ('provider' = 'qsparse', ...)}. Each one
 * stands for one operator option of {@link QSparseOptions} (its default is that option's default),
 * so SQL and DataStream jobs are configured, bounded and validated the same way.
 */
public final class QSparseModelOptions {

    private QSparseModelOptions() {}

    public static final ConfigOption<String> MODEL_PATH = ConfigOptions.key("model-path")
            .stringType()
            .noDefaultValue()
            .withDescription("Required. The model directory (config.json, model.safetensors, tokenizer.json):"
                    + " a local path readable at the same path on every task manager, or a URI of any file"
                    + " system Flink has (s3://bucket/models/m, hdfs://...), copied once per task manager into"
                    + " model.cache.dir; tasks in one task manager share one memory-mapped copy of its weights.");

    public static final ConfigOption<String> MODEL_VERSION = ConfigOptions.key("model-version")
            .stringType()
            .noDefaultValue()
            .withDescription("The model's version in the optional model_version column (at most 128 characters)."
                    + " Default: the version in the model's qsparse-manifest.json, else the last segment of"
                    + " model-path.");

    public static final ConfigOption<String> MODEL_CACHE_DIR = ConfigOptions.key("model.cache.dir")
            .stringType()
            .noDefaultValue()
            .withDescription("Local directory of the task manager's copies of remote models. Default:"
                    + " qsparse-model-cache under java.io.tmpdir (as the operator's qsparse.model.cache.dir).");

    public static final ConfigOption<org.apache.flink.configuration.MemorySize> MODEL_CACHE_MAX_SIZE =
            ConfigOptions.key("model.cache.max-size")
                    .memoryType()
                    .defaultValue(QSparseOptions.MODEL_CACHE_MAX_SIZE.defaultValue())
                    .withDescription("Most bytes of remote models kept in model.cache.dir, least recently used"
                            + " evicted first (default 16 gb).");

    public static final ConfigOption<String> TASK = ConfigOptions.key("task")
            .stringType()
            .noDefaultValue()
            .withDescription("Required. embed (output ARRAY<FLOAT>), generate (output STRING) or score"
                    + " (output DOUBLE: the text's log-probability); Flink's task names embedding and"
                    + " text_generation are accepted for embed and generate.");

    public static final ConfigOption<String> MODEL_NAME = ConfigOptions.key("model-name")
            .stringType()
            .noDefaultValue()
            .withDescription("Name of the model in metrics and errors. Default: the last component of model-path.");

    public static final ConfigOption<Integer> BATCH_MAX_SIZE = ConfigOptions.key("batch.max-size")
            .intType()
            .defaultValue(QSparseOptions.BATCH_MAX_SIZE.defaultValue())
            .withDescription("Largest micro-batch handed to the model (1 to 4096). ML_PREDICT's"
                    + " 'max-concurrent-operations' (else table.exec.async-ml-predict.max-concurrent-operations,"
                    + " default 10) bounds the rows in flight: set it to at least 2 x batch.max-size x threads."
                    + " Below batch.max-size, batches are capped at it; below 2 x batch.max-size x threads, a"
                    + " warning is logged when the statement is planned.");

    public static final ConfigOption<Duration> BATCH_MAX_WAIT = ConfigOptions.key("batch.max-wait")
            .durationType()
            .defaultValue(QSparseOptions.BATCH_MAX_WAIT.defaultValue())
            .withDescription("A micro-batch is closed at the latest this long after its first row (0 to 1 min).");

    public static final ConfigOption<Integer> THREADS = ConfigOptions.key("threads")
            .intType()
            .defaultValue(QSparseOptions.THREADS.defaultValue())
            .withDescription("Inference threads per parallel task, each with its own session (1 to 256).");

    public static final ConfigOption<Duration> ROW_TIMEOUT = ConfigOptions.key("row.timeout")
            .durationType()
            .defaultValue(QSparseOptions.ASYNC_TIMEOUT.defaultValue())
            .withDescription("Async only: a row without a result this long after it reached the predict"
                    + " function comes out with null results and error 'timeout: ...'; the job goes on."
                    + " Between 1 ms and 1 d; keep it below ML_PREDICT's 'timeout' (default 3 min), which fails"
                    + " the task.");

    public static final ConfigOption<Integer> GENERATE_MAX_NEW_TOKENS = ConfigOptions.key("generate.max-new-tokens")
            .intType()
            .defaultValue(QSparseOptions.GENERATE_MAX_NEW_TOKENS.defaultValue())
            .withFallbackKeys("max-tokens")
            .withDescription("Tokens to generate at most (>= 1, <= "
                    + QSparseOptions.GENERATE_MAX_NEW_TOKENS_LIMIT.defaultValue() + "). Also read as max-tokens,"
                    + " the name of Flink's OpenAI provider.");

    public static final ConfigOption<Double> GENERATE_TEMPERATURE = ConfigOptions.key("generate.temperature")
            .doubleType()
            .defaultValue(QSparseOptions.GENERATE_TEMPERATURE.defaultValue())
            .withFallbackKeys("temperature")
            .withDescription("Sampling temperature: 0 = greedy, otherwise in [1e-4, 10]. Also read as"
                    + " temperature (Flink's OpenAI provider).");

    public static final ConfigOption<Integer> GENERATE_TOP_K = ConfigOptions.key("generate.top-k")
            .intType()
            .defaultValue(QSparseOptions.GENERATE_TOP_K.defaultValue())
            .withDescription("Top-k (>= 0); 0 = no limit.");

    public static final ConfigOption<Double> GENERATE_TOP_P = ConfigOptions.key("generate.top-p")
            .doubleType()
            .defaultValue(QSparseOptions.GENERATE_TOP_P.defaultValue())
            .withFallbackKeys("top-p")
            .withDescription("Nucleus mass in (0, 1]; 1 = no limit. Also read as top-p (Flink's OpenAI provider).");

    public static final ConfigOption<Long> GENERATE_SEED = ConfigOptions.key("generate.seed")
            .longType()
            .defaultValue(QSparseOptions.GENERATE_SEED.defaultValue())
            .withFallbackKeys("seed")
            .withDescription("Sampling seed: the same seed, text and model give the same output, so a row"
                    + " replayed after a restore gets the same result. Also read as seed (Flink's OpenAI"
                    + " provider).");

    public static final ConfigOption<List<String>> GENERATE_STOP = ConfigOptions.key("generate.stop")
            .stringType()
            .asList()
            .defaultValues()
            .withDescription("Stop strings (separated by ';'; at most 8, each at most 64 characters);"
                    + " generation ends before the first one.");

    public static final ConfigOption<String> GENERATE_CHAT = ConfigOptions.key("generate.chat")
            .stringType()
            .noDefaultValue()
            .withDescription("Chat-style prompt around each text: llama3, bitnet, chatml, or a template with"
                    + " {text} where the text goes; the row's text stays literal.");

    public static final ConfigOption<List<String>> GENERATE_CHAT_STOP = ConfigOptions.key("generate.chat-stop")
            .stringType()
            .asList()
            .defaultValues()
            .withDescription("End-of-turn tokens (separated by ';'; at most 8 of 64 characters) for a"
                    + " generate.chat template string (at most 4096 characters).");

    public static final ConfigOption<Pooling> EMBED_POOLING = ConfigOptions.key("embed.pooling")
            .enumType(Pooling.class)
            .noDefaultValue()
            .withDescription("Pooling of embeddings: mean, last, cls or max. Default: the model's own (an"
                    + " encoder's sentence-transformers Pooling module, mean for a decoder); set, it overrides it.");

    public static final ConfigOption<Integer> INPUT_MAX_CHARS = ConfigOptions.key("input.max-chars")
            .intType()
            .defaultValue(QSparseOptions.INPUT_MAX_CHARS.defaultValue())
            .withDescription(
                    "Longest accepted text, in code points (1 to 1048576); longer texts follow input.overflow.");

    public static final ConfigOption<InputOverflow> INPUT_OVERFLOW = ConfigOptions.key("input.overflow")
            .enumType(InputOverflow.class)
            .defaultValue(QSparseOptions.INPUT_OVERFLOW.defaultValue())
            .withDescription("truncate (cut to input.max-chars code points) or reject (the row gets a null"
                    + " result and, if the output has one, an error column).");

    /**
     * The options that also answer to the name Flink's own model providers (flink-model-openai,
     * Flink 2.2) give an option of the same meaning: each one's fallback key. Setting both names
     * to different values is refused, naming both. Not {@code stop}: Flink's is one
     * comma-separated string, {@link #GENERATE_STOP} is separated by ';'.
     */
    public static final List<ConfigOption<?>> WITH_FLINK_NAMES =
            List.of(GENERATE_MAX_NEW_TOKENS, GENERATE_TEMPERATURE, GENERATE_TOP_P, GENERATE_SEED);

    public static final ConfigOption<Boolean> CHECK_MODEL_PATH = ConfigOptions.key("check-model-path")
            .booleanType()
            .defaultValue(true)
            .withDescription("Fail the query at planning when a local model-path is not a model directory"
                    + " where it is planned (set false when only the task managers see it). A remote"
                    + " model-path is checked when the planner has a file system for its scheme and can"
                    + " reach it; otherwise only a warning is logged and the task managers fetch it.");
}
