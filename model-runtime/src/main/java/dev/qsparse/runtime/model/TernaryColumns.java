package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.TernaryMatrix;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Builds the runtime's ternary layout (docs/model-format.md, {@code P.tweight}) one weight at a
 * time, for weights that arrive in another order (a Hugging Face packed tensor, or float weights
 * quantized with BitNet's formula): column {@code c} is {@code strideFor(rows)} bytes, output
 * {@code o = 64g + 16k + j} is byte {@code 16g + j}, bits {@code 2k..2k+1}, code {@code w + 1}.
 */
final class TernaryColumns {

    /** Four codes of 1 (weight 0): what padding outputs and unset weights hold. */
    private static final byte ZEROS = 0x55;

    private final int rows;
    private final int cols;
    private final int stride;
    private final byte[] bytes;

    TernaryColumns(int rows, int cols) {
        this.rows = rows;
        this.cols = cols;
        this.stride = TernaryMatrix.strideFor(rows);
        this.bytes = new byte[Math.multiplyExact(cols, stride)];
        Arrays.fill(bytes, ZEROS);
    }

    /** Sets W[o, c] to {@code code - 1}; {@code code} is 0, 1 or 2. */
    void setCode(int o, int c, int code) {
        int pos = c * stride + 16 * (o >>> 6) + (o & 15);
        int shift = 2 * ((o >>> 4) & 3);
        bytes[pos] = (byte) ((bytes[pos] & ~(3 << shift)) | (code << shift));
    }

    /**
     * Sets the whole row W[o, :] from 2-bit codes: the code of column {@code c} is bits {@code
     * shift..shift+1} of {@code source[c]} (already checked to be 0, 1 or 2).
     */
    void setRow(int o, byte[] source, int shift) {
        int pos = 16 * (o >>> 6) + (o & 15);
        int to = 2 * ((o >>> 4) & 3);
        int keep = ~(3 << to);
        for (int c = 0, p = pos; c < cols; c++, p += stride) {
            bytes[p] = (byte) ((bytes[p] & keep) | (((source[c] >>> shift) & 3) << to));
        }
    }

    /** The finished matrix, effective weight {@code W * multiplier}, its bytes on the heap. */
    TernaryMatrix toMatrix(float multiplier) {
        // of() wraps the array as it is; onHeap() then lets the kernels read it without panel copies.
        return TernaryMatrix.of(ByteBuffer.wrap(bytes), multiplier, rows, cols).onHeap();
    }
}
