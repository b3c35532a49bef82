package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * The weights of one native product and the outputs it computes, as a {@link BatchBackend} reads
 * them: the JNI boundary reads these fields by name into one C struct and checks every size against
 * the buffers in 64-bit arithmetic, so a field given in the wrong place fails there, not in memory.
 *
 * @param layout how the bytes are laid out
 * @param mapped the weights in a direct little-endian buffer (a mapped file), or null
 * @param heap the weights in a heap array, or null; exactly one of {@code mapped} and {@code heap}
 *     is given ({@link Layout#F32_ROWS}: mapped only)
 * @param stride column layouts: bytes per input column; {@link Layout#F32_ROWS}: floats per row
 *     (the inputs)
 * @param rows outputs (column layouts: padded to a multiple of 64)
 * @param cols inputs
 * @param rowScales int8: one float per output (padded outputs included), direct; else null
 * @param o0 first output this call computes (column layouts: a multiple of 64)
 * @param len outputs this call computes (column layouts: a multiple of 64)
 */
public record WeightSlice(
        Layout layout,
        ByteBuffer mapped,
        byte[] heap,
        int stride,
        int rows,
        int cols,
        ByteBuffer rowScales,
        int o0,
        int len) {

    /** The weight layouts a batch backend reads. */
    public enum Layout {
        /** {@link Int8Matrix}: {@code [cols][stride]}, one signed byte per output. */
        INT8_COLUMNS,
        /** {@link TernaryMatrix}: {@code [cols][stride]}, 2-bit codes 0, 1, 2 for -1, 0, +1, 64 outputs per 16 bytes. */
        TERNARY_COLUMNS,
        /** A row-major float32 tensor, {@code rows x cols}. */
        F32_ROWS
    }

    public WeightSlice {
        if (layout == null) {
            throw new IllegalArgumentException("weight slice: no layout");
        }
        if ((mapped == null) == (heap == null)) {
            throw new IllegalArgumentException("weight slice: exactly one of mapped and heap weights must be given");
        }
        if (rows <= 0 || cols <= 0 || len <= 0 || o0 < 0 || (long) o0 + len > rows) {
            throw new IllegalArgumentException("weight slice: outputs [" + o0 + ", " + ((long) o0 + len) + ") of "
                    + rows + " x " + cols + " weights");
        }
    }

    /** Outputs {@code [o0, o0 + len)} of the same weights. */
    public WeightSlice outputs(int o0, int len) {
        return new WeightSlice(layout, mapped, heap, stride, rows, cols, rowScales, o0, len);
    }
}
