package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;

/**
 * BitNet b1.58 weights: values in {-1, 0, 1} times one per-tensor scale (absmean), packed 2 bits
 * per weight and laid out by input channel (see {@link KernelBackend} for the bit layout): a
 * product reads a quarter of a byte per kept weight and nothing of the dropped inputs.
 *
 * <p>Why 2 bits and not 5 weights per byte in base 3 (1.6 bits): the 2-bit codes decode with one
 * shift and one mask per vector of 16 codes, all in registers; base 3 needs a division or a
 * 243-entry table look-up per byte, which the Vector API cannot do in registers. At 50% top-K a
 * ternary decode step is compute-bound already, so 20% fewer bytes would not pay for a slower decode.
 */
public final class TernaryMatrix extends ColumnMatrix {

    static final float EPS = 1e-5f;

    private final float scale;

    private TernaryMatrix(ByteBuffer data, byte[] heap, float scale, int rows, int cols) {
        super(data, heap, rows, cols, strideFor(rows));
        this.scale = scale;
    }

    /** Bytes per column of the packed layout for {@code rows} outputs. */
    public static int strideFor(int rows) {
        return paddedRows(rows) / 4;
    }

    /** Wraps runtime-ready storage: {@code data} holds [cols][strideFor(rows)] packed bytes. */
    public static TernaryMatrix of(ByteBuffer data, float scale, int rows, int cols) {
        return new TernaryMatrix(data, null, scale, rows, cols);
    }

    /** The same matrix with its bytes copied onto the heap (faster kernels, no page-cache sharing). */
    public TernaryMatrix onHeap() {
        if (heap != null) {
            return this;
        }
        byte[] copy = new byte[data.remaining()];
        data.get(0, copy);
        return new TernaryMatrix(null, copy, scale, rows, cols);
    }

    /** Absmean quantization: beta = mean|W|, Wq = clamp(rint(W / (beta + eps)), -1, 1), W' = Wq * beta. */
    public static TernaryMatrix quantize(FloatView w, int rows, int cols) {
        int n = rows * cols;
        double sumAbs = 0;
        for (int i = 0; i < n; i++) {
            sumAbs += Math.abs(w.get(i));
        }
        float beta = (float) (sumAbs / n);
        float divisor = beta + EPS;
        int stride = strideFor(rows);
        byte[] q = new byte[Math.multiplyExact(cols, stride)];
        // Padding outputs hold code 1 (weight 0), like every zero weight.
        java.util.Arrays.fill(q, (byte) 0x55);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = (float) Math.rint(w.get(r * cols + c) / divisor);
                int t = (int) Math.max(-1f, Math.min(1f, v));
                int pos = c * stride + 16 * (r >>> 6) + (r & 15);
                int shift = 2 * ((r >>> 4) & 3);
                q[pos] = (byte) ((q[pos] & ~(3 << shift)) | ((t + 1) << shift));
            }
        }
        return new TernaryMatrix(null, q, beta, rows, cols);
    }

    public float scale() {
        return scale;
    }

    /** Bytes per column. */
    public int stride() {
        return stride;
    }

    /** The ternary value (-1, 0 or 1) of W[r, c]. */
    public int value(int r, int c) {
        int pos = c * stride + 16 * (r >>> 6) + (r & 15);
        return ((data.get(pos) >>> (2 * ((r >>> 4) & 3))) & 3) - 1;
    }

    @Override
    int sliceBytes(int outputs) {
        return outputs / 4;
    }

    @Override
    void kernelInt(KernelBackend k, byte[] w, int[] off, float[] xs, int n, int[] acc, int accOff, int len) {
        k.ternaryInt(w, off, xs, n, acc, accOff, len);
    }

    @Override
    void kernelFloat(KernelBackend k, byte[] w, int[] off, float[] xs, int n, float[] acc, int accOff, int len) {
        k.ternaryFloat(w, off, xs, n, acc, accOff, len);
    }

    @Override
    WeightSlice slice() {
        return new WeightSlice(
                WeightSlice.Layout.TERNARY_COLUMNS,
                heap == null ? data : null,
                heap,
                stride,
                padded,
                cols,
                null,
                0,
                padded);
    }

    /** Sum of the (integer) kept activations: code sums minus it are weight sums. */
    @Override
    int tokenSum(ActivationBuffer in) {
        int sum = 0;
        for (float v : in.values) { // every entry: the zeros add nothing, and no index is needed
            sum += (int) v;
        }
        return sum;
    }

    @Override
    float tokenScale(ActivationBuffer in) {
        return scale * in.outputScale;
    }

    @Override
    void finish(int[] acc, float[] out, ActivationBuffer in) {
        int sum = tokenSum(in);
        float s = scale * in.outputScale;
        for (int o = 0; o < rows; o++) {
            out[o] = (acc[o] - sum) * s;
        }
    }

    @Override
    void finish(float[] acc, float[] out, ActivationBuffer in) {
        float sum = 0f;
        int[] kept = in.index();
        for (int j = 0; j < in.count; j++) {
            sum += in.values[kept[j]];
        }
        float s = scale * in.outputScale;
        for (int o = 0; o < rows; o++) {
            out[o] = (acc[o] - sum) * s;
        }
    }

    @Override
    public void addColumn(int c, float x, float[] out) {
        for (int r = 0; r < rows; r++) {
            out[r] += value(r, c) * scale * x;
        }
    }

    @Override
    public void row(int r, float[] out) {
        for (int c = 0; c < cols; c++) {
            out[c] = value(r, c) * scale;
        }
    }

    @Override
    public String format() {
        return "ternary";
    }

    @Override
    public long storedBytes() {
        return (long) cols * stride + 4;
    }

    @Override
    public long bytesRead(int keptInputs) {
        return (long) keptInputs * stride + 4;
    }
}
