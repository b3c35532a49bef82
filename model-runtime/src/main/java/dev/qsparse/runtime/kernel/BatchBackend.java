package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * Products from an optional module (backend-native: AVX-512 through JNI), found at run time with
 * {@link java.util.ServiceLoader} by {@link Backends}. Two kinds:
 * <ul>
 *   <li>Integer micro-batches of the column formats ({@link Int8Matrix}, {@link TernaryMatrix})
 *       with int8 activations: the sums are exact integers and the float finish repeats the Java
 *       kernels' operations in their order, so a result is bit for bit what the Vector API kernels
 *       give; the runtime uses them when the batch is large enough to pay for the per-call weight
 *       repacking.
 *   <li>Float32 products ({@link #f32}) of mapped F32 tensors, for single inputs and batches alike,
 *       in the backend's own fixed summation order.
 * </ul>
 *
 * <p>Operands are direct little-endian buffers (native code reads them in place): {@code x} holds
 * {@code count} rows of {@code xStride} floats (the int8 activations as integers, zero past the
 * matrix's inputs; {@code xStride} a multiple of 64); {@code tokenScales} one float per row;
 * {@code out} receives {@code count} rows of {@code outStride} floats, of which this call writes
 * outputs {@code [o0, o0 + len)} ({@code o0} and {@code len} multiples of 64). Calls for disjoint
 * output ranges may run on different threads at once, each with its own direct {@code scratch} of
 * at least {@link #scratchBytes} bytes.
 */
public interface BatchBackend {

    /** "native-avx512-vnni", for logs, metrics and the bench table. */
    String name();

    /** Scratch bytes one call needs. */
    long scratchBytes(int cols, int count, int xStride);

    /**
     * Int8 weights as {@link Int8Matrix} stores them ({@code [cols][stride]}, one byte per output;
     * exactly one of {@code mapped} (direct) and {@code heap} non-null) and {@code rowScales} (a
     * float per output, padded outputs included):
     * {@code out[t][o] = (float) sum_c W[o, c] * x[t][c] * rowScales[o] * tokenScales[t]}.
     */
    void int8(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer out,
            int outStride,
            ByteBuffer scratch);

    /**
     * Ternary codes as {@link TernaryMatrix} stores them ({@code [cols][stride]}, 2 bits per output,
     * codes 0, 1, 2 for -1, 0, +1): {@code out[t][o] = (float) (sum_c code(o, c) * x[t][c] - tokenSums[t])
     * * tokenScales[t]}, with {@code tokenSums[t] = sum_c x[t][c]} (int32 per row).
     */
    void ternary(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer tokenSums,
            ByteBuffer out,
            int outStride,
            ByteBuffer scratch);

    /**
     * Int8 weights times float activations (an lm head, whose input is not quantized), bit for bit
     * as the Java {@code int8Float} kernel: per output, {@code acc = fma(W[o, c], x[t][c], acc)} over
     * input t's kept columns in their order ({@code index}: {@code count} rows of {@code xStride}
     * int32 column numbers, the first {@code counts[t]} used), then
     * {@code out[t][o] = acc * rowScales[o] * tokenScales[t]}.
     */
    void int8Float(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            ByteBuffer index,
            ByteBuffer counts,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer out,
            int outStride);

    /** Whether {@link #f32} is implemented. */
    default boolean hasF32() {
        return false;
    }

    /**
     * Float32 rows {@code [r0, r0 + n)} of a {@code rows x cols} row-major tensor ({@code weights}, a
     * direct little-endian buffer) for {@code count} inputs ({@code x}: rows of {@code xStride}
     * floats; {@code out}: rows of {@code outStride} floats, output r of input t at
     * {@code t * outStride + r}). Every sum is taken in one fixed order (16 lane partials of fused
     * multiply-adds, a halving tree, then the columns past a multiple of 16 in order), so on this
     * backend a micro-batch gives bit for bit what one input at a time gives; against the Java
     * kernels (lanes summed one after another) the last bits differ.
     */
    default void f32(
            ByteBuffer weights,
            int rows,
            int cols,
            int r0,
            int n,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer out,
            int outStride) {
        throw new UnsupportedOperationException(name() + " has no float32 products");
    }
}
