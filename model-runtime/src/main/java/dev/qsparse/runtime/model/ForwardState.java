package dev.qsparse.runtime.model;

/**
 * Per-sequence mutable state of a forward pass: the KV cache and scratch buffers. Owned by one
 * session and used by one thread at a time; never shared.
 */
public abstract class ForwardState {

    /** The output hidden state of the last forward step (what embeddings pool and logits read). */
    public final float[] hidden;
    private long nonZeroActivations;
    private long totalActivations;

    protected ForwardState(int hiddenSize) {
        this.hidden = new float[hiddenSize];
    }

    /** Make room in the KV cache for positions [0, positions). */
    public abstract void ensureCapacity(int positions);

    /** Positions the KV cache can hold without growing. */
    public abstract int capacity();

    void recordActivations(int nonZero, int width) {
        nonZeroActivations += nonZero;
        totalActivations += width;
    }

    /** Fraction of zero entries in the inputs of linear projections since the last reset. */
    public double activationSparsity() {
        return totalActivations == 0 ? 0.0 : 1.0 - (double) nonZeroActivations / totalActivations;
    }

    public void resetSparsityStats() {
        nonZeroActivations = 0;
        totalActivations = 0;
    }

    static float[] grow(float[] cache, int positions, int stride) {
        if ((long) positions * stride <= cache.length) {
            return cache;
        }
        int newPositions = Math.max(positions, Math.max(16, cache.length / Math.max(1, stride) * 2));
        return java.util.Arrays.copyOf(cache, newPositions * stride);
    }
}
