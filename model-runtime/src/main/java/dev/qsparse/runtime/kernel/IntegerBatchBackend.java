package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * Integer micro-batch products of the column formats ({@link Int8Matrix}, {@link TernaryMatrix})
 * with int8 activations, provided by an optional module (backend-native: AVX-512 VNNI through JNI)
 * and found at run time with {@link java.util.ServiceLoader}. The sums are exact integers, so a
 * result is bit for bit what the Vector API kernels give: the runtime may use it whenever it is
 * present and the batch is large enough to pay for its per-call weight repacking.
 *
 * <p>Operands are direct buffers (native code reads them in place): {@code x} holds {@code count}
 * rows of {@code xStride} activation bytes (the int8 value, columns past {@code cols} zero);
 * {@code acc} receives {@code count} rows of {@code accStride} little-endian int32 sums, of which
 * this call writes outputs {@code [o0, o0 + len)}. Calls for disjoint output ranges may run on
 * different threads at once, each with its own direct {@code scratch} of at least
 * {@link #scratchBytes(int, int)} bytes.
 */
public interface IntegerBatchBackend {

    /** "native-avx512-vnni", for logs, metrics and the bench table. */
    String name();

    /** Scratch bytes one call needs for {@code cols} inputs and {@code count * xStride} activation bytes. */
    int scratchBytes(int cols, int activationBytes);

    /**
     * Int8 weights as {@link Int8Matrix} stores them ({@code [cols][stride]}, one byte per output):
     * {@code acc[t][o] = sum_c W[o, c] * x[t][c]}. Exactly one of {@code mapped} (direct) and
     * {@code heap} is non-null.
     */
    void int8(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer acc,
            int accStride,
            ByteBuffer scratch);

    /**
     * Ternary codes as {@link TernaryMatrix} stores them ({@code [cols][stride]}, 2 bits per
     * output): {@code acc[t][o] = sum_c code(o, c) * x[t][c]} with codes 0, 1, 2 (the caller
     * subtracts {@code sum_c x[t][c]} to get weight sums, as for the Vector API kernels).
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
            ByteBuffer acc,
            int accStride,
            ByteBuffer scratch);
}
