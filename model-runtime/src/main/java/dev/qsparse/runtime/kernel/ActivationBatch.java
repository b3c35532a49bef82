package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * The inputs of one native product: {@code count} rows of {@code stride} floats in direct
 * little-endian buffers, with what each format's finish needs.
 *
 * @param values {@code count} rows of {@code stride} floats (int8 activations as integers in
 *     [-128, 127]), zero past the inputs; {@code stride} a multiple of 64 for the column layouts
 * @param count rows
 * @param stride floats per row
 * @param tokenScales one float per row: the finish factor (column layouts), else null
 * @param tokenSums ternary: one int32 per row, the sum of its activations; else null
 * @param index float activations on int8 weights: {@code count} rows of {@code stride} int32 column
 *     numbers, the kept columns in their order; else null
 * @param counts with {@code index}: one int32 per row, how many of its column numbers are used
 */
public record ActivationBatch(
        ByteBuffer values,
        int count,
        int stride,
        ByteBuffer tokenScales,
        ByteBuffer tokenSums,
        ByteBuffer index,
        ByteBuffer counts) {

    public ActivationBatch {
        if (values == null || count <= 0 || stride <= 0) {
            throw new IllegalArgumentException("activation batch: " + count + " rows of " + stride + " floats");
        }
    }

    /** Plain float rows (float32 products). */
    public static ActivationBatch floats(ByteBuffer values, int count, int stride) {
        return new ActivationBatch(values, count, stride, null, null, null, null);
    }
}
