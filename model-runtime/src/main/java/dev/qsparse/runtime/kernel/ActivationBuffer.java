package dev.qsparse.runtime.kernel;

/**
 * The input of a linear projection after the sparsifier: the kept values (zeros elsewhere), the
 * indices of the non-zero ones, and a scale to put back on the product (the int8 step and any
 * rescale). Scratch owned by one inference session; not thread-safe.
 */
public final class ActivationBuffer {

    /** Kept values; integer-valued when the activations are int8-quantized. */
    public final float[] values;
    /** Indices of the non-zero entries of {@link #values}, ascending: see {@link #index()}. */
    private final int[] index;
    /** Whether {@link #index} lists the current values' non-zero entries. */
    private boolean indexed;
    /** Number of non-zero entries of {@link #values} (of the index, once listed). */
    public int count;
    /** Multiply the product W·values by this to get W·x̂. */
    public float outputScale = 1f;
    /**
     * True when every value is an integer in [-128, 127] (int8 activations): integer-weight
     * kernels then multiply and sum in integers.
     */
    public boolean integer;

    /**
     * Inputs kept out of the int8 step (activation outliers): their indices, ascending, and their
     * float values; the product adds {@code W[:, i] * x[i]} for each after the integer product.
     * Allocated on first use; zero entries of {@link #values} stand at their positions.
     */
    private int[] outlierIndex;

    private float[] outlierValues;
    private int outlierCount;

    public ActivationBuffer(int width) {
        this.values = new float[width];
        this.index = new int[width];
    }

    /** Number of activation outliers (float inputs beside the int8 ones); 0 unless the sparsifier set some. */
    public int outlierCount() {
        return outlierCount;
    }

    /** Index of outlier {@code j} (ascending in j). */
    public int outlierIndex(int j) {
        return outlierIndex[j];
    }

    /** Float value of outlier {@code j}. */
    public float outlierValue(int j) {
        return outlierValues[j];
    }

    /** Non-zero inputs of the product: the listed values and the outliers. */
    public int nonZeroInputs() {
        return count + outlierCount;
    }

    /** Appends an outlier (call in ascending index order, after {@link #valuesChanged}). */
    void addOutlier(int i, float value) {
        if (outlierIndex == null) {
            outlierIndex = new int[values.length];
            outlierValues = new float[values.length];
        }
        outlierIndex[outlierCount] = i;
        outlierValues[outlierCount] = value;
        outlierCount++;
    }

    public int width() {
        return values.length;
    }

    /**
     * Indices of the non-zero entries of {@link #values}, ascending, the first {@link #count} valid:
     * listed on first use after the values changed (the batch kernels read the values whole and
     * never need it; the column kernels of one input do). Not thread-safe, like the buffer: a
     * product that splits its work across threads lists it first, on the calling thread.
     */
    public int[] index() {
        if (!indexed) {
            int c = 0;
            for (int i = 0; i < values.length; i++) {
                index[c] = i;
                c += values[i] != 0f ? 1 : 0; // no branch: a kept entry is a coin flip at 50% top-K
            }
            if (c != count) {
                throw new IllegalStateException(c + " non-zero values, " + count + " counted");
            }
            indexed = true;
        }
        return index;
    }

    /** The values were rewritten, {@code nonZero} of them non-zero: the index is listed when asked for. */
    public void valuesChanged(int nonZero) {
        count = nonZero;
        indexed = false;
        outlierCount = 0;
    }

    /** For a writer that lists the non-zero entries itself: the index array to fill (then set {@link #count}). */
    public int[] indexToFill() {
        indexed = true;
        outlierCount = 0;
        return index;
    }

    /** Loads a dense float vector as it is (no sparsifier): every non-zero entry is listed, scale 1. */
    public void setDense(float[] x) {
        int n = values.length;
        int c = 0;
        for (int i = 0; i < n; i++) {
            float v = x[i];
            values[i] = v;
            if (v != 0f) {
                index[c++] = i;
            }
        }
        count = c;
        indexed = true;
        outlierCount = 0;
        outputScale = 1f;
        integer = false;
    }

    /** Product of W with the sparsified input on the calling thread, with the JVM's best kernels. */
    public void multiply(WeightMatrix w, float[] out) {
        w.multiply(this, out, Workspace.single());
    }
}
