package dev.qsparse.runtime.kernel;

/** The reference kernels: plain loops that read like the math. Every faster kernel is tested against these. */
public final class ScalarBackend implements KernelBackend {

    public static final ScalarBackend INSTANCE = new ScalarBackend();

    private ScalarBackend() {
    }

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
    public void panelFloat(float[] panel, int c0, int[] idx, int j0, int j1, float[] x, float[] acc, int accOff) {
        for (int j = j0; j < j1; j++) {
            int c = idx[j];
            float xv = x[c];
            int base = (c - c0) * PANEL;
            for (int i = 0; i < PANEL; i++) {
                acc[accOff + i] += xv * panel[base + i];
            }
        }
    }

    @Override
    public void panelFloatInt(float[] panel, int c0, int[] idx, int j0, int j1, float[] x, int[] acc, int accOff) {
        for (int j = j0; j < j1; j++) {
            int c = idx[j];
            int xv = (int) x[c];
            int base = (c - c0) * PANEL;
            for (int i = 0; i < PANEL; i++) {
                acc[accOff + i] += xv * (int) panel[base + i];
            }
        }
    }

    @Override
    public void panelShortInt(short[] panel, int c0, int[] idx, int j0, int j1, float[] x, int[] acc, int accOff) {
        for (int j = j0; j < j1; j++) {
            int c = idx[j];
            int xv = (int) x[c];
            int base = (c - c0) * PANEL;
            for (int i = 0; i < PANEL; i++) {
                acc[accOff + i] += xv * panel[base + i];
            }
        }
    }

    @Override
    public void widenBytes(byte[] src, int srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src[srcOff + i];
        }
    }

    @Override
    public void ternaryCodes(byte[] src, int srcOff, short[] dst, int dstOff, int outputs) {
        for (int i = 0; i < outputs; i++) {
            dst[dstOff + i] = (short) ternaryCode(src, srcOff, i);
        }
    }

    @Override
    public void ternaryCodes(byte[] src, int srcOff, float[] dst, int dstOff, int outputs) {
        for (int i = 0; i < outputs; i++) {
            dst[dstOff + i] = ternaryCode(src, srcOff, i);
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
