package dev.qsparse.flink;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.flink.metrics.CharacterFilter;
import org.apache.flink.metrics.LogicalScopeProvider;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A real Flink metric reporter (registered through {@code metrics.reporter.<name>.factory.class})
 * that keeps every metric it is told about, by its full identifier, for tests to read back.
 * Metrics stay readable after their task ends. Flink finds the factory through
 * {@code META-INF/services/org.apache.flink.metrics.reporter.MetricReporterFactory}.
 */
public final class CollectingReporter implements MetricReporter {

    static final Map<String, Metric> METRICS = new ConcurrentHashMap<>();
    /** The variables of each metric's group (what reporters such as Prometheus's export as labels). */
    static final Map<String, Map<String, String>> VARIABLES = new ConcurrentHashMap<>();
    /** The name Flink's Prometheus reporter gives each metric, by identifier. */
    static final Map<String, String> PROMETHEUS_NAMES = new ConcurrentHashMap<>();

    private static final Pattern NOT_PROMETHEUS = Pattern.compile("[^a-zA-Z0-9:_]");
    private static final CharacterFilter PROMETHEUS_CHARACTERS =
            s -> NOT_PROMETHEUS.matcher(s).replaceAll("_");

    /**
     * What Flink's Prometheus reporter names a metric: {@code flink_}, the group's logical scope
     * joined by {@code _}, {@code _}, the metric's name, with every character Prometheus does not
     * allow replaced by {@code _} (its {@code AbstractPrometheusReporter}, Flink 2.2).
     */
    static String prometheusName(String metricName, MetricGroup group) {
        String scope = LogicalScopeProvider.castFrom(group).getLogicalScope(PROMETHEUS_CHARACTERS, '_');
        return "flink_" + scope + "_" + PROMETHEUS_CHARACTERS.filterCharacters(metricName);
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String metricName, MetricGroup group) {
        METRICS.put(group.getMetricIdentifier(metricName), metric);
        VARIABLES.put(group.getMetricIdentifier(metricName), Map.copyOf(group.getAllVariables()));
        PROMETHEUS_NAMES.put(group.getMetricIdentifier(metricName), prometheusName(metricName, group));
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String metricName, MetricGroup group) {
        // kept on purpose: the test reads them after the job
    }

    /** The factory Flink instantiates by class name. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new CollectingReporter();
        }
    }
}
