package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The scalar kernels against double-precision formulas. */
class KernelsTest {

    private final Random random = new Random(5);

    private float[] gaussian(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    @Test
    void rmsNorm() {
        for (int n : new int[] {1, 8, 77, 512}) {
            float[] x = gaussian(n);
            float[] w = gaussian(n);
            float[] out = new float[n];
            Kernels.rmsNorm(out, x, w, 1e-5f, n);
            double ms = 0;
            for (float v : x) {
                ms += (double) v * v;
            }
            double inv = 1 / Math.sqrt(ms / n + 1e-5);
            for (int i = 0; i < n; i++) {
                assertEquals(x[i] * inv * w[i], out[i], 1e-5 * (1 + Math.abs(out[i])));
            }
        }
    }

    @Test
    void layerNorm() {
        int n = 96;
        float[] x = gaussian(n);
        float[] w = gaussian(n);
        float[] b = gaussian(n);
        float[] out = new float[n];
        Kernels.layerNorm(out, x, w, b, 1e-5f, n);
        double mean = 0;
        for (float v : x) {
            mean += v;
        }
        mean /= n;
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= n;
        for (int i = 0; i < n; i++) {
            double expected = (x[i] - mean) / Math.sqrt(var + 1e-5) * w[i] + b[i];
            assertEquals(expected, out[i], 1e-5 * (1 + Math.abs(expected)));
        }
    }

    @Test
    void softmaxAndLogSumExp() {
        float[] x = gaussian(50);
        x[3] = 80f; // large values must not overflow
        double lse = Kernels.logSumExp(x, 50);
        double sum = 0;
        for (float v : x) {
            sum += Math.exp(v - 80.0);
        }
        assertEquals(80.0 + Math.log(sum), lse, 1e-5);
        float[] p = x.clone();
        Kernels.softmax(p, 0, 50);
        for (int i = 0; i < 50; i++) {
            assertEquals(Math.exp(x[i] - lse), p[i], 1e-6);
        }
    }

    @Test
    void ropeRotatesPairsByTheirAngle() {
        int hd = 16;
        float[] v = gaussian(hd);
        float[] cos = new float[hd / 2];
        float[] sin = new float[hd / 2];
        int pos = 7;
        for (int i = 0; i < hd / 2; i++) {
            double angle = pos * Math.pow(10000, -2.0 * i / hd);
            cos[i] = (float) Math.cos(angle);
            sin[i] = (float) Math.sin(angle);
        }
        float[] out = v.clone();
        Kernels.ropeRotateHalf(out, 0, hd, cos, sin);
        for (int i = 0; i < hd / 2; i++) {
            // (a + ib) * e^{i angle}
            double a = v[i];
            double b = v[i + hd / 2];
            assertEquals(a * cos[i] - b * sin[i], out[i], 1e-6);
            assertEquals(a * sin[i] + b * cos[i], out[i + hd / 2], 1e-6);
        }
    }

    @Test
    void attendHeadMatchesNaiveAttention() {
        int hd = 8;
        int len = 13;
        int stride = 24;
        int kvOff = 8;
        float[] q = gaussian(hd);
        float[] positionMajorKeys = gaussian(len * stride);
        float[] keys = new float[KeyBlocks.roundUp(len) * stride];
        for (int t = 0; t < len; t++) {
            KeyBlocks.store(keys, t, stride, positionMajorKeys, t * stride);
        }
        float[] values = gaussian(len * stride);
        float scale = 0.35f;
        float[] out = new float[hd];
        Kernels.attendHead(q, 0, keys, values, kvOff, stride, hd, len, scale, new float[len], out, 0);
        double[] w = new double[len];
        double z = 0;
        for (int t = 0; t < len; t++) {
            double s = 0;
            for (int i = 0; i < hd; i++) {
                s += q[i] * positionMajorKeys[t * stride + kvOff + i];
            }
            w[t] = Math.exp(s * scale);
            z += w[t];
        }
        for (int i = 0; i < hd; i++) {
            double expected = 0;
            for (int t = 0; t < len; t++) {
                expected += w[t] / z * values[t * stride + kvOff + i];
            }
            assertEquals(expected, out[i], 1e-5);
        }
    }
}
