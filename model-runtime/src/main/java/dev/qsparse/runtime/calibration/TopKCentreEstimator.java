package dev.qsparse.runtime.calibration;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.BertEncoder;
import dev.qsparse.runtime.model.LayerTopK;
import dev.qsparse.runtime.model.TopKCentres;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The per-channel median of every projection input over a corpus's dense pass (float activations,
 * nothing dropped): the {@link TopKCentres} {@code bin/qsparse calibrate} writes. The median, not
 * the mean: top-K then keeps the inputs farthest from the typical value, and on MiniLM the median
 * keeps more of the embedding than the mean at the same sparsity (BENCHMARKS.md). Each input's
 * tokens are sampled into a reservoir of {@value #MAX_TOKENS} (33 MB for MiniLM), fewer where a
 * large encoder's inputs would take more than {@value #MAX_SAMPLE_MIB} MiB together: memory is
 * bounded whatever the corpus and, down to {@value #MIN_TOKENS} tokens, whatever the encoder.
 */
public final class TopKCentreEstimator implements BertEncoder.InputProbe {

    /** Tokens kept per input: the median of 512 draws is within ~0.06 standard deviations. */
    public static final int MAX_TOKENS = 512;

    /** The fewest tokens kept per input, whatever the encoder's size. */
    public static final int MIN_TOKENS = 32;

    /** What the samples of all inputs may take together (bge-large's 24 layers would need 350 MB at 512). */
    public static final int MAX_SAMPLE_MIB = 128;

    private static final LayerTopK.Group[] GROUPS = LayerTopK.Group.values();

    /** One input's reservoir: row-major tokens of {@code width} values. */
    private static final class Reservoir {
        final int width;
        final int capacity;
        final float[] rows;
        final Random random;
        long seen;

        Reservoir(int width, int capacity, long seed) {
            this.width = width;
            this.capacity = capacity;
            this.rows = new float[Math.multiplyExact(capacity, width)];
            this.random = new Random(seed);
        }

        synchronized void add(float[] x) {
            seen++;
            long slot = seen <= capacity ? seen - 1 : (long) (random.nextDouble() * seen);
            if (slot < capacity) {
                System.arraycopy(x, 0, rows, (int) slot * width, width);
            }
        }

        float[] median() {
            int n = (int) Math.min(seen, capacity);
            float[] out = new float[width];
            float[] column = new float[n];
            for (int c = 0; c < width; c++) {
                for (int t = 0; t < n; t++) {
                    column[t] = rows[t * width + c];
                }
                Arrays.sort(column);
                out[c] = (float) (((double) column[(n - 1) / 2] + column[n / 2]) / 2);
            }
            return out;
        }
    }

    private final Reservoir[][] reservoirs;

    private TopKCentreEstimator(BertConfig config) {
        long floatsPerToken = (long) config.numLayers() * (3L * config.hiddenSize() + config.intermediateSize());
        int capacity = tokensPerInput(floatsPerToken);
        reservoirs = new Reservoir[config.numLayers()][GROUPS.length];
        for (int l = 0; l < reservoirs.length; l++) {
            for (LayerTopK.Group g : GROUPS) {
                int width = g == LayerTopK.Group.MLP_OUT ? config.intermediateSize() : config.hiddenSize();
                reservoirs[l][g.ordinal()] = new Reservoir(width, capacity, 31L * l + g.ordinal());
            }
        }
    }

    /**
     * Tokens kept per input when every input's sample together holds {@code floatsPerToken} floats a
     * token: {@value #MAX_TOKENS}, fewer to stay within {@value #MAX_SAMPLE_MIB} MiB, at least
     * {@value #MIN_TOKENS}.
     */
    static int tokensPerInput(long floatsPerToken) {
        long fit = ((long) MAX_SAMPLE_MIB << 20) / (4 * floatsPerToken);
        return (int) Math.max(MIN_TOKENS, Math.min(MAX_TOKENS, fit));
    }

    @Override
    public void input(int layer, LayerTopK.Group group, float[] x, int width) {
        reservoirs[layer][group.ordinal()].add(x);
    }

    /**
     * The medians of every projection input of {@code encoder} over {@code texts}' dense float pass.
     * The pass runs on one thread: with several, a layer's positions would reach the reservoirs in
     * an order that varies from run to run, and so would the sample and the medians; one pass is a
     * small part of a calibration.
     */
    public static TopKCentres estimate(Model encoder, List<String> texts) {
        if (!(encoder.config() instanceof BertConfig config)) {
            throw new IllegalArgumentException("top-K centres are for encoders (model_type bert), not "
                    + encoder.config().modelType());
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no text to estimate top-K centres on");
        }
        TopKCentreEstimator probe = new TopKCentreEstimator(config);
        double[] dense = new double[GROUPS.length];
        Arrays.fill(dense, 1);
        Model view = encoder.withTopKCentres(null)
                .withTopK(LayerTopK.uniform(config.numLayers(), dense), 0)
                .withInputProbe(probe);
        CorpusEvaluation.embedAll(view, texts, 1);
        float[][][] medians = new float[config.numLayers()][GROUPS.length][];
        for (int l = 0; l < medians.length; l++) {
            for (LayerTopK.Group g : GROUPS) {
                medians[l][g.ordinal()] = probe.reservoirs[l][g.ordinal()].median();
            }
        }
        return TopKCentres.of(medians, config.hiddenSize(), config.intermediateSize());
    }
}
