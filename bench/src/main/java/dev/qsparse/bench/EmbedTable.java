package dev.qsparse.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times embedding engines side by side on the same texts: for each batch size, every text goes
 * through each engine in batches of that size, {@code reps} times, the engines taking turns within
 * each rep (so that a load change on the machine falls on all of them). Events/s is the median
 * over the reps; an event's latency is its batch's time (it waits for the whole batch), and p99 is
 * over every event of every rep. Each engine's vectors are compared with the reference engine's.
 */
public final class EmbedTable {

    /** One engine's figures, per batch size in the order asked. */
    public record Row(
            String engine, double[] eventsPerSecond, double[] p99Millis, double meanCosine, double minCosine) {}

    private EmbedTable() {}

    public static List<Row> run(
            List<EmbedEngine> engines,
            EmbedEngine reference,
            List<String> texts,
            int[] batches,
            int reps,
            PrintStream progress)
            throws Exception {
        int n = engines.size();
        List<float[]> want = reference.embed(texts);
        double[] meanCos = new double[n];
        double[] minCos = new double[n];
        for (int e = 0; e < n; e++) {
            // Warm-up (JIT, ONNX Runtime's first runs) at every batch size, and the quality figures.
            for (int b : batches) {
                passTimes(engines.get(e), texts, b);
            }
            List<float[]> got = engines.get(e).embed(texts);
            double sum = 0;
            double min = 1;
            for (int i = 0; i < texts.size(); i++) {
                double c = cosine(want.get(i), got.get(i));
                sum += c;
                min = Math.min(min, c);
            }
            meanCos[e] = sum / texts.size();
            minCos[e] = min;
        }
        double[][] eps = new double[n][batches.length];
        double[][] p99 = new double[n][batches.length];
        for (int k = 0; k < batches.length; k++) {
            double[][] rates = new double[n][reps];
            List<List<Double>> latencies = new ArrayList<>();
            for (int e = 0; e < n; e++) {
                latencies.add(new ArrayList<>());
            }
            for (int r = 0; r < reps; r++) {
                for (int e = 0; e < n; e++) {
                    long[] times = passTimes(engines.get(e), texts, batches[k]);
                    long total = 0;
                    for (int c = 0; c < times.length; c++) {
                        total += times[c];
                        int events = Math.min(batches[k], texts.size() - c * batches[k]);
                        for (int i = 0; i < events; i++) {
                            latencies.get(e).add(times[c] / 1e6);
                        }
                    }
                    rates[e][r] = texts.size() / (total / 1e9);
                }
                progress.printf(Locale.ROOT, "embed bench: batch %d, rep %d/%d done%n", batches[k], r + 1, reps);
            }
            for (int e = 0; e < n; e++) {
                eps[e][k] = median(rates[e]);
                p99[e][k] = percentile(latencies.get(e), 0.99);
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int e = 0; e < n; e++) {
            rows.add(new Row(engines.get(e).name(), eps[e], p99[e], meanCos[e], minCos[e]));
        }
        return rows;
    }

    /** The nanoseconds of each batch of one pass over {@code texts}. */
    private static long[] passTimes(EmbedEngine engine, List<String> texts, int batch) throws Exception {
        long[] times = new long[(texts.size() + batch - 1) / batch];
        for (int c = 0; c < times.length; c++) {
            List<String> chunk = texts.subList(c * batch, Math.min(texts.size(), (c + 1) * batch));
            long t0 = System.nanoTime();
            List<float[]> out = engine.embed(chunk);
            times[c] = System.nanoTime() - t0;
            if (out.size() != chunk.size()) {
                throw new IllegalStateException(engine.name() + " gave " + out.size() + " vectors for " + chunk.size());
            }
        }
        return times;
    }

    /** The table: one row per engine, each rate also as a ratio to {@code baseline}'s. */
    public static String markdown(List<Row> rows, int[] batches, String baseline, String reference) {
        Row base = rows.stream()
                .filter(r -> r.engine().equals(baseline))
                .findFirst()
                .orElse(null);
        StringBuilder sb = new StringBuilder("| engine |");
        StringBuilder rule = new StringBuilder("|---|");
        for (int b : batches) {
            sb.append(" events/s b").append(b).append(" | p99 ms b").append(b).append(" |");
            rule.append("---:|---:|");
            if (base != null) {
                sb.append(" x ").append(baseline).append(" b").append(b).append(" |");
                rule.append("---:|");
            }
        }
        sb.append(" cosine to ").append(reference).append(" mean / min |\n");
        rule.append("---|\n");
        sb.append(rule);
        for (Row r : rows) {
            sb.append("| ").append(r.engine()).append(" |");
            for (int k = 0; k < batches.length; k++) {
                sb.append(String.format(Locale.ROOT, " %.1f | %.1f |", r.eventsPerSecond()[k], r.p99Millis()[k]));
                if (base != null) {
                    sb.append(
                            String.format(Locale.ROOT, " %.2f |", r.eventsPerSecond()[k] / base.eventsPerSecond()[k]));
                }
            }
            sb.append(String.format(Locale.ROOT, " %.4f / %.4f |%n", r.meanCosine(), r.minCosine()));
        }
        return sb.toString();
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double percentile(List<Double> values, double q) {
        double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
    }
}
