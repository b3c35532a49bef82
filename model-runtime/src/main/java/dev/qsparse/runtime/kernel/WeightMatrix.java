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

    /** Copies row {@code r} (for embedding look-ups), widened to float. */
    void row(int r, float[] out);

    /** How the weights are stored, for logs and metrics: "F32", "BF16", "ternary", "int8". */
    String format();

    /** Bytes of weight storage, for bandwidth accounting. */
    long storedBytes();
}
