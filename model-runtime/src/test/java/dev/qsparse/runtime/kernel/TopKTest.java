package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TopKTest {

    @Test
    void matchesSortOnRandomInputs() {
        Random random = new Random(1);
        for (int trial = 0; trial < 2000; trial++) {
            int n = 1 + random.nextInt(trial < 1000 ? 20 : 3000);
            float[] a = new float[n];
            boolean coarse = random.nextBoolean();
            for (int i = 0; i < n; i++) {
                a[i] = coarse ? random.nextInt(5) : (float) random.nextGaussian();
            }
            int k = 1 + random.nextInt(n);
            float expected = TopK.kthLargestBySort(a, n, k);
            assertEquals(expected, TopK.kthLargest(Arrays.copyOf(a, n), n, k), "n=" + n + " k=" + k);
        }
    }

    @Test
    void magnitudeSelectionMatchesSortOverWideRangesTiesAndZeros() {
        Random random = new Random(2);
        for (int trial = 0; trial < 3000; trial++) {
            int n = 1 + random.nextInt(trial < 1000 ? 20 : 3100);
            float[] a = new float[n];
            int kind = trial % 5;
            for (int i = 0; i < n; i++) {
                a[i] = switch (kind) {
                    case 0 -> Math.abs((float) random.nextGaussian());
                    case 1 -> random.nextInt(5); // many ties, zeros
                    // 80 octaves: most values below the first pass's 32-octave window share bucket 0.
                    case 2 -> (float) Math.pow(2, -70 + 80 * random.nextDouble());
                    case 3 -> random.nextInt(4) == 0 ? Float.MIN_VALUE * random.nextInt(3) : 1e-30f;
                    default ->
                        random.nextInt(3) == 0 ? Float.POSITIVE_INFINITY : Math.abs((float) random.nextGaussian());
                };
            }
            int k = 1 + random.nextInt(n);
            float expected = TopK.kthLargestBySort(a, n, k);
            assertEquals(
                    expected,
                    TopK.kthLargestMagnitudeOf(a, new float[n], n, k, maxBits(a, n)),
                    "kind=" + kind + " n=" + n + " k=" + k);
        }
        assertEquals(0f, TopK.kthLargestMagnitudeOf(new float[4], new float[4], 4, 2, 0));
        assertEquals(
                0f,
                TopK.kthLargestMagnitudeOf(
                        new float[] {0f, 3f, 0f, 1f}, new float[4], 4, 3, Float.floatToRawIntBits(3f)));
        assertEquals(
                1f,
                TopK.kthLargestMagnitudeOf(
                        new float[] {0f, 3f, 0f, 1f}, new float[4], 4, 2, Float.floatToRawIntBits(3f)));
        assertThrows(
                IllegalArgumentException.class, () -> TopK.kthLargestMagnitudeOf(new float[3], new float[3], 3, 4, 0));
        // A NaN the maximum ignored still ranks first, as in the radix selection.
        float[] withNaN = {1f, Float.NaN, 2f, 0.5f};
        assertEquals(
                TopK.kthLargest(withNaN.clone(), 4, 2),
                TopK.kthLargestMagnitudeOf(withNaN, new float[4], 4, 2, Float.floatToRawIntBits(2f)));
        assertEquals(Float.NaN, TopK.kthLargestMagnitudeOf(withNaN, new float[4], 4, 1, Float.floatToRawIntBits(2f)));
    }

    private static int maxBits(float[] a, int n) {
        float max = 0f;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, a[i]);
        }
        return Float.floatToRawIntBits(max);
    }

    @Test
    void magnitudeOfSignedValuesMatchesSortOfAbsoluteValuesAndLeavesTheInputAlone() {
        Random random = new Random(3);
        for (int trial = 0; trial < 1000; trial++) {
            int n = 1 + random.nextInt(3100);
            float[] x = new float[n];
            float[] abs = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = trial % 3 == 0 ? random.nextInt(5) - 2 : (float) random.nextGaussian();
                if (random.nextInt(50) == 0) {
                    x[i] = -0f;
                }
                abs[i] = Math.abs(x[i]);
            }
            float[] before = x.clone();
            int k = 1 + random.nextInt(n);
            float expected = TopK.kthLargestBySort(abs, n, k);
            float actual = TopK.kthLargestMagnitudeOf(x, new float[n], n, k, maxBits(abs, n));
            assertEquals(expected, actual, "n=" + n + " k=" + k);
            org.junit.jupiter.api.Assertions.assertArrayEquals(before, x);
        }
    }

    @Test
    void edgeCases() {
        assertEquals(3f, TopK.kthLargest(new float[] {3f}, 1, 1));
        assertEquals(2f, TopK.kthLargest(new float[] {2f, 2f, 2f, 2f}, 4, 3));
        assertEquals(0f, TopK.kthLargest(new float[] {0f, 0f, 5f, 0f}, 4, 2));
        float[] sorted = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEquals(8f, TopK.kthLargest(sorted.clone(), 8, 1));
        assertEquals(1f, TopK.kthLargest(sorted.clone(), 8, 8));
        float[] reversed = {8, 7, 6, 5, 4, 3, 2, 1};
        assertEquals(5f, TopK.kthLargest(reversed, 8, 4));
        assertThrows(IllegalArgumentException.class, () -> TopK.kthLargest(new float[3], 3, 0));
        assertThrows(IllegalArgumentException.class, () -> TopK.kthLargest(new float[3], 3, 4));
    }

    @Test
    void onlyLooksAtTheFirstNElements() {
        float[] a = {1f, 2f, 3f, 100f, 200f};
        assertEquals(3f, TopK.kthLargest(a, 3, 1));
    }
}
