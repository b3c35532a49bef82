package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.model.ForwardState;

/** An embed request: the text's hidden states pooled (mean over the text's positions, or the last), then L2-normalised. */
final class EmbedSequence extends Sequence {

    private final Pooling pooling;
    private final int textStart;
    private final boolean truncated;
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
            int hidden) {
        super(slot, state, tokens, n);
        this.pooling = pooling;
        this.textStart = textStart;
        this.truncated = truncated;
        this.pooled = new float[hidden];
    }

    @Override
    boolean wantsLogits(int pos) {
        return false;
    }

    @Override
    void accept(int pos, float[] hidden, float[] logits) {
        if (pooling == Pooling.LAST) {
            if (pos == known - 1) {
                System.arraycopy(hidden, 0, pooled, 0, pooled.length);
            }
        } else if (pos >= textStart) {
            Kernels.add(pooled, hidden, pooled.length);
        }
    }

    @Override
    InferenceResult result(long startNanos) {
        return new InferenceResult.Embedding(normalize(pooled), pooling, stats(known, truncated, startNanos));
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
