package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Block Q-Sparse N:M against a per-block sort reference. */
class BlockSparsifierTest {

    static float[] reference(float[] x, int keep, int block, int bits) {
        int n = x.length;
        float[] y = new float[n];
        float gamma = 0f;
        for (float v : x) {
            gamma = Math.max(gamma, Math.abs(v));
        }
        float s = 127f / (gamma + 1e-5f);
        for (int b = 0; b < n; b += block) {
            int len = Math.min(block, n - b);
            int k = len == block ? keep : Math.max(1, Math.min(len, keep * len / block));
            float[] abs = new float[len];
            for (int i = 0; i < len; i++) {
                abs[i] = Math.abs(x[b + i]);
            }
            Arrays.sort(abs);
            float t = abs[len - k];
            for (int i = b; i < b + len; i++) {
                if (Math.abs(x[i]) >= t) {
                    y[i] = bits == 8 ? Math.max(-128f, Math.min(127f, (float) Math.rint(x[i] * s))) / s : x[i];
                }
            }
        }
        return y;
    }

    @Test
    void keepsNInEveryBlockOfM() {
        Random r = new Random(41);
        for (int n : new int[] {1, 16, 32, 33, 100, 768}) {
            for (int[] nm : new int[][] {{16, 32}, {2, 4}, {1, 8}, {8, 8}}) {
                for (int bits : new int[] {0, 8}) {
                    float[] x = new float[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = (float) r.nextGaussian();
                    }
                    Sparsifier s = new Sparsifier(0.5, bits, TopKRescale.NONE, nm[0], nm[1]);
                    ActivationBuffer buf = new ActivationBuffer(n);
                    s.apply(x, buf, new float[n]);
                    float[] expected = reference(x, nm[0], nm[1], bits);
                    int nonZero = 0;
                    for (int i = 0; i < n; i++) {
                        assertEquals(
                                expected[i],
                                buf.values[i] * buf.outputScale,
                                1e-6f * Math.max(1, Math.abs(expected[i])),
                                "n=" + n + " " + nm[0] + ":" + nm[1] + " at " + i);
                        if (buf.values[i] != 0f) {
                            assertEquals(i, buf.index()[nonZero++]);
                        }
                    }
                    assertEquals(nonZero, buf.count);
                    if (n % nm[1] == 0 && bits == 0) {
                        assertEquals(n / nm[1] * nm[0], buf.count, "distinct values keep exactly N per block");
                    }
                }
            }
        }
    }

    @Test
    void fastRoundingEqualsRintOnTheWholeInt8Range() {
        java.util.Random r = new java.util.Random(43);
        float s = 127f / (3.5f + Sparsifier.QUANT_EPS);
        for (int i = 0; i < 1_000_000; i++) {
            float x = (float) ((r.nextDouble() * 2 - 1) * 3.5);
            assertEquals(Sparsifier.quantize(x, s), Sparsifier.quantizeFast(x, s) + 0f, 0f, "x=" + x);
        }
        for (float v = -127.5f; v <= 127.5f; v += 0.5f) {
            assertEquals(Sparsifier.quantize(v, 1f), Sparsifier.quantizeFast(v, 1f) + 0f, 0f, "half " + v);
        }
    }

    @Test
    void denseRatioIgnoresBlocksAndBadBlocksAreRejected() {
        float[] x = {1f, -2f, 3f, -4f};
        ActivationBuffer buf = new ActivationBuffer(4);
        new Sparsifier(1.0, 0, TopKRescale.NONE, 1, 2).apply(x, buf, new float[4]);
        assertEquals(4, buf.count);
        assertThrows(IllegalArgumentException.class, () -> new Sparsifier(0.5, 0, TopKRescale.NONE, 3, 2));
        assertThrows(IllegalArgumentException.class, () -> new Sparsifier(0.5, 0, TopKRescale.NONE, 0, 2));
    }
}
