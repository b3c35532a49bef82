package dev.qsparse.flink;

import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.inference.Task;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.BroadcastStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * Adds Q-Sparse enrichment to a job:
 * <pre>{@code
 * QSparseEnrichment.Streams out = QSparseEnrichment.builder()
 *         .configuration(config)               // any qsparse.* options, e.g. from the command line
 *         .modelPath("/models/qsparse-demo")
 *         .mode(Task.EMBED)
 *         .maxBatchSize(16)
 *         .maxWait(Duration.ofMillis(10))
 *         .build()
 *         .apply(kafkaValues);                 // DataStream<byte[]>
 * out.enriched();                              // DataStream<EnrichedEvent>
 * out.deadLetters();                           // DataStream<DeadLetter>
 * }</pre>
 * {@link #apply} uses the micro-batching {@link QSparseAsyncFunction} in an async operator (ordered
 * by default) followed by a {@link DeadLetterRouter}; {@link #applyOneAtATime} uses the simple
 * {@link QSparseMapFunction}. {@link #apply(DataStream, DataStream)} adds a model control stream
 * whose records switch the model version while the job runs ({@link ModelVersionTagger} before the
 * async operator). Every operator gets a stable uid ({@code <uidPrefix>-enrich},
 * {@code <uidPrefix>-route}, {@code <uidPrefix>-model-version}) so that savepoints survive job
 * changes.
 */
public final class QSparseEnrichment {

    /** The type of the raw events: what a Kafka value deserializer gives. */
    public static final TypeInformation<byte[]> BYTES = PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;

    public static final TypeInformation<QSparseResult> RESULT = TypeInformation.of(QSparseResult.class);
    public static final TypeInformation<EnrichedEvent> ENRICHED = TypeInformation.of(EnrichedEvent.class);
    public static final TypeInformation<DeadLetter> DEAD_LETTER = TypeInformation.of(DeadLetter.class);
    public static final TypeInformation<VersionedEvent> VERSIONED = TypeInformation.of(VersionedEvent.class);

    private final QSparseSettings settings;
    private final String uidPrefix;

    private QSparseEnrichment(QSparseSettings settings, String uidPrefix) {
        this.settings = settings;
        this.uidPrefix = uidPrefix;
    }

    public static Builder builder() {
        return new Builder();
    }

    public QSparseSettings settings() {
        return settings;
    }

    /** A new micro-batching function with these settings (for use with {@link AsyncDataStream}). */
    public QSparseAsyncFunction asyncFunction() {
        return new QSparseAsyncFunction(settings);
    }

    /** A new one-event-at-a-time function with these settings. */
    public QSparseMapFunction mapFunction() {
        return new QSparseMapFunction(settings);
    }

    /** Micro-batched enrichment of raw events (the form to deploy). */
    public Streams apply(DataStream<byte[]> events) {
        DataStream<QSparseResult> results = settings.ordered()
                ? AsyncDataStream.orderedWait(
                        events,
                        asyncFunction(),
                        settings.timeout().toMillis(),
                        TimeUnit.MILLISECONDS,
                        settings.asyncCapacity())
                : AsyncDataStream.unorderedWait(
                        events,
                        asyncFunction(),
                        settings.timeout().toMillis(),
                        TimeUnit.MILLISECONDS,
                        settings.asyncCapacity());
        SingleOutputStreamOperator<QSparseResult> enrich = ((SingleOutputStreamOperator<QSparseResult>) results)
                .returns(RESULT)
                .name("qsparse-enrich (" + settings.defaultMode().wireName() + ", " + settings.modelName() + ")")
                .uid(uidPrefix + "-enrich");
        return route(enrich);
    }

    /**
     * Micro-batched enrichment whose model version can be switched while the job runs: each record
     * of {@code modelSwitches} (the model control topic's values, see {@link ModelSwitch}) names a
     * new version, which is loaded beside the serving one, checked, and takes effect for the events
     * after the next checkpoint barrier ({@link ModelVersionTagger}). Refused switches are dead
     * letters with stage {@value DeadLetter#STAGE_MODEL_SWITCH} in {@link Streams#deadLetters}.
     */
    public Streams apply(DataStream<byte[]> events, DataStream<byte[]> modelSwitches) {
        BroadcastStream<byte[]> control = modelSwitches.broadcast(ModelVersionTagger.STATE);
        SingleOutputStreamOperator<VersionedEvent> tagged = events.connect(control)
                .process(new ModelVersionTagger(settings))
                .returns(VERSIONED)
                .name("qsparse-model-version")
                .uid(uidPrefix + "-model-version");
        VersionedAsyncFunction function = new VersionedAsyncFunction(settings);
        DataStream<QSparseResult> results = settings.ordered()
                ? AsyncDataStream.orderedWait(
                        tagged,
                        function,
                        settings.timeout().toMillis(),
                        TimeUnit.MILLISECONDS,
                        settings.asyncCapacity())
                : AsyncDataStream.unorderedWait(
                        tagged,
                        function,
                        settings.timeout().toMillis(),
                        TimeUnit.MILLISECONDS,
                        settings.asyncCapacity());
        SingleOutputStreamOperator<QSparseResult> enrich = ((SingleOutputStreamOperator<QSparseResult>) results)
                .returns(RESULT)
                .name("qsparse-enrich (" + settings.defaultMode().wireName() + ", switchable)")
                .uid(uidPrefix + "-enrich");
        Streams routed = route(enrich);
        return new Streams(
                settings,
                results,
                routed.enriched(),
                routed.deadLetters().union(tagged.getSideOutput(ModelVersionTagger.REFUSED)));
    }

    /** Micro-batched enrichment of string events (encoded as UTF-8). */
    public Streams applyToStrings(DataStream<String> events) {
        return apply(events.map(s -> s.getBytes(StandardCharsets.UTF_8))
                .returns(BYTES)
                .name("qsparse-utf8")
                .uid(uidPrefix + "-utf8"));
    }

    /** Enrichment one event at a time, without batching. */
    public Streams applyOneAtATime(DataStream<byte[]> events) {
        SingleOutputStreamOperator<QSparseResult> enrich = events.map(mapFunction())
                .returns(RESULT)
                .name("qsparse-map (" + settings.defaultMode().wireName() + ", " + settings.modelName() + ")")
                .uid(uidPrefix + "-enrich");
        return route(enrich);
    }

    private Streams route(SingleOutputStreamOperator<QSparseResult> results) {
        SingleOutputStreamOperator<EnrichedEvent> enriched = results.process(new DeadLetterRouter())
                .returns(ENRICHED)
                .name("qsparse-route")
                .uid(uidPrefix + "-route");
        return new Streams(settings, results, enriched, enriched.getSideOutput(DeadLetterRouter.DEAD_LETTERS));
    }

    /** The outputs of an enrichment. */
    public static final class Streams {
        private final QSparseSettings settings;
        private final DataStream<QSparseResult> results;
        private final SingleOutputStreamOperator<EnrichedEvent> enriched;
        private final DataStream<DeadLetter> deadLetters;

        Streams(
                QSparseSettings settings,
                DataStream<QSparseResult> results,
                SingleOutputStreamOperator<EnrichedEvent> enriched,
                DataStream<DeadLetter> deadLetters) {
            this.settings = settings;
            this.results = results;
            this.enriched = enriched;
            this.deadLetters = deadLetters;
        }

        /** Events the model enriched. */
        public SingleOutputStreamOperator<EnrichedEvent> enriched() {
            return enriched;
        }

        /** Events it could not, with the original payload and the reason. */
        public DataStream<DeadLetter> deadLetters() {
            return deadLetters;
        }

        /** The settings of the operator that made these streams. */
        public QSparseSettings settings() {
            return settings;
        }

        /** Both, before routing. */
        public DataStream<QSparseResult> results() {
            return results;
        }
    }

    /**
     * Collects {@link QSparseOptions}: first from a {@link ReadableConfig}, then from typed setters
     * (a setter called after {@link #configuration} wins). {@link #build} validates.
     */
    public static final class Builder {
        private final Configuration config = new Configuration();
        private String uidPrefix = "qsparse";

        private Builder() {}

        /** Copies every {@code qsparse.*} option present in {@code source}. */
        public Builder configuration(ReadableConfig source) {
            for (ConfigOption<?> option : QSparseOptions.all()) {
                copy(source, option);
            }
            return this;
        }

        private <T> void copy(ReadableConfig source, ConfigOption<T> option) {
            source.getOptional(option).ifPresent(v -> config.set(option, v));
        }

        public Builder modelPath(String path) {
            config.set(QSparseOptions.MODEL_PATH, Objects.requireNonNull(path, "path"));
            return this;
        }

        public Builder modelName(String name) {
            config.set(QSparseOptions.MODEL_NAME, Objects.requireNonNull(name, "name"));
            return this;
        }

        public Builder mode(Task mode) {
            config.set(QSparseOptions.MODE, Objects.requireNonNull(mode, "mode"));
            return this;
        }

        public Builder maxBatchSize(int size) {
            config.set(QSparseOptions.BATCH_MAX_SIZE, size);
            return this;
        }

        public Builder maxWait(Duration wait) {
            config.set(QSparseOptions.BATCH_MAX_WAIT, Objects.requireNonNull(wait, "wait"));
            return this;
        }

        public Builder threads(int threads) {
            config.set(QSparseOptions.THREADS, threads);
            return this;
        }

        public Builder timeout(Duration timeout) {
            config.set(QSparseOptions.ASYNC_TIMEOUT, Objects.requireNonNull(timeout, "timeout"));
            return this;
        }

        public Builder ordered(boolean ordered) {
            config.set(QSparseOptions.ASYNC_ORDERED, ordered);
            return this;
        }

        public Builder maxNewTokens(int n) {
            config.set(QSparseOptions.GENERATE_MAX_NEW_TOKENS, n);
            return this;
        }

        public Builder maxNewTokensLimit(int n) {
            config.set(QSparseOptions.GENERATE_MAX_NEW_TOKENS_LIMIT, n);
            return this;
        }

        public Builder temperature(double t) {
            config.set(QSparseOptions.GENERATE_TEMPERATURE, t);
            return this;
        }

        public Builder topK(int k) {
            config.set(QSparseOptions.GENERATE_TOP_K, k);
            return this;
        }

        public Builder topP(double p) {
            config.set(QSparseOptions.GENERATE_TOP_P, p);
            return this;
        }

        public Builder seed(long seed) {
            config.set(QSparseOptions.GENERATE_SEED, seed);
            return this;
        }

        public Builder stop(List<String> stopStrings) {
            config.set(QSparseOptions.GENERATE_STOP, List.copyOf(stopStrings));
            return this;
        }

        public Builder pooling(Pooling pooling) {
            config.set(QSparseOptions.EMBED_POOLING, Objects.requireNonNull(pooling, "pooling"));
            return this;
        }

        public Builder inputMaxChars(int n) {
            config.set(QSparseOptions.INPUT_MAX_CHARS, n);
            return this;
        }

        public Builder inputOverflow(InputOverflow overflow) {
            config.set(QSparseOptions.INPUT_OVERFLOW, Objects.requireNonNull(overflow, "overflow"));
            return this;
        }

        public Builder maxRecordSize(MemorySize size) {
            config.set(QSparseOptions.OUTPUT_MAX_RECORD_SIZE, Objects.requireNonNull(size, "size"));
            return this;
        }

        /** Prefix of the operators' uids (default "qsparse"); set it when a job enriches twice. */
        public Builder uidPrefix(String prefix) {
            this.uidPrefix = Objects.requireNonNull(prefix, "prefix");
            return this;
        }

        /** Validates the options; throws {@link IllegalArgumentException} naming a bad one. */
        public QSparseEnrichment build() {
            return new QSparseEnrichment(QSparseSettings.from(config), uidPrefix);
        }
    }
}
