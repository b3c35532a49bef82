package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.ActivationBuffer;

/**
 * Per-layer counts of zero and near-zero entries of the feed-forward activation h, before its
 * sparsifier and at the input of down_proj (after it), accumulated over every position a state
 * forwards while this recorder is attached ({@link ForwardState#measureFeedForwardSparsity}).
 * Near zero: exactly zero or {@code |a| < NEAR_ZERO_FRACTION * max|a|} of the same row (one
 * position's vector), in float, as training/ffn_sparsity.py counts it. Owned by one state.
 */
public final class FeedForwardSparsity {

    /** Near-zero threshold as a fraction of the row's largest magnitude. */
    public static final float NEAR_ZERO_FRACTION = 1e-3f;

    private final long[] entries;
    private final long[] exactZeroBefore;
    private final long[] nearZeroBefore;
    private final long[] exactZeroInput;
    private final long[] nearZeroInput;

    public FeedForwardSparsity(int layers) {
        if (layers < 1) {
            throw new IllegalArgumentException("layers must be positive, got " + layers);
        }
        entries = new long[layers];
        exactZeroBefore = new long[layers];
        nearZeroBefore = new long[layers];
        exactZeroInput = new long[layers];
        nearZeroInput = new long[layers];
    }

    public int layers() {
        return entries.length;
    }

    /** {@code h}: the activation before the sparsifier; {@code downInput}: what down_proj multiplies. */
    void record(int layer, float[] h, ActivationBuffer downInput) {
        int width = downInput.width();
        entries[layer] += width;
        float threshold = maxMagnitude(h, width) * NEAR_ZERO_FRACTION;
        for (int i = 0; i < width; i++) {
            float a = Math.abs(h[i]);
            if (a == 0f) {
                exactZeroBefore[layer]++;
                nearZeroBefore[layer]++;
            } else if (a < threshold) {
                nearZeroBefore[layer]++;
            }
        }
        // The buffer lists its non-zero entries; its scale (int8 step) does not change the ratios.
        float inputMax = 0f;
        int[] downIndex = downInput.index();
        for (int j = 0; j < downInput.count; j++) {
            inputMax = Math.max(inputMax, Math.abs(downInput.values[downIndex[j]]));
        }
        float inputThreshold = inputMax * NEAR_ZERO_FRACTION;
        long zeros = width - downInput.count;
        long near = zeros;
        for (int j = 0; j < downInput.count; j++) {
            if (Math.abs(downInput.values[downIndex[j]]) < inputThreshold) {
                near++;
            }
        }
        exactZeroInput[layer] += zeros;
        nearZeroInput[layer] += near;
    }

    private static float maxMagnitude(float[] x, int width) {
        float max = 0f;
        for (int i = 0; i < width; i++) {
            max = Math.max(max, Math.abs(x[i]));
        }
        return max;
    }

    /** Entries of h counted in {@code layer} (positions times intermediate size). */
    public long entries(int layer) {
        return entries[layer];
    }

    public long exactZeroBeforeSparsifier(int layer) {
        return exactZeroBefore[layer];
    }

    public long nearZeroBeforeSparsifier(int layer) {
        return nearZeroBefore[layer];
    }

    public long exactZeroAtDownInput(int layer) {
        return exactZeroInput[layer];
    }

    public long nearZeroAtDownInput(int layer) {
        return nearZeroInput[layer];
    }
}
