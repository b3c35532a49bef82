package dev.qsparse.runtime.kernel;

/** Linear-time selection of the K-th largest value, for the top-K sparsity threshold. */
public final class TopK {

    private TopK() {
    }

    /**
     * The k-th largest (1-based) of {@code a[0..n)}, by quickselect with a median-of-three pivot:
     * expected O(n), no sort. Reorders {@code a}.
     */
    public static float kthLargest(float[] a, int n, int k) {
        return kthLargestInRange(a, 0, n, k);
    }

    /** The k-th largest of {@code a[from .. from+n)}, reordering that range only. */
    public static float kthLargestInRange(float[] a, int from, int n, int k) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k=" + k + " outside [1, " + n + "]");
        }
        // The k-th largest is the element of rank n-k in ascending order.
        int target = from + n - k;
        int lo = from;
        int hi = from + n - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            float pivot = medianOfThree(a[lo], a[mid], a[hi]);
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (target <= j) {
                hi = j;
            } else if (target >= i) {
                lo = i;
            } else {
                return a[target];
            }
        }
        return a[target];
    }

    /** Reference: the k-th largest by a full sort. Kept for tests only. */
    public static float kthLargestBySort(float[] a, int n, int k) {
        float[] copy = java.util.Arrays.copyOf(a, n);
        java.util.Arrays.sort(copy);
        return copy[n - k];
    }

    private static float medianOfThree(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
