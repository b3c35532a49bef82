package dev.qsparse.sql;

import dev.qsparse.flink.ModelLocation;
import dev.qsparse.flink.ModelUnavailableException;
import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.flink.QSparseSettings;
import dev.qsparse.flink.TaskModel;
import dev.qsparse.runtime.inference.Task;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.ConfigReader;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.FallbackKey;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.ModelProviderFactory;
import org.apache.flink.table.ml.ModelProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code qsparse} model provider: {@code CREATE MODEL m INPUT (text STRING) OUTPUT (...) WITH
 * ('provider' = 'qsparse', 'model-path' = '...', 'task' = 'embed')}. Options are in
 * {@link QSparseModelOptions}; the output columns in {@link OutputLayout}. Everything is checked
 * when a query using the model is planned, so a bad model fails the statement, not a running task.
 */
public final class QSparseModelProviderFactory implements ModelProviderFactory {

    public static final String IDENTIFIER = "qsparse";

    private static final Logger LOG = LoggerFactory.getLogger(QSparseModelProviderFactory.class);

    /** Each SQL option and the operator option it sets. */
    private static final List<OptionPair<?>> PAIRS = List.of(
            new OptionPair<>(QSparseModelOptions.MODEL_PATH, QSparseOptions.MODEL_PATH),
            new OptionPair<>(QSparseModelOptions.MODEL_NAME, QSparseOptions.MODEL_NAME),
            new OptionPair<>(QSparseModelOptions.MODEL_VERSION, QSparseOptions.MODEL_VERSION),
            new OptionPair<>(QSparseModelOptions.MODEL_CACHE_DIR, QSparseOptions.MODEL_CACHE_DIR),
            new OptionPair<>(QSparseModelOptions.MODEL_CACHE_MAX_SIZE, QSparseOptions.MODEL_CACHE_MAX_SIZE),
            new OptionPair<>(QSparseModelOptions.BATCH_MAX_SIZE, QSparseOptions.BATCH_MAX_SIZE),
            new OptionPair<>(QSparseModelOptions.BATCH_MAX_WAIT, QSparseOptions.BATCH_MAX_WAIT),
            new OptionPair<>(QSparseModelOptions.THREADS, QSparseOptions.THREADS),
            new OptionPair<>(QSparseModelOptions.ROW_TIMEOUT, QSparseOptions.ASYNC_TIMEOUT),
            new OptionPair<>(QSparseModelOptions.GENERATE_MAX_NEW_TOKENS, QSparseOptions.GENERATE_MAX_NEW_TOKENS),
            new OptionPair<>(QSparseModelOptions.GENERATE_TEMPERATURE, QSparseOptions.GENERATE_TEMPERATURE),
            new OptionPair<>(QSparseModelOptions.GENERATE_TOP_K, QSparseOptions.GENERATE_TOP_K),
            new OptionPair<>(QSparseModelOptions.GENERATE_TOP_P, QSparseOptions.GENERATE_TOP_P),
            new OptionPair<>(QSparseModelOptions.GENERATE_SEED, QSparseOptions.GENERATE_SEED),
            new OptionPair<>(QSparseModelOptions.GENERATE_STOP, QSparseOptions.GENERATE_STOP),
            new OptionPair<>(QSparseModelOptions.GENERATE_CHAT, QSparseOptions.GENERATE_CHAT),
            new OptionPair<>(QSparseModelOptions.GENERATE_CHAT_STOP, QSparseOptions.GENERATE_CHAT_STOP),
            new OptionPair<>(QSparseModelOptions.EMBED_POOLING, QSparseOptions.EMBED_POOLING),
            new OptionPair<>(QSparseModelOptions.INPUT_MAX_CHARS, QSparseOptions.INPUT_MAX_CHARS),
            new OptionPair<>(QSparseModelOptions.INPUT_OVERFLOW, QSparseOptions.INPUT_OVERFLOW));

    /** Operator keys that name a SQL option in messages, beyond {@link #PAIRS}: 'task' sets the mode. */
    private static final List<OptionPair<?>> NAMES_ONLY = List.of(new OptionPair<>(
            QSparseModelOptions.TASK,
            ConfigOptions.key(QSparseOptions.MODE.key()).stringType().noDefaultValue()));

    private record OptionPair<T>(ConfigOption<T> sql, ConfigOption<T> operator) {
        void copy(ReadableConfig from, Configuration to) {
            from.getOptional(sql).ifPresent(v -> to.set(operator, v));
        }
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(QSparseModelOptions.MODEL_PATH, QSparseModelOptions.TASK);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        Set<ConfigOption<?>> optional = new LinkedHashSet<>();
        for (OptionPair<?> p : PAIRS) {
            optional.add(p.sql());
        }
        optional.removeAll(requiredOptions());
        optional.add(QSparseModelOptions.CHECK_MODEL_PATH);
        return optional;
    }

    @Override
    public ModelProvider createModelProvider(Context context) {
        String model = context.getObjectIdentifier().asSummaryString();
        Map<String, String> written = context.getCatalogModel().getOptions();
        try {
            refuseTwoNamesWithTwoValues(written);
        } catch (IllegalArgumentException e) {
            throw new ValidationException("Invalid qsparse model " + model + ": " + e.getMessage(), e);
        }
        FactoryUtil.ModelProviderFactoryHelper helper = FactoryUtil.createModelProviderFactoryHelper(this, context);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        try {
            Task task = TaskNames.parse(options.get(QSparseModelOptions.TASK));
            Configuration operatorConfig = operatorConfig(options, task);
            QSparseSettings settings = settings(operatorConfig, written);
            if (options.get(QSparseModelOptions.CHECK_MODEL_PATH)) {
                checkModelDirectory(settings);
                checkTaskFits(settings, task, options.get(QSparseModelOptions.TASK));
            }
            OutputLayout.checkInput(model, context.getCatalogModel().getResolvedInputSchema());
            OutputLayout layout =
                    OutputLayout.of(model, task, context.getCatalogModel().getResolvedOutputSchema());
            int tableRowsInFlight = context.getConfiguration().get(InFlightBudget.TABLE_MAX_CONCURRENT_OPERATIONS);
            return new QSparseModelProvider(model, operatorConfig, settings, layout, tableRowsInFlight);
        } catch (IllegalArgumentException e) {
            throw new ValidationException("Invalid qsparse model " + model + ": " + e.getMessage(), e);
        }
    }

    /**
     * An option given under both its name and Flink's name for it ({@code 'generate.max-new-tokens'}
     * and {@code 'max-tokens'}) with two values: refused, naming both, rather than one silently winning.
     */
    static void refuseTwoNamesWithTwoValues(Map<String, String> written) {
        for (ConfigOption<?> option : QSparseModelOptions.WITH_FLINK_NAMES) {
            Map<String, String> given = new LinkedHashMap<>();
            if (written.containsKey(option.key())) {
                given.put(option.key(), written.get(option.key()));
            }
            for (FallbackKey alias : option.fallbackKeys()) {
                if (written.containsKey(alias.getKey())) {
                    given.put(alias.getKey(), written.get(alias.getKey()));
                }
            }
            if (given.values().stream().map(String::trim).distinct().count() > 1) {
                StringBuilder both = new StringBuilder();
                given.forEach((k, v) -> both.append(both.length() == 0 ? "" : " and ")
                        .append("'")
                        .append(k)
                        .append("' = '")
                        .append(v)
                        .append("'"));
                throw new IllegalArgumentException(both + " name the same option ('" + option.key()
                        + "'; the other is Flink's name for it) with different values: set one");
            }
        }
    }

    /** The operator's options from the SQL options. */
    static Configuration operatorConfig(ReadableConfig options, Task task) {
        Configuration operatorConfig = new Configuration();
        for (OptionPair<?> p : PAIRS) {
            p.copy(options, operatorConfig);
        }
        operatorConfig.set(QSparseOptions.MODE, task);
        return operatorConfig;
    }

    /**
     * The operator's settings; a bad value is reported by the SQL key the statement used (Flink's
     * name when it was written that way).
     */
    static QSparseSettings settings(Configuration operatorConfig, Map<String, String> written) {
        try {
            return QSparseSettings.from(operatorConfig);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(sqlKeys(e.getMessage(), written), e);
        }
    }

    /** {@code message} with each operator option key replaced by its quoted SQL key. */
    static String sqlKeys(String message) {
        return sqlKeys(message, Map.of());
    }

    /**
     * {@code message} with each operator option key replaced by the quoted SQL key: the one in
     * {@code written} (the statement's options) when it used Flink's name, else this provider's.
     */
    static String sqlKeys(String message, Map<String, String> written) {
        if (message == null) {
            return null;
        }
        List<OptionPair<?>> names = new ArrayList<>(PAIRS);
        names.addAll(NAMES_ONLY);
        for (OptionPair<?> p : names) {
            String sqlKey = p.sql().key();
            if (!written.containsKey(sqlKey)) {
                for (FallbackKey alias : p.sql().fallbackKeys()) {
                    if (written.containsKey(alias.getKey())) {
                        sqlKey = alias.getKey();
                    }
                }
            }
            // Whole keys only: qsparse.generate.max-new-tokens is a prefix of its -limit key.
            message = message.replaceAll(
                    Pattern.quote(p.operator().key()) + "(?![\\w.-])", Matcher.quoteReplacement("'" + sqlKey + "'"));
        }
        return message;
    }

    /** Opens the task's model; a failure names the SQL keys, not the operator's. */
    static TaskModel openTaskModel(QSparseSettings settings, MetricGroup metricGroup) throws ModelUnavailableException {
        try {
            return TaskModel.open(settings, metricGroup);
        } catch (ModelUnavailableException e) {
            throw new ModelUnavailableException(sqlKeys(e.getMessage()), e.getCause());
        }
    }

    /**
     * An encoder only embeds: 'task' = 'generate' or 'score' on one fails the statement, naming the
     * key, rather than every row. A config.json that does not read, or a remote model the planner
     * does not open, is left to the task's load, which names the file and key.
     */
    private static void checkTaskFits(QSparseSettings settings, Task task, String written) {
        String modelPath = settings.modelPath();
        ModelLocation location = settings.modelLocation();
        if (task == Task.EMBED || location.isRemote()) {
            return;
        }
        ModelConfig config;
        try {
            config = ConfigReader.read(location.local());
        } catch (ModelLoadException | RuntimeException e) {
            return;
        }
        if (config instanceof BertConfig) {
            throw new IllegalArgumentException("'" + QSparseModelOptions.TASK.key() + "' = '" + written
                    + "' does not fit '" + QSparseModelOptions.MODEL_PATH.key() + "' = " + modelPath
                    + ": it is an encoder (model_type " + config.modelType() + "), which only embeds (use 'task' ="
                    + " 'embed')");
        }
    }

    private static void checkModelDirectory(QSparseSettings settings) {
        String modelPath = settings.modelPath();
        ModelLocation location = settings.modelLocation();
        if (location.isRemote()) {
            checkRemoteModel(modelPath, location);
            return;
        }
        Path dir = location.local();
        String hint = " (set '" + QSparseModelOptions.CHECK_MODEL_PATH.key()
                + "' = 'false' if only the task managers see it)";
        if (!Files.exists(dir)) {
            throw new IllegalArgumentException("'" + QSparseModelOptions.MODEL_PATH.key() + "' = " + modelPath
                    + ": no such directory (" + dir.toAbsolutePath() + ")" + hint);
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("'" + QSparseModelOptions.MODEL_PATH.key() + "' = " + modelPath
                    + ": not a directory (a model is a directory with config.json, model.safetensors and"
                    + " tokenizer.json)");
        }
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IllegalArgumentException("'" + QSparseModelOptions.MODEL_PATH.key() + "' = " + modelPath
                    + ": no config.json in the directory, not a model directory" + hint);
        }
    }

    /**
     * A remote model is checked only when the planner can open its store: the planner often has no
     * plugin or no credentials for it (they live on the task managers), which is no reason to fail.
     */
    private static void checkRemoteModel(String modelPath, ModelLocation location) {
        org.apache.flink.core.fs.Path config =
                new org.apache.flink.core.fs.Path(new org.apache.flink.core.fs.Path(location.remote()), "config.json");
        boolean found;
        try {
            found = config.getFileSystem().exists(config);
        } catch (IOException | RuntimeException e) {
            LOG.warn(
                    "'{}' = {}: not checked where the query is planned ({}: {}); the task managers will fetch it",
                    QSparseModelOptions.MODEL_PATH.key(),
                    modelPath,
                    e.getClass().getSimpleName(),
                    e.getMessage());
            return;
        }
        if (!found) {
            throw new IllegalArgumentException("'" + QSparseModelOptions.MODEL_PATH.key() + "' = " + modelPath
                    + ": no config.json there, not a model directory (set '"
                    + QSparseModelOptions.CHECK_MODEL_PATH.key() + "' = 'false' if only the task managers see it)");
        }
    }
}
