package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * Int8 weights with one absmax scale per output channel (row), laid out by input channel: the
 * weights of input c for every output are {@link #stride()} contiguous bytes (outputs padded to
 * 64 with zeros), so a product reads only the columns of the kept (non-zero) activations and skips
 * the rest whole. The bytes are a memory-mapped tensor of a converted model ({@code P.qweight}), or,
 * for a float checkpoint with {@code weight_quant = int8}, quantized once at load into a heap array
 * of the same layout (so both give identical results).
 */
public final class Int8Matrix extends ColumnMatrix {

    static final float EPS = 1e-5f;
    public static final int GROUP = ColumnMatrix.GROUP;

    private final float[] rowScale;

    private Int8Matrix(ByteBuffer data, byte[] heap, float[] rowScale, int rows, int cols) {
        super(data, heap, rows, cols, paddedRows(rows));
        if (rowScale.length != rows) {
            throw new IllegalArgumentException(rowScale.length + " scales for " + rows + " rows");
        }
        this.rowScale = rowScale;
    }

    /** Rows rounded up to whole 64-output groups: the column stride in bytes. */
    public static int paddedRows(int rows) {
        return ColumnMatrix.paddedRows(rows);
    }

    /** Wraps runtime-ready storage: {@code data} holds [cols][paddedRows(rows)] bytes, {@code rowScale} [rows]. */
    public static Int8Matrix of(ByteBuffer data, float[] rowScale, int rows, int cols) {
        return new Int8Matrix(data, null, rowScale, rows, cols);
    }

    /** The same matrix with its bytes copied onto the heap (faster kernels, no page-cache sharing). */
    public Int8Matrix onHeap() {
        if (heap != null) {
            return this;
        }
        byte[] copy = new byte[data.remaining()];
        data.get(0, copy);
        return new Int8Matrix(null, copy, rowScale, rows, cols);
    }

    /**
     * alpha_r = max|W[r,:]|, Wq = clamp(rint(W * 127 / (alpha_r + eps)), -127, 127),
     * W' = Wq * (alpha_r + eps) / 127: quantizes a row-major float matrix into the column layout.
     */
    public static Int8Matrix quantize(FloatView w, int rows, int cols) {
        int stride = paddedRows(rows);
        byte[] q = new byte[Math.multiplyExact(cols, stride)];
        float[] scales = new float[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float alpha = 0f;
            for (int c = 0; c < cols; c++) {
                alpha = Math.max(alpha, Math.abs(w.get(base + c)));
            }
            float s = 127f / (alpha + EPS);
            for (int c = 0; c < cols; c++) {
                float v = (float) Math.rint(w.get(base + c) * s);
                q[c * stride + r] = (byte) Math.max(-127f, Math.min(127f, v));
            }
            scales[r] = 1f / s;
        }
        return new Int8Matrix(null, q, scales, rows, cols);
    }

    /** Bytes per column (rows padded to 64). */
    public int stride() {
        return stride;
    }

    /** Per-row scale: the effective weight is {@code Wq * rowScale[r]}. */
    public float[] rowScales() {
        return rowScale.clone();
    }

    public byte quantized(int r, int c) {
        return data.get(c * stride + r);
    }

    @Override
    int sliceBytes(int outputs) {
        return outputs;
    }

    @Override
    void kernelInt(KernelBackend k, byte[] w, int[] off, float[] xs, int n, int[] acc, int accOff, int len) {
        k.int8Int(w, off, xs, n, acc, accOff, len);
    }

    @Override
    void kernelFloat(KernelBackend k, byte[] w, int[] off, float[] xs, int n, float[] acc, int accOff, int len) {
        k.int8Float(w, off, xs, n, acc, accOff, len);
    }

    @Override
    WeightSlice slice() {
        return new WeightSlice(
                WeightSlice.Layout.INT8_COLUMNS,
                heap == null ? data : null,
                heap,
                stride,
                padded,
                cols,
                paddedScales(),
                0,
                padded);
    }

    @Override
    boolean floatKernelOnBackend() {
        return true;
    }

    @Override
    float tokenScale(ActivationBuffer in) {
        return in.outputScale;
    }

    private volatile ByteBuffer paddedScales;

    /** The row scales as direct little-endian floats, zero for the padding outputs (made once). */
    private ByteBuffer paddedScales() {
        ByteBuffer b = paddedScales;
        if (b == null) {
            b = ByteBuffer.allocateDirect(4 * padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(rowScale);
            paddedScales = b;
        }
        return b;
    }

    @Override
    void finish(int[] acc, float[] out, ActivationBuffer in) {
        float s = in.outputScale;
        for (int o = 0; o < rows; o++) {
            out[o] = acc[o] * rowScale[o] * s;
        }
    }

    @Override
    void finish(float[] acc, float[] out, ActivationBuffer in) {
        float s = in.outputScale;
        for (int o = 0; o < rows; o++) {
            out[o] = acc[o] * rowScale[o] * s;
        }
    }

    @Override
    public void addColumn(int c, float x, float[] out) {
        int base = c * stride;
        for (int r = 0; r < rows; r++) {
            out[r] += data.get(base + r) * rowScale[r] * x;
        }
    }

    @Override
    public void row(int r, float[] out) {
        for (int c = 0; c < cols; c++) {
            out[c] = data.get(c * stride + r) * rowScale[r];
        }
    }

    @Override
    public String format() {
        return "int8";
    }

    @Override
    public long storedBytes() {
        return (long) cols * stride + 4L * rows;
    }

    @Override
    public long bytesRead(int keptInputs) {
        return (long) keptInputs * stride + 4L * rows;
    }
}
