package dev.qsparse.jobs;

import dev.qsparse.flink.DeadLetter;
import dev.qsparse.flink.EnrichedEvent;
import dev.qsparse.flink.EventParser;
import dev.qsparse.flink.QSparseEnrichment;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.jobs.kafka.KafkaTopics;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.function.UnaryOperator;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Kafka -> Q-Sparse -> Kafka: reads JSON text events from a topic, enriches them with the
 * micro-batching Q-Sparse operator, and writes enriched events and dead letters to two topics.
 *
 * <p>Exactly-once by default: checkpointing is on, the source's offsets live in the checkpoint,
 * the operator's in-flight events are checkpointed and replayed, and both sinks write in Kafka
 * transactions committed when a checkpoint completes. A consumer with
 * {@code isolation.level=read_committed} sees every input event once, as an enriched event or a
 * dead letter. {@code --delivery at-least-once} trades that for lower output latency.
 *
 * <p>With {@code --control-topic}, a second source reads model switch records from that topic
 * under the same Kafka rules and broadcasts them to the enrichment tasks, which load the named
 * version and serve the events after the next checkpoint barrier with it
 * ({@link QSparseEnrichment#apply(DataStream, DataStream)}).
 *
 * <p><b>No record the sink cannot write.</b> A record Kafka rejects (over the producer's
 * {@code max.request.size} or the topic's {@code max.message.bytes}) would fail the job, and the
 * same record would fail it again after every restart. So the operator bounds every output record
 * by {@code qsparse.output.max-record-size} (dead letters cut their payload, oversized enriched
 * records become dead letters), record keys are ids of at most {@value EventParser#MAX_ID_CHARS}
 * chars, and the job checks at start, before anything runs, that the bound plus the largest key
 * and the record headers fits under the producers' {@code max.request.size} (a Kafka client
 * property, Kafka's default 1 MiB unless set) and under the output topics'
 * {@code max.message.bytes}; a misconfiguration is refused with a message naming both settings
 * instead of failing per record at run time.
 */
public final class EnrichmentJob {

    private static final Logger LOG = LoggerFactory.getLogger(EnrichmentJob.class);
    private static final String BOOTSTRAP = "bootstrap.servers";

    private EnrichmentJob() {}

    /**
     * Runs the job. Never calls {@link System#exit} (in application mode that would kill the
     * JobManager): a bad command line or configuration throws {@link IllegalArgumentException}
     * with the reason, and {@code --help} prints the usage and returns.
     */
    public static void main(String[] args) throws Exception {
        JobOptions options = new JobOptions();
        CommandLine cli = commandLine(options);
        CommandLine.ParseResult parsed;
        try {
            parsed = cli.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            // Without the values given (one may be a secret) and without picocli's exception as the cause.
            throw UsageError.of(e, args, cli.getUsageMessage());
        }
        if (CommandLine.printHelpIfRequested(parsed)) {
            return;
        }
        options.recordGiven(parsed);
        run(options);
    }

    /** The job's command line over {@code options} (for --help and tests). */
    public static CommandLine commandLine(JobOptions options) {
        return JobOptions.commandLine(options);
    }

    static void run(JobOptions options) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        // Everything is validated here, before any topic is created or anything is submitted.
        QSparseEnrichment.Streams streams = build(env, options);
        Properties kafka = kafkaClient(env.getConfiguration(), options);
        if (options.createTopics) {
            java.util.Map<String, Integer> topics = new java.util.HashMap<>(java.util.Map.of(
                    options.inputTopic,
                    options.topicPartitions,
                    options.outputTopic,
                    options.topicPartitions,
                    options.deadLetterTopic,
                    1));
            if (options.controlTopic != null) {
                // One partition: switches are read in the order they were published.
                topics.put(options.controlTopic, 1);
            }
            KafkaTopics.create(kafka, topics);
        }
        KafkaTopics.checkMaxMessageBytes(
                kafka,
                java.util.List.of(options.outputTopic, options.deadLetterTopic),
                requiredRecordBytes(streams.settings().maxRecordBytes()));
        env.execute("qsparse-enrichment " + options.inputTopic + " -> " + options.outputTopic);
    }

    /** Adds the job's pipeline to {@code env}. */
    public static QSparseEnrichment.Streams build(StreamExecutionEnvironment env, JobOptions o) {
        return build(env, o, UnaryOperator.identity());
    }

    /**
     * Adds the job's pipeline to {@code env}, passing the raw input stream through
     * {@code beforeModel} first (tests use it to inject failures at chosen moments).
     */
    public static QSparseEnrichment.Streams build(
            StreamExecutionEnvironment env, JobOptions o, UnaryOperator<DataStream<byte[]>> beforeModel) {
        JobConfig.configure(env, o);
        QSparseEnrichment enrichment = JobConfig.enrichment(env.getConfiguration(), o);
        Properties kafka = kafkaClient(env.getConfiguration(), o);
        LOG.info("Kafka client properties (secrets masked): {}", KafkaSecrets.masked(kafka));
        checkRecordBound(enrichment.settings().maxRecordBytes(), maxRequestSize(kafka));

        DataStream<byte[]> events = env.fromSource(
                        source(o, kafka, o.inputTopic, o.groupId),
                        WatermarkStrategy.noWatermarks(),
                        "kafka: " + o.inputTopic)
                .uid("kafka-input");
        events = beforeModel.apply(events);

        QSparseEnrichment.Streams streams;
        if (o.controlTopic == null) {
            streams = enrichment.apply(events);
        } else {
            // The model control topic, under the input's rules (properties, offsets in the
            // checkpoint, read_committed); one reader, broadcast to every enrichment task.
            DataStream<byte[]> switches = env.fromSource(
                            source(o, kafka, o.controlTopic, o.groupId + "-model-control"),
                            WatermarkStrategy.noWatermarks(),
                            "kafka: " + o.controlTopic)
                    .setParallelism(1)
                    .uid("kafka-model-control");
            streams = enrichment.apply(events, switches);
        }

        streams.enriched()
                .sinkTo(sink(o, kafka, o.outputTopic, "out", new EnrichedSerializer(o.outputTopic)))
                .name("kafka: " + o.outputTopic)
                .uid("kafka-output");
        streams.deadLetters()
                .sinkTo(sink(o, kafka, o.deadLetterTopic, "dlq", new DeadLetterSerializer(o.deadLetterTopic)))
                .name("kafka: " + o.deadLetterTopic)
                .uid("kafka-dead-letters");
        return streams;
    }

    /** A source of raw record values of {@code topic}, configured the same way for the input and the control topic. */
    private static KafkaSource<byte[]> source(JobOptions o, Properties kafka, String topic, String groupId) {
        KafkaSourceBuilder<byte[]> source = KafkaSource.<byte[]>builder()
                .setProperties(kafka)
                .setBootstrapServers(kafka.getProperty(BOOTSTRAP))
                .setTopics(topic)
                .setGroupId(groupId)
                .setStartingOffsets(startingOffsets(o.startingOffsets))
                .setValueOnlyDeserializer(new RawBytes())
                // Upstream producers may be transactional too: never read their aborted records.
                .setProperty("isolation.level", "read_committed")
                // Offsets are committed when a checkpoint completes, never by the consumer itself.
                .setProperty("enable.auto.commit", "false")
                .setProperty("commit.offsets.on.checkpoint", "true");
        if (o.bounded) {
            source.setBounded(OffsetsInitializer.latest());
        }
        return source.build();
    }

    /** Room for a record's key (an id of at most MAX_ID_CHARS chars, 3 UTF-8 bytes each) in a Kafka request. */
    static final int MAX_KEY_BYTES = 3 * EventParser.MAX_ID_CHARS;
    /** Room for Kafka's record batch header and per-record framing (about 100 bytes), with a wide margin. */
    static final int RECORD_OVERHEAD_BYTES = 4096;
    /** The Kafka producer's default max.request.size. */
    static final int KAFKA_DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024;

    /** The largest Kafka record (value, key and framing) this job can produce, given the operator's bound. */
    public static int requiredRecordBytes(int maxRecordBytes) {
        return maxRecordBytes + MAX_KEY_BYTES + RECORD_OVERHEAD_BYTES;
    }

    /** The sinks' max.request.size: the Kafka client property when set, else Kafka's default. */
    static int maxRequestSize(Properties kafka) {
        String v = kafka.getProperty("max.request.size");
        if (v == null) {
            return KAFKA_DEFAULT_MAX_REQUEST_SIZE;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "Kafka client property max.request.size must be an integer (bytes), got '" + v + "'", e);
        }
    }

    /**
     * Refuses a configuration in which a record within the operator's bound could still be
     * rejected by the sinks' producers: such a record would fail the job on every restart.
     */
    static void checkRecordBound(int maxRecordBytes, int maxRequestSize) {
        int required = requiredRecordBytes(maxRecordBytes);
        if (required > maxRequestSize) {
            throw new IllegalArgumentException(QSparseOptions.OUTPUT_MAX_RECORD_SIZE.key() + " = " + maxRecordBytes
                    + " bytes, plus " + (MAX_KEY_BYTES + RECORD_OVERHEAD_BYTES) + " bytes for the key and record"
                    + " headers, exceeds the Kafka producers' max.request.size = " + maxRequestSize + " bytes: lower "
                    + QSparseOptions.OUTPUT_MAX_RECORD_SIZE.key() + " or raise max.request.size to at least " + required
                    + " (--kafka-property max.request.size=" + required + ", or kafka.max.request.size in the Flink"
                    + " configuration; and the output topics' max.message.bytes with it)");
        }
    }

    static OffsetsInitializer startingOffsets(JobOptions.StartingOffsets s) {
        return switch (s) {
            case COMMITTED_OR_EARLIEST -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
            case COMMITTED_OR_LATEST -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.LATEST);
            case EARLIEST -> OffsetsInitializer.earliest();
            case LATEST -> OffsetsInitializer.latest();
        };
    }

    /**
     * Kafka client properties of the job ({@link KafkaClientProperties}), with bootstrap.servers:
     * --bootstrap-servers when given, else kafka.bootstrap.servers when configured, else the
     * flag's default.
     */
    static Properties kafkaClient(org.apache.flink.configuration.ReadableConfig flink, JobOptions o) {
        Properties kafka = KafkaClientProperties.resolve(flink, o);
        KafkaOwnedKeys.check(kafka, o);
        KafkaSecrets.checkJaasConfig(kafka);
        if (o.given("--bootstrap-servers") || kafka.getProperty(BOOTSTRAP) == null) {
            kafka.setProperty(BOOTSTRAP, o.bootstrapServers);
        }
        return kafka;
    }

    private static <T> KafkaSink<T> sink(
            JobOptions o, Properties kafka, String topic, String suffix, KafkaRecordSerializationSchema<T> schema) {
        var builder = KafkaSink.<T>builder()
                .setKafkaProducerConfig(kafka)
                .setBootstrapServers(kafka.getProperty(BOOTSTRAP))
                .setRecordSerializer(schema)
                .setProperty("acks", "all")
                .setProperty("enable.idempotence", "true");
        if (o.delivery == JobOptions.Delivery.EXACTLY_ONCE) {
            builder.setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                    .setTransactionalIdPrefix(o.transactionalIdPrefix + "-" + suffix)
                    .setProperty("transaction.timeout.ms", String.valueOf(o.transactionTimeout.toMillis()));
        } else {
            builder.setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE);
        }
        return builder.build();
    }

    /** Kafka record values as they are: the operator validates UTF-8 and JSON itself. */
    static final class RawBytes implements DeserializationSchema<byte[]> {
        @Override
        public byte[] deserialize(byte[] message) {
            return message == null ? new byte[0] : message;
        }

        @Override
        public boolean isEndOfStream(byte[] nextElement) {
            return false;
        }

        @Override
        public TypeInformation<byte[]> getProducedType() {
            return QSparseEnrichment.BYTES;
        }
    }

    /** Keyed by event id, so all results of one id land in one partition; timestamp = send time. */
    static final class EnrichedSerializer implements KafkaRecordSerializationSchema<EnrichedEvent> {
        private final String topic;

        EnrichedSerializer(String topic) {
            this.topic = topic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(EnrichedEvent e, KafkaSinkContext context, Long timestamp) {
            return new ProducerRecord<>(topic, null, null, utf8(e.id), utf8(e.toJson()));
        }
    }

    static final class DeadLetterSerializer implements KafkaRecordSerializationSchema<DeadLetter> {
        private final String topic;

        DeadLetterSerializer(String topic) {
            this.topic = topic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(DeadLetter d, KafkaSinkContext context, Long timestamp) {
            return new ProducerRecord<>(topic, null, null, utf8(d.id), utf8(d.toJson()));
        }
    }

    private static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }
}
