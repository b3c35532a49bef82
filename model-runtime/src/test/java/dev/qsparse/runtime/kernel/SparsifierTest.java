package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The sparsifier against a sort-based reference written straight from docs/model-format.md. */
class SparsifierTest {

    /** The value the product sees, per element: reference of S. */
    static float[] reference(float[] x, double ratio, int bits, TopKRescale rescale) {
        int n = x.length;
        float threshold = 0f;
        if (ratio < 1) {
            float[] abs = new float[n];
            for (int i = 0; i < n; i++) {
                abs[i] = Math.abs(x[i]);
            }
            Arrays.sort(abs);
            int k = Math.max(1, Math.min(n, (int) (ratio * n)));
            threshold = abs[n - k];
        }
        float[] y = new float[n];
        float gamma = 0f;
        for (float v : x) {
            gamma = Math.max(gamma, Math.abs(v));
        }
        float s = 127f / (gamma + 1e-5f);
        for (int i = 0; i < n; i++) {
            if (Math.abs(x[i]) < threshold) {
                continue;
            }
            if (bits == 8) {
                float q = Math.max(-128f, Math.min(127f, (float) Math.rint(x[i] * s)));
                y[i] = q / s;
            } else {
                y[i] = x[i];
            }
        }
        double yNorm = 0;
        double xNorm = 0;
        for (int i = 0; i < n; i++) {
            yNorm += (double) y[i] * y[i];
            xNorm += (double) x[i] * x[i];
        }
        double factor = switch (rescale) {
            case NONE -> 1.0;
            case L2 -> 1.0 / (Math.sqrt(yNorm) + 1e-6);
            case L2_PRESERVE -> Math.sqrt(xNorm) / (Math.sqrt(yNorm) + 1e-6);
        };
        for (int i = 0; i < n; i++) {
            y[i] = (float) (y[i] * factor);
        }
        return y;
    }

    @Test
    void matchesReferenceOnRandomVectors() {
        Random random = new Random(7);
        int[] widths = {1, 2, 7, 64, 257, 768};
        double[] ratios = {0.05, 0.25, 0.5, 0.9, 1.0};
        for (int n : widths) {
            for (double ratio : ratios) {
                for (int bits : new int[] {0, 8}) {
                    for (TopKRescale rescale : TopKRescale.values()) {
                        float[] x = new float[n];
                        for (int i = 0; i < n; i++) {
                            x[i] = (float) (random.nextGaussian() * 3);
                        }
                        check(x, ratio, bits, rescale);
                    }
                }
            }
        }
    }

    @Test
    void edgeCases() {
        for (int bits : new int[] {0, 8}) {
            for (TopKRescale rescale : TopKRescale.values()) {
                check(new float[16], 0.5, bits, rescale); // all zeros
                float[] equal = new float[10];
                Arrays.fill(equal, -1.5f);
                check(equal, 0.3, bits, rescale); // ties keep all
                check(new float[] {0f, 0f, 0f, 4f, 0f, -2f}, 0.5, bits, rescale); // fewer non-zeros than K
                check(new float[] {1e-30f, -1e-30f, 2e-30f}, 0.67, bits, rescale); // tiny values
            }
        }
    }

    @Test
    void keepsExactlyKOnDistinctValues() {
        Random random = new Random(3);
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        ActivationBuffer buf = new ActivationBuffer(x.length);
        new Sparsifier(0.5, 0, TopKRescale.NONE).apply(x, buf, new float[x.length]);
        assertEquals(500, buf.count);
        assertEquals(500, new Sparsifier(0.5, 0, TopKRescale.NONE).keptCount(1000));
        assertEquals(1, new Sparsifier(0.0001, 0, TopKRescale.NONE).keptCount(1000));
    }

    private static void check(float[] x, double ratio, int bits, TopKRescale rescale) {
        int n = x.length;
        float[] expected = reference(x, ratio, bits, rescale);
        ActivationBuffer buf = new ActivationBuffer(n);
        new Sparsifier(ratio, bits, rescale).apply(x.clone(), buf, new float[n]);
        int nonZero = 0;
        for (int i = 0; i < n; i++) {
            float got = buf.values[i] * buf.outputScale;
            float tol = 1e-5f * Math.max(1f, Math.abs(expected[i]));
            assertEquals(
                    expected[i],
                    got,
                    tol,
                    "element " + i + " n=" + n + " ratio=" + ratio + " bits=" + bits + " " + rescale);
            if (buf.values[i] != 0f) {
                assertEquals(i, buf.index()[nonZero++], "index list must hold the non-zeros in order");
            }
            if (bits == 8) {
                assertEquals(Math.rint(buf.values[i]), buf.values[i], "int8 values must be integers");
                assertTrue(buf.values[i] >= -128 && buf.values[i] <= 127);
            }
        }
        assertEquals(nonZero, buf.count);
    }

    @Test
    void outlierThresholdsOutsideTheirDomainAreRefused() {
        for (float t : new float[] {-1f, 0.5f, 1001f, Float.NaN, Float.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> new Sparsifier(1.0, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, t));
            assertTrue(e.getMessage().contains("activation_outlier_threshold"), e.getMessage());
        }
        // float activations have no int8 step to keep outliers out of; a rescale would scale them twice
        assertThrows(
                IllegalArgumentException.class,
                () -> new Sparsifier(1.0, 0, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, 8f));
        assertThrows(
                IllegalArgumentException.class,
                () -> new Sparsifier(0.5, 8, TopKRescale.L2, 0, 0, Int8ScaleRule.EPS_ADDED, 8f));
        assertEquals(
                8f, new Sparsifier(1.0, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, 8f).outlierThreshold());
    }

    @Test
    void outliersAreOnlyThoseKeptByTopK() {
        // 100 inputs of 1, a 50 and a -40: RMS ~6.4, so both are above 4 x RMS.
        float[] x = new float[102];
        Arrays.fill(x, 1f);
        x[10] = 50f;
        x[70] = -40f;
        Sparsifier all = new Sparsifier(1.0, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, 4f);
        ActivationBuffer out = new ActivationBuffer(x.length);
        all.apply(x, out, new float[x.length]);
        assertEquals(2, out.outlierCount());
        assertEquals(10, out.outlierIndex(0));
        assertEquals(70, out.outlierIndex(1));
        assertEquals(-40f, out.outlierValue(1));
        assertEquals(0f, out.values[10]);
        assertEquals(127f, out.values[0], "the int8 scale comes from the non-outliers' max, 1");
        assertEquals(102, out.nonZeroInputs(), "int8 non-zeros and outliers together");
        // Keeping one input keeps the 50 alone: the -40 is dropped by top-K, not listed.
        Sparsifier one = new Sparsifier(1.0 / 102, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, 4f);
        one.apply(x, out, new float[x.length]);
        assertEquals(1, out.outlierCount());
        assertEquals(10, out.outlierIndex(0));
        assertEquals(1, out.nonZeroInputs());
    }
}
