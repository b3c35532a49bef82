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
