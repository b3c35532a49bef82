package dev.qsparse.runtime.kernel;

/**
 * The input of a linear projection after the sparsifier: the kept values (zeros elsewhere), the
 * indices of the non-zero ones, and a scale to put back on the product (the int8 step and any
 * rescale). Scratch owned by one inference session; not thread-safe.
 */
public final class ActivationBuffer {

    /** Kept values; integer-valued when the activations are int8-quantized. */
    public final float[] values;
    /** Indices of the non-zero entries of {@link #values}, ascending. */
    public final int[] index;
    /** Number of valid entries in {@link #index}. */
    public int count;
    /** Multiply the product W·values by this to get W·x̂. */
    public float outputScale = 1f;

    public ActivationBuffer(int width) {
        this.values = new float[width];
        this.index = new int[width];
    }

    public int width() {
        return values.length;
    }

    /** Product of W with the sparsified input, sparse when that reads fewer weights. */
    public void multiply(WeightMatrix w, float[] out) {
        if (count * 4 < values.length * 3) {
            w.matvecSparse(values, index, count, out);
        } else {
            w.matvec(values, out);
        }
        if (outputScale != 1f) {
            for (int i = 0; i < w.rows(); i++) {
                out[i] *= outputScale;
            }
        }
    }
}
