package dev.qsparse.flink;

import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * A latency histogram reported in milliseconds, as Flink's own latencies are, that keeps
 * microsecond resolution: a small model serves a batch in well under a millisecond, and a
 * histogram of whole milliseconds would report 0 for every one of them. Values are recorded in
 * nanoseconds ({@link #updateNanos}) and kept in microseconds; the statistics a reporter reads
 * (quantiles, mean, standard deviation: doubles) are in milliseconds with that resolution, while
 * the ones Flink's interface types as longs (min, max, the values) are rounded to whole
 * milliseconds. Thread-safe (the window is synchronized).
 */
final class MillisecondHistogram implements Histogram {

    private static final double MICROS_PER_MILLI = 1_000.0;

    private final DescriptiveStatisticsHistogram micros;

    MillisecondHistogram(int window) {
        this.micros = new DescriptiveStatisticsHistogram(window);
    }

    /** Records one duration given in nanoseconds. */
    void updateNanos(long nanos) {
        micros.update(nanos / 1_000);
    }

    /** Records one duration given in milliseconds (Flink's {@link Histogram} contract). */
    @Override
    public void update(long millis) {
        micros.update(Math.multiplyExact(millis, 1_000L));
    }

    @Override
    public long getCount() {
        return micros.getCount();
    }

    @Override
    public HistogramStatistics getStatistics() {
        HistogramStatistics s = micros.getStatistics();
        return new HistogramStatistics() {
            @Override
            public double getQuantile(double quantile) {
                return s.getQuantile(quantile) / MICROS_PER_MILLI;
            }

            @Override
            public long[] getValues() {
                long[] values = s.getValues();
                for (int i = 0; i < values.length; i++) {
                    values[i] = Math.round(values[i] / MICROS_PER_MILLI);
                }
                return values;
            }

            @Override
            public int size() {
                return s.size();
            }

            @Override
            public double getMean() {
                return s.getMean() / MICROS_PER_MILLI;
            }

            @Override
            public double getStdDev() {
                return s.getStdDev() / MICROS_PER_MILLI;
            }

            @Override
            public long getMax() {
                return Math.round(s.getMax() / MICROS_PER_MILLI);
            }

            @Override
            public long getMin() {
                return Math.round(s.getMin() / MICROS_PER_MILLI);
            }
        };
    }
}
