package dev.qsparse.sql;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.flink.metrics.CharacterFilter;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.LogicalScopeProvider;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A real Flink metric reporter ({@code metrics.reporter.<name>.factory.class}) that keeps every
 * metric it is told about, by identifier, for a test to read after the job.
 */
public final class MetricsCollector implements MetricReporter {

    static final Map<String, Metric> METRICS = new ConcurrentHashMap<>();
    /** The name Flink's Prometheus reporter gives each metric, by identifier. */
    static final Map<String, String> PROMETHEUS_NAMES = new ConcurrentHashMap<>();

    private static final Pattern NOT_PROMETHEUS = Pattern.compile("[^a-zA-Z0-9:_]");
    private static final CharacterFilter PROMETHEUS_CHARACTERS =
            s -> NOT_PROMETHEUS.matcher(s).replaceAll("_");

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String metricName, MetricGroup group) {
        METRICS.put(group.getMetricIdentifier(metricName), metric);
        // As Flink's Prometheus reporter names it: flink_ + logical scope joined by _ + _ + name.
        PROMETHEUS_NAMES.put(
                group.getMetricIdentifier(metricName),
                "flink_"
                        + LogicalScopeProvider.castFrom(group).getLogicalScope(PROMETHEUS_CHARACTERS, '_')
                        + "_"
                        + PROMETHEUS_CHARACTERS.filterCharacters(metricName));
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String metricName, MetricGroup group) {
        // kept: the test reads them after the job
    }

    /** The sum of the counters whose identifier ends with {@code suffix}. */
    static long counter(String suffix) {
        return METRICS.entrySet().stream()
                .filter(e -> e.getKey().endsWith(suffix) && e.getValue() instanceof Counter)
                .mapToLong(e -> ((Counter) e.getValue()).getCount())
                .sum();
    }

    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new MetricsCollector();
        }
    }
}
