package dev.qsparse.runtime.kernel;

/**
 * A read-only weight matrix W of shape [rows = out features, cols = in features], as the
 * product kernels see it. Implementations are immutable and safe to share between threads.
 */
public interface WeightMatrix {

    int rows();

    int cols();

    /** {@code out[r] = sum_c W[r, c] * x[c]} for every row. */
    void matvec(float[] x, float[] out);

    /**
     * {@code out[r] = sum_j W[r, index[j]] * x[index[j]]} over the {@code count} kept inputs: the
     * weights of dropped (zero) activations are never read.
     */
    void matvecSparse(float[] x, int[] index, int count, float[] out);

    /**
     * {@code out[r] = outputScale * sum_j W[r, c_j] * values[c_j]} over the buffer's kept inputs,
     * plus {@code W[r, i] * x_i} for each of its activation outliers ({@link #addOutliers}),
     * with the workspace's kernels and threads. Formats laid out by input channel read only the
     * weights of the kept inputs.
     */
    void multiply(ActivationBuffer in, float[] out, Workspace ws);

    /**
     * The same product for {@code count} inputs at once (a micro-batch): each result is exactly
     * what {@link #multiply} gives for that input alone, but the weights are streamed from memory
     * once per tile for the whole batch instead of once per input.
     */
    void multiplyBatch(ActivationBuffer[] in, int count, float[][] out, Workspace ws);

    /** {@code out[r] += W[r, c] * x} for every row: one input's share of the product, in float. */
    void addColumn(int c, float x, float[] out);

    /**
     * Adds the float products of the buffer's activation outliers ({@link
     * ActivationBuffer#outlierCount}), in ascending input order: what {@link #multiply} and {@link
     * #multiplyBatch} add after the integer product of the other inputs.
     */
    default void addOutliers(ActivationBuffer in, float[] out) {
        for (int j = 0; j < in.outlierCount(); j++) {
            addColumn(in.outlierIndex(j), in.outlierValue(j), out);
        }
    }

    /** Copies row {@code r} (for embedding look-ups), widened to float. */
    void row(int r, float[] out);

    /** How the weights are stored, for logs and metrics: "F32", "BF16", "ternary", "int8". */
    String format();

    /** Bytes of weight storage, for bandwidth accounting. */
    long storedBytes();

    /** Bytes of weights one {@link #multiply} reads when {@code keptInputs} inputs are non-zero. */
    default long bytesRead(int keptInputs) {
        return storedBytes();
    }
}
