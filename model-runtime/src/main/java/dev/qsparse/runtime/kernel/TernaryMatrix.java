package dev.qsparse.runtime.kernel;

/**
 * BitNet b1.58 weights: values in {-1, 0, 1} times one per-tensor scale (absmean). Held as one
 * byte per weight on the heap for now; the packed 2-bit layout comes with the fast kernels.
 */
public final class TernaryMatrix implements WeightMatrix {

    static final float EPS = 1e-5f;

    private final byte[] values;
    private final float scale;
    private final int rows;
    private final int cols;

    private TernaryMatrix(byte[] values, float scale, int rows, int cols) {
        this.values = values;
        this.scale = scale;
        this.rows = rows;
        this.cols = cols;
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
        byte[] q = new byte[n];
        for (int i = 0; i < n; i++) {
            float v = (float) Math.rint(w.get(i) / divisor);
            q[i] = (byte) Math.max(-1f, Math.min(1f, v));
        }
        return new TernaryMatrix(q, beta, rows, cols);
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public float scale() {
        return scale;
    }

    @Override
    public void matvec(float[] x, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += values[base + c] * x[c];
            }
            out[r] = sum * scale;
        }
    }

    @Override
    public void matvecSparse(float[] x, int[] index, int count, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int j = 0; j < count; j++) {
                int c = index[j];
                sum += values[base + c] * x[c];
            }
            out[r] = sum * scale;
        }
    }

    @Override
    public void row(int r, float[] out) {
        int base = r * cols;
        for (int c = 0; c < cols; c++) {
            out[c] = values[base + c] * scale;
        }
    }

    @Override
    public String format() {
        return "ternary";
    }

    @Override
    public long storedBytes() {
        return (long) rows * cols;
    }
}
