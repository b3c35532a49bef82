package dev.qsparse.runtime.kernel;

/** Linear-time selection of the K-th largest value, for the top-K sparsity threshold. */
public final class TopK {

    private TopK() {}

    /**
     * The k-th largest (1-based) of {@code a[0..n)} by radix selection (see
     * {@link #kthLargestInRange}): O(n), no sort. Reorders {@code a}.
     */
    public static float kthLargest(float[] a, int n, int k) {
        return kthLargestInRange(a, 0, n, k);
    }

    /**
     * The k-th largest of {@code a[from .. from+n)}, reordering that range only. Radix selection on
     * the floats' bits, 8 bits a pass from the top: count the candidates per byte value, find the
     * byte of the k-th largest, keep only the candidates with that byte. The counting and
     * compacting loops have no data-dependent branches: a quickselect's partition mispredicts
     * about half its comparisons on activations, and this runs four times per token and layer.
     */
    public static float kthLargestInRange(float[] a, int from, int n, int k) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k=" + k + " outside [1, " + n + "]");
        }
        int[] count = new int[256];
        int len = n;
        int rank = k; // rank of the answer from the top among the remaining candidates
        for (int shift = 24; shift >= 0 && len > 1; shift -= 8) {
            java.util.Arrays.fill(count, 0);
            for (int i = from; i < from + len; i++) {
                count[(sortKey(a[i]) >>> shift) & 0xff]++;
            }
            int bucket = 255;
            while (rank > count[bucket]) {
                rank -= count[bucket];
                bucket--;
            }
            int kept = from;
            for (int i = from; i < from + len; i++) {
                float v = a[i];
                a[kept] = v;
                kept += ((sortKey(v) >>> shift) & 0xff) == bucket ? 1 : 0;
            }
            len = kept - from;
        }
        // Every remaining candidate has the same bits: any of them is the answer.
        return a[from];
    }

    /** The float's bits mapped so that unsigned integer order is the float order (negatives flipped whole, positives get the top bit). */
    private static int sortKey(float f) {
        int b = Float.floatToRawIntBits(f);
        return b ^ ((b >> 31) | 0x80000000);
    }

    /** Reference: the k-th largest by a full sort. Kept for tests only. */
    public static float kthLargestBySort(float[] a, int n, int k) {
        float[] copy = java.util.Arrays.copyOf(a, n);
        java.util.Arrays.sort(copy);
        return copy[n - k];
    }
}
