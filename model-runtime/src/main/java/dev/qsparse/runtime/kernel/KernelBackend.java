package dev.qsparse.runtime.kernel;

/**
 * The hot loops of the forward pass, behind one small interface so that each has a scalar
 * reference ({@link ScalarBackend}) and a Vector API implementation ({@code VectorBackend}) that
 * the tests hold equal. Pick one with {@link KernelBackends#best()}.
 *
 * <p>The kernels read heap arrays. Weights live in memory-mapped tensors (see {@link Int8Matrix});
 * the matrices hand the kernels either their heap copy or a small panel of the columns a product
 * needs, copied from the mapping with one bulk {@code get} per column: on JDK 17 a bulk copy plus
 * array loads runs about twice as fast as vector loads straight from a {@code ByteBuffer}.
 *
 * <p>Column kernels: {@code w[off[j] .. off[j] + len)} is the slice of input column j's weights
 * for outputs {@code accOff .. accOff + len}; {@code xs[j]} is that input's value. They add to
 * {@code acc}, never clear it. {@code len} is a multiple of 64 (whole output groups). Ternary
 * slices hold 2-bit codes {@code w + 1} (0 = -1, 1 = 0, 2 = +1), {@code len / 4} bytes: output
 * {@code 64g + 16k + i} (k in 0..3, i in 0..15, relative to the slice) is in byte {@code 16g + i}, bits
 * {@code 2k, 2k+1}; the caller subtracts {@code sum_j xs[j]} to turn code sums into weight sums.
 * Implementations are stateless and thread-safe.
 */
public interface KernelBackend {

    /** "scalar", "vector-256", "vector-512": for logs, metrics and the bench table. */
    String name();

    /** GELU in its exact form, x * Phi(x), in place over {@code x[0, n)} (see {@link Gelu}). */
    default void gelu(float[] x, int n) {
        Gelu.apply(x, n);
    }

    /** out[outOff + r] = sum_c w[wOff + r * cols + c] * x[c] for r < rows (row-major float weights). */
    void f32Rows(float[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows);

    /**
     * As {@link #f32Rows} for bfloat16 weights given as their raw 16-bit patterns (the top half of a
     * float32): {@code out[outOff + r] = sum_c bf16(w[wOff + r * cols + c]) * x[c]}.
     */
    void bf16Rows(short[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows);

    /** Int8 weights, int8 activations (integers in [-128, 127]): integer products, exact int sums. */
    void int8Int(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len);

    /** Int8 weights, float activations. */
    void int8Float(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len);

    /** Ternary codes, int8 activations: exact int sums of xs[j] * code. */
    void ternaryInt(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len);

    /** Ternary codes, float activations. */
    void ternaryFloat(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len);

    /**
     * Row-major float GEMM for a micro-batch: {@code out[t][outOff + r] = sum_c w[wOff + r * cols + c] * x[t][c]}
     * for r < rows, t < count. Each (r, t) sum is taken in the same order whatever {@code count} is,
     * so a batch gives bit for bit what {@link #f32Rows} gives one input at a time.
     */
    void f32Gemm(float[] w, int wOff, int cols, float[][] x, int count, float[][] out, int outOff, int rows);

    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** y[yOff + i] += a * x[xOff + i] for i in [0, n). */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * Attention scores over a {@link KeyBlocks} cache: for t < count, {@code scores[t] = acc * scale}
     * where {@code acc} starts at 0 and takes {@code acc = fma(q[qOff + d], key(t, channel + d), acc)}
     * for d = 0, 1, ..., n - 1 in that order (so every backend gives the same bits). {@code scores}
     * has room for {@code count} rounded up to whole blocks; entries past count are left undefined.
     */
    default void keyScores(
            float[] q,
            int qOff,
            float[] keys,
            int channel,
            int kvStride,
            int count,
            int n,
            float scale,
            float[] scores) {
        for (int t = 0; t < count; t++) {
            int base = KeyBlocks.index(t, channel, kvStride);
            float acc = 0f;
            for (int d = 0; d < n; d++) {
                acc = Math.fma(q[qOff + d], keys[base + d * KeyBlocks.POSITIONS], acc);
            }
            scores[t] = acc * scale;
        }
    }

    /**
     * Attention output: {@code out[outOff + i] = sum_t w[t] * v[t * stride + vOff + i]} for i < n,
     * exactly as clearing {@code out} and calling {@link #axpy} for t = 0, 1, ..., count - 1.
     */
    default void weightedSum(float[] w, int count, float[] v, int vOff, int stride, float[] out, int outOff, int n) {
        java.util.Arrays.fill(out, outOff, outOff + n, 0f);
        for (int t = 0; t < count; t++) {
            axpy(w[t], v, t * stride + vOff, out, outOff, n);
        }
    }

    /**
     * {@link #keyScores} for four queries of the same head and channel ({@code q[j]} from {@code qOff}),
     * each over {@code count} positions into {@code scores[j]}: the same bits as four calls (a
     * query that attends to fewer positions ignores the rest). Lets a pass of consecutive positions
     * of one sequence read each key once for four of them.
     */
    default void keyScores4(
            float[][] q,
            int qOff,
            float[] keys,
            int channel,
            int kvStride,
            int count,
            int n,
            float scale,
            float[][] scores) {
        for (int j = 0; j < 4; j++) {
            keyScores(q[j], qOff, keys, channel, kvStride, count, n, scale, scores[j]);
        }
    }

    /**
     * {@link #weightedSum} for four queries over the same values, query j over its first
     * {@code counts[j]} positions with weights {@code w[j]} into {@code out[j]}: the same bits as four calls.
     */
    default void weightedSum4(
            float[][] w, int[] counts, float[] v, int vOff, int stride, float[][] out, int outOff, int n) {
        for (int j = 0; j < 4; j++) {
            weightedSum(w[j], counts[j], v, vOff, stride, out[j], outOff, n);
        }
    }

    /** The attention softmax in place over x[off, off + len), as {@link AttentionSoftmax#softmax} defines it. */
    default void softmax(float[] x, int off, int len) {
        AttentionSoftmax.softmax(x, off, len);
    }

    /**
     * The k-th largest (1-based) of |x[0..n)|, as {@link TopK#kthLargestMagnitudeOf} (same value, same
     * bits: zeros count as +0, a NaN above everything); {@code scratch} holds n floats.
     */
    default float kthLargestMagnitude(float[] x, float[] scratch, int n, int k, int maxBits) {
        return TopK.kthLargestMagnitudeOf(x, scratch, n, k, maxBits);
    }

    /** max |x[i]| over [0, n) (a maximum: exact in any order); 0 for n = 0. */
    default float absMax(float[] x, int n) {
        return Sparsifier.absMax(x, n);
    }

    /** How many of v[0, n) are non-zero (+0 and -0 are zero). */
    default int countNonZero(float[] v, int n) {
        int count = 0;
        for (int i = 0; i < n; i++) {
            count += v[i] != 0f ? 1 : 0;
        }
        return count;
    }

    /** {@link Kernels#ropeRotateHalf}: the same multiplies, subtract and add per pair, so the same bits. */
    default void ropeRotateHalf(float[] v, int off, int headDim, float[] cos, float[] sin) {
        Kernels.ropeRotateHalf(v, off, headDim, cos, sin);
    }

    /**
     * The kept entries of a float (unquantized) input: {@code out[i] = |x[i]| >= threshold ? x[i] :
     * +0} (a float compare, so a NaN input or threshold drops the entry), for i < n. Returns how
     * many of out[0, n) are non-zero ({@link #countNonZero}).
     */
    default int keepAtLeast(float[] x, int n, float threshold, float[] out) {
        for (int i = 0; i < n; i++) {
            out[i] = Math.abs(x[i]) >= threshold ? x[i] : 0f;
        }
        return countNonZero(out, n);
    }

    /**
     * Int8 quantization of the kept entries (threshold: a magnitude, +0 or more, or NaN):
     * {@code out[i] = Sparsifier.quantizeFast(x[i], s)} where
     * {@code |x[i]| >= threshold} (compared as the non-negative floats' bit patterns, so a NaN is
     * kept), else +0, for i < n. Returns how many of out[0, n) are non-zero ({@link #countNonZero}).
     */
    default int quantizeKept(float[] x, int n, float s, float threshold, float[] out) {
        int t = Float.floatToRawIntBits(threshold);
        for (int i = 0; i < n; i++) {
            float xi = x[i];
            // Branch-free: whether an entry is kept is a coin flip at 50% top-K, so a branch
            // here mispredicts half the time. |x| and the threshold are non-negative floats,
            // whose bit patterns order like ints.
            int keep = ~((Float.floatToRawIntBits(Math.abs(xi)) - t) >> 31); // -1 kept, 0 dropped
            out[i] = Float.intBitsToFloat(Float.floatToRawIntBits(Sparsifier.quantizeFast(xi, s)) & keep);
        }
        return countNonZero(out, n);
    }
}
