package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.model.ForwardState;

/**
 * An embed request: the hidden states of positions {@code [textStart, n)} pooled ({@link Pooling};
 * the first and last are positions 0 and n - 1), then L2-normalised when the model says so.
 */
final class EmbedSequence extends Sequence {

    private final Pooling pooling;
    private final int textStart;
    private final boolean truncated;
    private final boolean normalize;
    private final float[] pooled;

    /** {@code tokens}: the prefix and the text; the first {@code n} positions are embedded. */
    EmbedSequence(
            int slot,
            ForwardState state,
            int[] tokens,
            int n,
            boolean truncated,
            Pooling pooling,
            int textStart,
            boolean normalize,
            int hidden) {
        super(slot, state, tokens, n);
        this.pooling = pooling;
        this.textStart = textStart;
        this.truncated = truncated;
        this.normalize = normalize;
        this.pooled = new float[hidden];
        if (pooling == Pooling.MAX) {
            java.util.Arrays.fill(pooled, Float.NEGATIVE_INFINITY);
        }
    }

    @Override
    boolean wantsLogits(int pos) {
        return false;
    }

    @Override
    void accept(int pos, float[] hidden, float[] logits) {
        switch (pooling) {
            case LAST -> {
                if (pos == known - 1) {
                    System.arraycopy(hidden, 0, pooled, 0, pooled.length);
                }
            }
            case CLS -> {
                if (pos == 0) {
                    System.arraycopy(hidden, 0, pooled, 0, pooled.length);
                }
            }
            case MAX -> {
                if (pos >= textStart) {
                    for (int i = 0; i < pooled.length; i++) {
                        pooled[i] = Math.max(pooled[i], hidden[i]);
                    }
                }
            }
            case MEAN -> {
                if (pos >= textStart) {
                    Kernels.add(pooled, hidden, pooled.length);
                }
            }
        }
    }

    @Override
    InferenceResult result(long startNanos) {
        if (pooling == Pooling.MEAN && !normalize) {
            // Normalisation makes the sum's scale irrelevant; without it the mean is the result.
            float inv = 1f / (known - textStart);
            for (int i = 0; i < pooled.length; i++) {
                pooled[i] *= inv;
            }
        }
        float[] vector = normalize ? normalize(pooled) : pooled;
        return new InferenceResult.Embedding(vector, pooling, stats(known, truncated, startNanos));
    }

    private static float[] normalize(float[] vector) {
        double norm = 0;
        for (float v : vector) {
            norm += (double) v * v;
        }
        float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < vector.length; i++) {
            vector[i] *= inv;
        }
        return vector;
    }
}
