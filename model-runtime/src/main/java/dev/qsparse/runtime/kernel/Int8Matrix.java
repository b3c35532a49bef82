package dev.qsparse.runtime.kernel;

/**
 * Int8 weights with one absmax scale per output channel (row). Held on the heap for now; the
 * runtime-ready stored form comes with the fast kernels.
 */
public final class Int8Matrix implements WeightMatrix {

    static final float EPS = 1e-5f;

    private final byte[] values;
    private final float[] rowScale;
    private final int rows;
    private final int cols;

    private Int8Matrix(byte[] values, float[] rowScale, int rows, int cols) {
        this.values = values;
        this.rowScale = rowScale;
        this.rows = rows;
        this.cols = cols;
    }

    /** alpha_r = max|W[r,:]|, Wq = clamp(rint(W * 127 / (alpha_r + eps)), -127, 127), W' = Wq * (alpha_r + eps) / 127. */
    public static Int8Matrix quantize(FloatView w, int rows, int cols) {
        byte[] q = new byte[rows * cols];
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
                q[base + c] = (byte) Math.max(-127f, Math.min(127f, v));
            }
            scales[r] = 1f / s;
        }
        return new Int8Matrix(q, scales, rows, cols);
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public void matvec(float[] x, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += values[base + c] * x[c];
            }
            out[r] = sum * rowScale[r];
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
            out[r] = sum * rowScale[r];
        }
    }

    @Override
    public void row(int r, float[] out) {
        int base = r * cols;
        for (int c = 0; c < cols; c++) {
            out[c] = values[base + c] * rowScale[r];
        }
    }

    @Override
    public String format() {
        return "int8";
    }

    @Override
    public long storedBytes() {
        return (long) rows * cols + 4L * rows;
    }
}
