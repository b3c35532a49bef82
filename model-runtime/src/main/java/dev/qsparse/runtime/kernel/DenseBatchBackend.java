package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * A dense float32 matrix-matrix product for micro-batches (prefill, embed, score), provided by an
 * optional module (backend-nd4j: ND4J over OpenBLAS) and found at run time with
 * {@link java.util.ServiceLoader}. Only used for F32 weights and only where it measures faster
 * than the Vector API path for that shape (see {@link FloatMatrix#multiplyBatch}); its results
 * agree with the Vector API path within float rounding, not bit for bit.
 */
public interface DenseBatchBackend {

    /** "nd4j", for metrics and the bench table. */
    String name();

    /**
     * {@code out[t][r] = sum_c W[r, c] * x[t][c]} for {@code t < count}, {@code r < rows}; W is
     * row-major float32 little-endian bytes ({@code rows * cols * 4}), typically a memory-mapped
     * tensor that must not be copied per call.
     */
    void multiply(ByteBuffer w, int rows, int cols, float[][] x, int count, float[][] out);

    /** Threads the backend's native library may use (its OpenMP pool); called once per session. */
    void setThreads(int threads);
}
