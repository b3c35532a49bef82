package dev.qsparse.runtime.calibration;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.LayerTopK;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Embeds a corpus with an encoder under given kept fractions and compares every embedding with the
 * dense one: the same weights, every fraction 1 and float activations. Not the model's own 8-bit
 * activations: their rounding makes any change upstream (one input element dropped) re-roll every
 * later rounding, so two 8-bit variants differ from each other as much as each from the float
 * model; against the float activations, a figure is what quantization and top-K cost together.
 * One session per evaluation, on {@code threads} threads.
 */
public final class CorpusEvaluation {

    /**
     * Mean and least cosine to the dense embeddings, the runtime's mean activation sparsity, and
     * nearest-neighbour recall@10: per text, the share of its 10 nearest other texts by the dense
     * embeddings that are also its 10 nearest by these (1 with fewer than 12 texts to rank).
     */
    public record Quality(double meanCosine, double minCosine, double activationSparsity, double recallAt10) {}

    private static final int RECALL_K = 10;

    private static final int BATCH = 32;

    private final Model base;
    private final List<String> texts;
    private final int threads;
    private final List<float[]> dense;

    public CorpusEvaluation(Model base, List<String> texts, int threads) {
        if (!(base.config() instanceof BertConfig config)) {
            throw new IllegalArgumentException("calibration needs an encoder (model_type bert), not "
                    + base.config().modelType());
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no text to calibrate on");
        }
        this.base = base;
        this.texts = List.copyOf(texts);
        this.threads = threads;
        double[] ones = {1, 1, 1, 1};
        this.dense = embed(base.withTopK(LayerTopK.uniform(config.numLayers(), ones), 0), new double[1]);
    }

    public Quality evaluate(LayerTopK topK) {
        double[] sparsity = new double[1];
        List<float[]> got = embed(base.withTopK(topK), sparsity);
        double sum = 0;
        double min = 1;
        for (int i = 0; i < got.size(); i++) {
            double c = cosine(dense.get(i), got.get(i));
            sum += c;
            min = Math.min(min, c);
        }
        return new Quality(sum / got.size(), min, sparsity[0] / got.size(), recall(got));
    }

    private List<float[]> embed(Model view, double[] sparsitySum) {
        List<float[]> out = new ArrayList<>(texts.size());
        for (InferenceResult.Embedding e : embedAll(view, texts, threads)) {
            out.add(e.vector());
            sparsitySum[0] += e.stats().activationSparsity();
        }
        return out;
    }

    /** Every text's embedding by {@code view}, in batches of {@value #BATCH}; a text that fails is an error naming its line. */
    static List<InferenceResult.Embedding> embedAll(Model view, List<String> texts, int threads) {
        List<InferenceResult.Embedding> out = new ArrayList<>(texts.size());
        try (InferenceSession session = new InferenceSession(view, threads)) {
            for (int from = 0; from < texts.size(); from += BATCH) {
                List<InferenceRequest> batch = new ArrayList<>();
                for (String t : texts.subList(from, Math.min(texts.size(), from + BATCH))) {
                    batch.add(InferenceRequest.embed(t, null));
                }
                List<InferenceResult> results = session.run(batch);
                for (int i = 0; i < results.size(); i++) {
                    if (results.get(i) instanceof InferenceResult.Failure f) {
                        throw new IllegalArgumentException("corpus text " + (from + i + 1) + ": " + f.reason());
                    }
                    out.add((InferenceResult.Embedding) results.get(i));
                }
            }
        }
        return out;
    }

    private double recall(List<float[]> got) {
        int n = got.size();
        if (n <= RECALL_K + 1) {
            return 1;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            Set<Integer> want = nearest(dense, i);
            Set<Integer> have = nearest(got, i);
            have.retainAll(want);
            sum += have.size() / (double) RECALL_K;
        }
        return sum / n;
    }

    /** The {@value #RECALL_K} texts nearest to text {@code i} (itself left out). */
    private static Set<Integer> nearest(List<float[]> vectors, int i) {
        Integer[] order = new Integer[vectors.size() - 1];
        double[] cos = new double[vectors.size()];
        for (int j = 0, k = 0; j < vectors.size(); j++) {
            if (j != i) {
                cos[j] = cosine(vectors.get(i), vectors.get(j));
                order[k++] = j;
            }
        }
        Arrays.sort(order, (a, b) -> Double.compare(cos[b], cos[a]));
        return new HashSet<>(Arrays.asList(order).subList(0, RECALL_K));
    }

    /** Cosine of two vectors in double (1 for two zero vectors, 0 for one). */
    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / Math.sqrt(na * nb);
    }
}
