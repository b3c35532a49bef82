package dev.qsparse.runtime.calibration;

import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.LayerTopK;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * Chooses the kept fraction of every projection input of an encoder, per layer, for a target mean
 * cosine to the dense embeddings ({@link CorpusEvaluation}); what the model loses before any top-K
 * (8-bit activations) is taken from the budget first, and each projection's cost is counted above it.
 *
 * <p>Each projection's cost is measured alone: its input kept at each fraction of {@link #GRID}, the
 * others dense (descending stops once one projection alone loses the whole budget). Then, greedily,
 * the step with the most weight reads saved per unit of loss is taken while the summed losses fit
 * the budget {@code 1 - target} times an allowance; the choice is evaluated as a whole, and the
 * allowance shrinks until the whole meets the target (losses are not quite additive), grows while it
 * still does, and is bisected three times between the last that met it and the first that did not. Weight reads, not activation zeros, are what a step saves: an attention input feeds three
 * d x d matrices, an intermediate input one f x d.
 */
public final class TopKCalibrator {

    /** The kept fractions tried, in descending order. */
    public static final double[] GRID = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2};

    private static final double[] SHRINK = {1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.08};
    private static final double[] GROW = {1.4, 2.0};
    private static final int BISECTIONS = 3;

    private record Choice(LayerTopK topK, CorpusEvaluation.Quality quality, double skipped) {}

    /** The choice and what it achieves. */
    public record Result(
            LayerTopK topK,
            CorpusEvaluation.Quality quality,
            double weightReadsSkipped,
            double uniformRatio,
            CorpusEvaluation.Quality uniformQuality,
            int evaluations) {}

    private final BertConfig config;
    private final CorpusEvaluation eval;
    private final PrintStream progress;
    private final LayerTopK.Group[] groups = LayerTopK.Group.values();
    private final double[] weights;
    private int evaluations;

    public TopKCalibrator(BertConfig config, CorpusEvaluation eval, PrintStream progress) {
        this.config = config;
        this.eval = eval;
        this.progress = progress;
        double d = config.hiddenSize();
        double f = config.intermediateSize();
        // Weight elements each group's input is multiplied by, in Group order.
        this.weights = new double[] {3 * d * d, d * d, f * d, d * f};
    }

    public Result calibrate(double targetCosine) {
        if (!(targetCosine > 0 && targetCosine < 1)) {
            throw new IllegalArgumentException("target cosine must be in (0, 1), got " + targetCosine);
        }
        int layers = config.numLayers();
        LayerTopK dense = LayerTopK.uniform(layers, 1, 1, 1, 1);
        // What the model costs before any top-K (its 8-bit activations), taken from the budget.
        CorpusEvaluation.Quality base = evaluate(dense);
        double baseLoss = Math.max(0, 1 - base.meanCosine());
        double budget = 1 - targetCosine - baseLoss;
        report("no top-K", dense, base);
        int projections = layers * groups.length;
        // loss[p][k]: mean-cosine loss with only projection p at GRID[k]; NaN where not measured.
        double[][] loss = new double[projections][GRID.length];
        for (int p = 0; p < projections; p++) {
            Arrays.fill(loss[p], Double.NaN);
            for (int k = 0; k < GRID.length; k++) {
                CorpusEvaluation.Quality q =
                        evaluate(dense.with(p / groups.length, groups[p % groups.length], GRID[k]));
                loss[p][k] = Math.max(0, 1 - q.meanCosine() - baseLoss);
                if (loss[p][k] > budget) {
                    break;
                }
            }
            progress.printf(
                    Locale.ROOT,
                    "calibrate: layer %d %s: loss alone %s%n",
                    p / groups.length,
                    groups[p % groups.length].key,
                    Arrays.toString(Arrays.stream(loss[p])
                            .filter(x -> !Double.isNaN(x))
                            .mapToObj(x -> String.format(Locale.ROOT, "%.4f", x))
                            .toArray()));
        }
        // The allowance: shrunk from 1 until the whole choice meets the target, grown while it
        // does, then bisected between the last that met it and the first that did not.
        Choice best = new Choice(dense, base, 0);
        double met = -1;
        double missed = -1;
        for (double slack : budget > 0 ? SHRINK : new double[0]) {
            Choice c = choose(loss, budget, slack);
            if (c.quality.meanCosine() >= targetCosine) {
                met = slack;
                best = c;
                break;
            }
            missed = slack;
        }
        if (met == SHRINK[0]) {
            for (double grow : GROW) {
                Choice c = choose(loss, budget, grow);
                if (c.quality.meanCosine() < targetCosine) {
                    missed = grow;
                    break;
                }
                met = grow;
                best = c.skipped > best.skipped ? c : best;
            }
        }
        for (int i = 0; i < BISECTIONS && met > 0 && missed > 0; i++) {
            double mid = (met + missed) / 2;
            Choice c = choose(loss, budget, mid);
            if (c.quality.meanCosine() >= targetCosine) {
                met = mid;
                best = c.skipped > best.skipped ? c : best;
            } else {
                missed = mid;
            }
        }
        if (met < 0) {
            progress.println("calibrate: no choice met the target: the dense model is kept");
        }
        LayerTopK bestTopK = best.topK;
        CorpusEvaluation.Quality bestQuality = best.quality;
        double bestSkipped = best.skipped;
        // Uniform top-K saving the same weight reads, for comparison.
        double uniform = 1 - bestSkipped;
        CorpusEvaluation.Quality uq = bestSkipped == 0
                ? bestQuality
                : evaluate(LayerTopK.uniform(layers, uniform, uniform, uniform, uniform));
        return new Result(bestTopK, bestQuality, bestSkipped, uniform, uq, evaluations);
    }

    private Choice choose(double[][] loss, double budget, double slack) {
        LayerTopK choice = greedy(loss, budget * slack);
        CorpusEvaluation.Quality q = evaluate(choice);
        report(String.format(Locale.ROOT, "allowance %.3f", slack), choice, q);
        return new Choice(choice, q, skipped(choice));
    }

    /** Greedy steps by weight reads saved per unit of loss, the summed losses within {@code allowed}. */
    private LayerTopK greedy(double[][] loss, double allowed) {
        int layers = config.numLayers();
        int[] level = new int[loss.length]; // -1: dense; k: GRID[k]
        Arrays.fill(level, -1);
        double total = 0;
        while (true) {
            int bestP = -1;
            double bestValue = 0;
            double bestDelta = 0;
            for (int p = 0; p < loss.length; p++) {
                int next = level[p] + 1;
                if (next >= GRID.length || Double.isNaN(loss[p][next])) {
                    continue;
                }
                double from = level[p] < 0 ? 0 : loss[p][level[p]];
                double delta = Math.max(loss[p][next] - from, 0);
                if (total + delta > allowed) {
                    continue;
                }
                double was = level[p] < 0 ? 1 : GRID[level[p]];
                double gain = (was - GRID[next]) * weights[p % groups.length];
                double value = gain / Math.max(delta, 1e-7);
                if (value > bestValue) {
                    bestValue = value;
                    bestP = p;
                    bestDelta = delta;
                }
            }
            if (bestP < 0) {
                break;
            }
            level[bestP]++;
            total += bestDelta;
        }
        LayerTopK out = LayerTopK.uniform(layers, 1, 1, 1, 1);
        for (int p = 0; p < level.length; p++) {
            if (level[p] >= 0) {
                out = out.with(p / groups.length, groups[p % groups.length], GRID[level[p]]);
            }
        }
        return out;
    }

    /** The fraction of projection weight reads the kept fractions skip. */
    public double skipped(LayerTopK topK) {
        double all = 0;
        double saved = 0;
        for (int l = 0; l < topK.layers(); l++) {
            for (LayerTopK.Group g : groups) {
                all += weights[g.ordinal()];
                saved += (1 - topK.ratio(l, g)) * weights[g.ordinal()];
            }
        }
        return saved / all;
    }

    private CorpusEvaluation.Quality evaluate(LayerTopK topK) {
        evaluations++;
        return eval.evaluate(topK);
    }

    private void report(String what, LayerTopK choice, CorpusEvaluation.Quality q) {
        progress.printf(
                Locale.ROOT,
                "calibrate: %s: mean cosine %.4f, min %.4f, recall@10 %.3f, activation sparsity %.3f,"
                        + " weight reads skipped %.3f%n",
                what,
                q.meanCosine(),
                q.minCosine(),
                q.recallAt10(),
                q.activationSparsity(),
                skipped(choice));
    }
}
