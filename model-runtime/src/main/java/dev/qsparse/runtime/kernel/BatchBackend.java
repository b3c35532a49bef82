package dev.qsparse.runtime.kernel;

/**
 * Products from an optional module (backend-native: x86 SIMD through JNI), opened at run time by
 * {@link Backends} through a {@link BatchBackendProvider}. Two kinds:
 * <ul>
 *   <li>Integer micro-batches of the column formats ({@link Int8Matrix}, {@link TernaryMatrix})
 *       with int8 activations: the sums are exact integers and the float finish repeats the Java
 *       kernels' operations in their order, so a result is bit for bit what the Vector API kernels
 *       give, at every level; the runtime uses them when the batch is large enough to pay for the
 *       per-call weight repacking.
 *   <li>Float32 products ({@link #f32}) of mapped F32 tensors, for single inputs and batches alike,
 *       in the backend's own fixed summation order (the same at every level).
 * </ul>
 *
 * <p>Every call takes three typed parts: the {@link WeightSlice} (which outputs of which weights),
 * the {@link ActivationBatch} and the {@link OutputBlock}. Calls for disjoint output ranges may run
 * on different threads at once, each with its own scratch.
 */
public interface BatchBackend {

    /** "native-avx512-vnni", "native-avx-vnni" or "native-avx2": for logs, metrics and the bench table. */
    String name();

    /** Scratch bytes one integer call needs. */
    long scratchBytes(int cols, int count, int xStride);

    /**
     * An int8 or ternary product of int8 activations, outputs {@code [o0, o0 + len)}:
     * <ul>
     *   <li>int8: {@code out[t][o] = (float) sum_c W[o, c] * x[t][c] * rowScales[o] * tokenScales[t]};
     *   <li>ternary: {@code out[t][o] = (float) (sum_c code(o, c) * x[t][c] - tokenSums[t]) * tokenScales[t]}.
     * </ul>
     */
    void integer(WeightSlice weights, ActivationBatch x, OutputBlock out);

    /** Whether {@link #integerSparse} is implemented. */
    default boolean hasSparse() {
        return false;
    }

    /**
     * The product {@link #integer} computes, for each input over its own kept columns only ({@code
     * x.index()}: the first {@code x.counts()[t]} column numbers of row t, every nonzero activation
     * listed), straight from the weights' layout: no repack, and a column whose activation is zero is
     * never read. For decode steps and batches too small to pay for {@link #integer}'s repacking; the
     * scratch holds at least {@link #scratchBytes} bytes.
     */
    default void integerSparse(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        throw new UnsupportedOperationException(name() + " has no sparse integer products");
    }

    /**
     * Int8 weights times float activations (an lm head, whose input is not quantized), bit for bit
     * as the Java {@code int8Float} kernel: per output, {@code acc = fma(W[o, c], x[t][c], acc)} over
     * input t's kept columns in their order ({@code x.index()}, the first {@code x.counts()[t]} of
     * its row), then {@code out[t][o] = acc * rowScales[o] * tokenScales[t]}.
     */
    void int8Float(WeightSlice weights, ActivationBatch x, OutputBlock out);

    /** Whether {@link #f32} is implemented. */
    default boolean hasF32() {
        return false;
    }

    /**
     * Float32 rows {@code [o0, o0 + len)} of a {@link WeightSlice.Layout#F32_ROWS} tensor for every
     * input. Every sum is taken in one fixed order (16 lane partials of fused multiply-adds, a
     * halving tree, then the columns past a multiple of 16 in order), so a micro-batch gives bit for
     * bit what one input at a time gives, at every level; against the Java kernels (lanes summed one
     * after another) the last bits differ.
     */
    default void f32(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        throw new UnsupportedOperationException(name() + " has no float32 products");
    }
}
