package dev.qsparse.runtime.kernel;

/** The reference kernels: plain loops that read like the math. Every faster kernel is tested against these. */
public final class ScalarBackend implements KernelBackend {

    public static final ScalarBackend INSTANCE = new ScalarBackend();

    private ScalarBackend() {}

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void f32Rows(float[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows) {
        for (int r = 0; r < rows; r++) {
            int base = wOff + r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += w[base + c] * x[c];
            }
            out[outOff + r] = sum;
        }
    }

    @Override
    public void bf16Rows(short[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows) {
        for (int r = 0; r < rows; r++) {
            int base = wOff + r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += Float.intBitsToFloat((w[base + c] & 0xffff) << 16) * x[c];
            }
            out[outOff + r] = sum;
        }
    }

    @Override
    public void int8Int(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len) {
        for (int j = 0; j < count; j++) {
            int xv = (int) xs[j];
            int base = off[j];
            for (int i = 0; i < len; i++) {
                acc[accOff + i] += xv * w[base + i];
            }
        }
    }

    @Override
    public void int8Float(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len) {
        for (int j = 0; j < count; j++) {
            float xv = xs[j];
            int base = off[j];
            for (int i = 0; i < len; i++) {
                acc[accOff + i] += xv * w[base + i];
            }
        }
    }

    /** The code (w + 1, in 0..2) of output i (relative to the slice) of a ternary slice starting at {@code base}. */
    static int ternaryCode(byte[] w, int base, int i) {
        return (w[base + 16 * (i >>> 6) + (i & 15)] >>> (2 * ((i >>> 4) & 3))) & 3;
    }

    @Override
    public void ternaryInt(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len) {
        for (int j = 0; j < count; j++) {
            int xv = (int) xs[j];
            for (int i = 0; i < len; i++) {
                acc[accOff + i] += xv * ternaryCode(w, off[j], i);
            }
        }
    }

    @Override
    public void ternaryFloat(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len) {
        for (int j = 0; j < count; j++) {
            float xv = xs[j];
            for (int i = 0; i < len; i++) {
                acc[accOff + i] += xv * ternaryCode(w, off[j], i);
            }
        }
    }

    @Override
    public void f32Gemm(float[] w, int wOff, int cols, float[][] x, int count, float[][] out, int outOff, int rows) {
        for (int t = 0; t < count; t++) {
            f32Rows(w, wOff, cols, x[t], out[t], outOff, rows);
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return Kernels.dot(a, aOff, b, bOff, n);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }
}
