package dev.qsparse.flink;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
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

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String metricName, MetricGroup group) {
        METRICS.put(group.getMetricIdentifier(metricName), metric);
        VARIABLES.put(group.getMetricIdentifier(metricName), Map.copyOf(group.getAllVariables()));
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
