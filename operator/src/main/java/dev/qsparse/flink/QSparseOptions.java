package dev.qsparse.flink;

import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

/**
 * Every setting of the Q-Sparse operator as a typed Flink {@link ConfigOption}. Pass them in a
 * Flink {@code Configuration} (for example from command-line arguments through
 * {@code ParameterTool}/{@code Configuration.fromMap}) to
 * {@link QSparseEnrichment.Builder#configuration}, or use the builder's typed setters. Enum values
 * are read case-insensitively ({@code embed} and {@code EMBED} both work).
 */
public final class QSparseOptions {

    private QSparseOptions() {}

    public static final ConfigOption<String> MODEL_PATH = ConfigOptions.key("qsparse.model.path")
            .stringType()
            .noDefaultValue()
            .withDescription("Required. The model directory (config.json, model.safetensors, tokenizer.json):"
                    + " a local path (or file:// URI), readable at the same path on every task manager and"
                    + " memory-mapped in place, or a URI of any scheme Flink has a file system for"
                    + " (s3://bucket/models/m, hdfs://..., credentials through Flink's file system"
                    + " configuration), copied once per task manager into qsparse.model.cache.dir. Tasks in"
                    + " one task manager share one memory-mapped copy of its weights.");

    public static final ConfigOption<String> MODEL_VERSION = ConfigOptions.key("qsparse.model.version")
            .stringType()
            .noDefaultValue()
            .withDescription("The model's version, written as model_version into every enriched record (at"
                    + " most 128 characters). Default: the \"version\" of the model's qsparse-manifest.json,"
                    + " else the last segment of qsparse.model.path (s3://bucket/embedder/v3 gives v3).");

    public static final ConfigOption<String> MODEL_CACHE_DIR = ConfigOptions.key("qsparse.model.cache.dir")
            .stringType()
            .noDefaultValue()
            .withDescription("Local directory holding the copies of remote models (one per task manager)."
                    + " Default: qsparse-model-cache under the JVM's java.io.tmpdir. A copy is checked against"
                    + " the model's qsparse-manifest.json (size and SHA-256 per file) when it has one, and"
                    + " renamed into place only when complete.");

    public static final ConfigOption<MemorySize> MODEL_CACHE_MAX_SIZE = ConfigOptions.key(
                    "qsparse.model.cache.max-size")
            .memoryType()
            .defaultValue(MemorySize.parse("16 gb"))
            .withDescription("Most bytes of remote models kept in qsparse.model.cache.dir. Least recently used"
                    + " models are deleted to make room (never one loaded in the task manager); a model that"
                    + " does not fit fails the task at open naming this option.");

    public static final ConfigOption<String> MODEL_NAME = ConfigOptions.key("qsparse.model.name")
            .stringType()
            .noDefaultValue()
            .withDescription("Name of the model in every output record. Default: the last component of"
                    + " qsparse.model.path.");

    public static final ConfigOption<Task> MODE = ConfigOptions.key("qsparse.mode")
            .enumType(Task.class)
            .defaultValue(Task.EMBED)
            .withDescription("What the job does with an event that has no \"mode\" field: embed, generate"
                    + " or score. An event's own \"mode\" overrides it. An encoder (model_type bert) only"
                    + " embeds: generate or score here fails the task at open, and an event asking for"
                    + " them becomes a dead letter.");

    public static final ConfigOption<Integer> BATCH_MAX_SIZE = ConfigOptions.key("qsparse.batch.max-size")
            .intType()
            .defaultValue(16)
            .withDescription("Largest micro-batch handed to the model (1 to 4096). The async operator's"
                    + " capacity is 2 x this x qsparse.threads, so a batch can form while one runs.");

    public static final ConfigOption<Duration> BATCH_MAX_WAIT = ConfigOptions.key("qsparse.batch.max-wait")
            .durationType()
            .defaultValue(Duration.ofMillis(10))
            .withDescription("A micro-batch is closed at the latest this long after its first event arrived,"
                    + " even if it is not full (0 to 1 min; 0 = never wait for more events).");

    public static final ConfigOption<Integer> THREADS = ConfigOptions.key("qsparse.threads")
            .intType()
            .defaultValue(1)
            .withDescription("Inference threads per parallel task, each with its own inference session"
                    + " (1 to 256). The threads are daemons named after the task, started in open() and"
                    + " stopped in close().");

    public static final ConfigOption<Duration> ASYNC_TIMEOUT = ConfigOptions.key("qsparse.async.timeout")
            .durationType()
            .defaultValue(Duration.ofSeconds(60))
            .withDescription("An event without a result this long after it reached the operator becomes"
                    + " a dead letter with reason \"timeout\" (it never fails the job). Between 1 ms and 1 d.");

    public static final ConfigOption<Boolean> ASYNC_ORDERED = ConfigOptions.key("qsparse.async.ordered")
            .booleanType()
            .defaultValue(true)
            .withDescription("Emit results in input order (true) or as soon as they are ready (false)."
                    + " Both are exactly-once; unordered only helps with qsparse.threads > 1.");

    public static final ConfigOption<Integer> GENERATE_MAX_NEW_TOKENS = ConfigOptions.key(
                    "qsparse.generate.max-new-tokens")
            .intType()
            .defaultValue(GenerationParams.DEFAULT_MAX_NEW_TOKENS)
            .withDescription("Default number of tokens to generate at most (>= 1, <="
                    + " qsparse.generate.max-new-tokens-limit).");

    public static final ConfigOption<Integer> GENERATE_MAX_NEW_TOKENS_LIMIT = ConfigOptions.key(
                    "qsparse.generate.max-new-tokens-limit")
            .intType()
            .defaultValue(256)
            .withDescription("Upper bound of an event's params.max_new_tokens (1 to 1048576); a larger"
                    + " value makes the event a dead letter.");

    public static final ConfigOption<Double> GENERATE_TEMPERATURE = ConfigOptions.key("qsparse.generate.temperature")
            .doubleType()
            .defaultValue(0.0)
            .withDescription("Default sampling temperature: 0 = greedy decoding, otherwise in [1e-4, 10] (a smaller"
                    + " non-zero value is rejected: use 0).");

    public static final ConfigOption<Integer> GENERATE_TOP_K = ConfigOptions.key("qsparse.generate.top-k")
            .intType()
            .defaultValue(GenerationParams.defaults().topK())
            .withDescription("Default top-k (>= 0); 0 = no limit.");

    public static final ConfigOption<Double> GENERATE_TOP_P = ConfigOptions.key("qsparse.generate.top-p")
            .doubleType()
            .defaultValue(GenerationParams.defaults().topP())
            .withDescription("Default nucleus mass in (0, 1]; 1 = no limit.");

    public static final ConfigOption<Long> GENERATE_SEED = ConfigOptions.key("qsparse.generate.seed")
            .longType()
            .defaultValue(GenerationParams.DEFAULT_SEED)
            .withDescription("Default sampling seed. The same seed, text and model give the same output,"
                    + " so an event replayed after a restore is enriched identically.");

    public static final ConfigOption<List<String>> GENERATE_STOP = ConfigOptions.key("qsparse.generate.stop")
            .stringType()
            .asList()
            .defaultValues()
            .withDescription("Default stop strings (separated by ';'; at most 8, each at most 64 characters)."
                    + " Generation ends before the first one that appears.");

    public static final ConfigOption<String> GENERATE_CHAT = ConfigOptions.key("qsparse.generate.chat")
            .stringType()
            .noDefaultValue()
            .withDescription("Chat-style prompt around each generate event's text: llama3, bitnet, chatml, or a"
                    + " template with {text} where the text goes. The template's special tokens become control"
                    + " tokens; the event text stays literal (a special token written in it is text).");

    public static final ConfigOption<List<String>> GENERATE_CHAT_STOP = ConfigOptions.key("qsparse.generate.chat-stop")
            .stringType()
            .asList()
            .defaultValues()
            .withDescription(
                    "End-of-turn tokens (separated by ';'; at most 8 of 64 characters) that end generation, for a"
                            + " qsparse.generate.chat template string; the built-in templates bring their own.");

    /**
     * No default value on purpose: unset means each model's own pooling, so that an encoder's
     * 1_Pooling (CLS for bge, mean for MiniLM) is never overridden by a default nobody chose.
     */
    public static final ConfigOption<Pooling> EMBED_POOLING = ConfigOptions.key("qsparse.embed.pooling")
            .enumType(Pooling.class)
            .noDefaultValue()
            .withDescription("Pooling of embeddings when an event does not ask for one: mean, last, cls or max."
                    + " Default: the model's own (an encoder's sentence-transformers Pooling module, mean for a"
                    + " decoder); set, it overrides the model's.");

    public static final ConfigOption<Integer> INPUT_MAX_CHARS = ConfigOptions.key("qsparse.input.max-chars")
            .intType()
            .defaultValue(2000)
            .withDescription("Longest accepted \"text\", in Unicode code points (1 to 1048576). Longer texts are"
                    + " handled by qsparse.input.overflow.");

    public static final ConfigOption<InputOverflow> INPUT_OVERFLOW = ConfigOptions.key("qsparse.input.overflow")
            .enumType(InputOverflow.class)
            .defaultValue(InputOverflow.TRUNCATE)
            .withDescription("What happens to a text over qsparse.input.max-chars: TRUNCATE (keep the"
                    + " first max-chars code points and set text_truncated in the output) or REJECT"
                    + " (dead letter).");

    public static final ConfigOption<MemorySize> OUTPUT_MAX_RECORD_SIZE = ConfigOptions.key(
                    "qsparse.output.max-record-size")
            .memoryType()
            .defaultValue(MemorySize.parse("900kb"))
            .withDescription("Largest output record, measured as the UTF-8 bytes of its JSON (between"
                    + " 16 kb and 256 mb; default 900 kb = 921,600 bytes, below Kafka's default"
                    + " max.request.size and message.max.bytes of 1 MiB with room for the key and the"
                    + " record headers). A dead letter over it keeps only a prefix of the payload"
                    + " (payload_truncated, with payload_bytes and payload_sha256 of the original); an"
                    + " enriched record over it (a huge generation or embedding) becomes a dead letter"
                    + " with stage \"output\". The sink's own limit must be above it: the Kafka job"
                    + " checks that at start.");

    /** Every option above. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                MODEL_PATH,
                MODEL_NAME,
                MODEL_VERSION,
                MODEL_CACHE_DIR,
                MODEL_CACHE_MAX_SIZE,
                MODE,
                BATCH_MAX_SIZE,
                BATCH_MAX_WAIT,
                THREADS,
                ASYNC_TIMEOUT,
                ASYNC_ORDERED,
                GENERATE_MAX_NEW_TOKENS,
                GENERATE_MAX_NEW_TOKENS_LIMIT,
                GENERATE_TEMPERATURE,
                GENERATE_TOP_K,
                GENERATE_TOP_P,
                GENERATE_SEED,
                GENERATE_STOP,
                GENERATE_CHAT,
                GENERATE_CHAT_STOP,
                EMBED_POOLING,
                INPUT_MAX_CHARS,
                INPUT_OVERFLOW,
                OUTPUT_MAX_RECORD_SIZE);
    }
}
