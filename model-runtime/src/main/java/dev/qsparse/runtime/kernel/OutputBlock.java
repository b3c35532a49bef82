package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * Where one native product writes: {@code count} rows of {@code stride} floats (output o of input t
 * at {@code t * stride + o}), and the call's own scratch (at least {@link
 * BatchBackend#scratchBytes} bytes for the integer products; null for the others). Both are
 * writable direct buffers; calls for disjoint outputs may run at once, each with its own scratch.
 *
 * @param sums {@link BatchBackend#integerSparse} only: the rows receive the exact int32 sums over
 *     the listed columns instead of finished floats, so that threads can each take a part of an
 *     input's columns and the sums be added and finished once
 */
public record OutputBlock(ByteBuffer values, int stride, ByteBuffer scratch, boolean sums) {

    public OutputBlock {
        if (values == null || stride <= 0) {
            throw new IllegalArgumentException("output block: rows of " + stride + " floats");
        }
    }

    /** Finished floats. */
    public OutputBlock(ByteBuffer values, int stride, ByteBuffer scratch) {
        this(values, stride, scratch, false);
    }
}
