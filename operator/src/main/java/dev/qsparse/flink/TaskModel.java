package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.Task;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.metrics.MetricGroup;

/**
 * What one parallel task holds while it is open: its lease on the shared model, the event parser
 * and its metrics. Shared by {@link QSparseAsyncFunction}, {@link QSparseMapFunction} and the SQL
 * provider's predict functions.
 */
public final class TaskModel implements AutoCloseable {

    final QSparseSettings settings;
    final SharedModels.Lease lease;
    final EventParser parser;
    final OperatorMetrics metrics;
    final String modelVersion;

    private TaskModel(QSparseSettings settings, SharedModels.Lease lease, OperatorMetrics metrics, String version) {
        this.settings = settings;
        this.lease = lease;
        this.modelVersion = version;
        this.parser = new EventParser(settings);
        this.metrics = metrics;
    }

    /**
     * Acquires the model and registers the metrics.
     *
     * @throws ModelUnavailableException the model cannot be loaded; the message names the path
     *                                   and the cause, and the task fails at open
     */
    static TaskModel open(QSparseSettings settings, RuntimeContext context) throws ModelUnavailableException {
        return open(settings, context.getMetricGroup());
    }

    /**
     * Acquires the model and registers the metrics under {@code metricGroup} (a task's or a table
     * function's group).
     *
     * @throws ModelUnavailableException the model cannot be loaded; the message names the path
     *                                   and the cause
     */
    public static TaskModel open(QSparseSettings settings, MetricGroup metricGroup) throws ModelUnavailableException {
        return open(settings, settings.modelLocation(), null, metricGroup, null);
    }

    /**
     * Acquires the model at {@code location}, whose results carry {@code version} (null: the
     * configured model's rule, {@link #modelVersion(QSparseSettings, SharedModels.Lease)}). With
     * {@code shared} metrics (another version's, in the same task) no metric is registered again.
     *
     * @throws ModelUnavailableException the model cannot be loaded or does not fit the settings
     */
    static TaskModel open(
            QSparseSettings settings,
            ModelLocation location,
            String version,
            MetricGroup metricGroup,
            OperatorMetrics shared)
            throws ModelUnavailableException {
        SharedModels.Lease lease;
        try {
            lease = SharedModels.acquire(location, settings.modelCache());
        } catch (Exception | LinkageError e) {
            throw new ModelUnavailableException(
                    "cannot load the Q-Sparse model at " + location + " (" + QSparseOptions.MODEL_PATH.key() + "): "
                            + e.getMessage(),
                    e);
        }
        try {
            checkModeFits(settings, lease.path(), lease.model());
            checkChatTemplate(settings, lease.path(), lease.model());
            OperatorMetrics metrics;
            if (shared == null) {
                metrics = new OperatorMetrics(metricGroup, lease);
            } else {
                metrics = shared;
                metrics.modelLoaded(lease);
            }
            return new TaskModel(settings, lease, metrics, version != null ? version : modelVersion(settings, lease));
        } catch (ModelUnavailableException | RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    /**
     * An encoder only embeds: a job whose configured mode is generate or score on one would turn
     * every event into a dead letter, so the task fails at open instead, naming the option, the
     * mode and the model. An event that asks for another mode itself still gets a dead letter.
     */
    static void checkModeFits(QSparseSettings settings, Path path, Model model) throws ModelUnavailableException {
        if (model.network().bidirectional() && settings.defaultMode() != Task.EMBED) {
            throw new ModelUnavailableException(
                    QSparseOptions.MODE.key() + " = " + settings.defaultMode().wireName()
                            + " does not fit the model at "
                            + path.toAbsolutePath() + ": it is an encoder (model_type "
                            + model.config().modelType()
                            + "), which embeds text and cannot "
                            + settings.defaultMode().wireName()
                            + " (set " + QSparseOptions.MODE.key() + " = embed)",
                    null);
        }
    }

    /**
     * A {@code qsparse.generate.chat} template whose end-of-turn tokens the model's tokenizer lacks
     * (a template for another model family) would fail every generate event: it fails the task at
     * open instead, once, naming the option, the token and the model.
     */
    static void checkChatTemplate(QSparseSettings settings, Path path, Model model) throws ModelUnavailableException {
        PromptTemplate template = settings.defaultGeneration().promptTemplate();
        if (template == null) {
            return;
        }
        Tokenizer tokenizer = model.tokenizer()
                .orElseThrow(() -> new ModelUnavailableException(
                        QSparseOptions.GENERATE_CHAT.key() + " is set but the model at " + path.toAbsolutePath()
                                + " has no tokenizer.json",
                        null));
        try {
            template.stopTokenIds(tokenizer);
        } catch (IllegalArgumentException e) {
            throw new ModelUnavailableException(
                    QSparseOptions.GENERATE_CHAT.key() + " does not fit the model at " + path.toAbsolutePath() + ": "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * The version every result carries: {@code qsparse.model.version} when set, else the manifest's
     * {@code version}, else the model directory's own name (the last segment of a versioned path
     * such as {@code s3://b/embedder/v3}, or a Hugging Face snapshot's revision). Never a hash of the
     * weights: that would read gigabytes at every load.
     */
    static String modelVersion(QSparseSettings settings, SharedModels.Lease lease) {
        if (settings.modelVersion() != null) {
            return settings.modelVersion();
        }
        if (lease.version() != null) {
            return lease.version();
        }
        return settings.modelLocation().lastSegment();
    }

    /** The version every result of this task carries ({@code model_version}). */
    public String modelVersion() {
        return modelVersion;
    }

    /** Counts one input that reached the function. */
    public void received() {
        metrics.eventsReceived.inc();
    }

    /** Counts one result handed to Flink (once per input, whatever the path). */
    public void emitted(QSparseResult result) {
        metrics.emitted(result);
    }

    /** The validated, ready-to-serve form of a plain text in the configured mode, or its dead letter. */
    public EventParser.Outcome parseText(String text) {
        return parser.parseText(text);
    }

    /**
     * The result of an input (without payload or id, as from a SQL row) that had no result within
     * {@code qsparse.async.timeout}: a dead letter with stage "timeout".
     */
    public QSparseResult timedOut() {
        return QSparseResult.of(DeadLetter.of(
                new byte[0],
                true,
                null,
                false,
                DeadLetter.STAGE_TIMEOUT,
                "no result within " + settings.timeout().toMillis() + " ms",
                settings.modelName(),
                settings.maxRecordBytes()));
    }

    /** A runner with its own inference session, for one thread. */
    public ModelRunner newRunner() {
        return new ModelRunner(lease.model(), settings.modelName(), modelVersion, settings.maxRecordBytes(), metrics);
    }

    public QSparseSettings settings() {
        return settings;
    }

    @Override
    public void close() {
        lease.close();
    }
}
