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

    /** Bits of a non-negative float below the first pass's bucket: 8 exponent and 3 mantissa bits remain (8 buckets per octave). */
    private static final int BUCKET_SHIFT = 20;
    /** Buckets of the first pass: 0 for +0.0, 1 for everything 31 octaves or more below the maximum, then 8 an octave. */
    private static final int BUCKETS = 256;

    /**
     * The k-th largest of {@code |x[0..n)|}, with {@code maxBits} the raw bits of max |x| (zeros count
     * as +0.0), as {@link #kthLargest} on the magnitudes but in two passes instead of up to eight: the
     * raw bits of a non-negative float order like its value, so one histogram over the 31 octaves
     * below the maximum (8 buckets an octave) finds the bucket of the answer, one branch-free pass
     * copies that bucket's few magnitudes into {@code scratch}, and the radix selection finishes on
     * them. Exact zeros have a bucket of their own: after a ReLU² half the inputs can be zero, and
     * when the answer is zero it is known after the first pass. The magnitudes are never written out
     * whole; {@code x} is not changed unless it is {@code scratch}.
     */
    public static float kthLargestMagnitudeOf(float[] x, float[] scratch, int n, int k, int maxBits) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k=" + k + " outside [1, " + n + "]");
        }
        int floor = (maxBits >>> BUCKET_SHIFT) - (BUCKETS - 1);
        int[] count = new int[BUCKETS];
        for (int i = 0; i < n; i++) {
            count[magnitudeBucket(Float.floatToRawIntBits(x[i]) & 0x7fffffff, floor)]++;
        }
        int bucket = BUCKETS - 1;
        int rank = k;
        while (rank > count[bucket]) {
            rank -= count[bucket];
            bucket--;
        }
        if (bucket == 0) {
            return 0f;
        }
        int kept = 0;
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(x[i]) & 0x7fffffff;
            scratch[kept] = Float.intBitsToFloat(bits);
            kept += magnitudeBucket(bits, floor) == bucket ? 1 : 0;
        }
        return kthLargestInRange(scratch, 0, kept, rank);
    }

    /**
     * Bucket of a non-negative float's bits: 0 for zero, else top bits - floor within [1, BUCKETS - 1]
     * (a NaN, above any maximum that ignored it, joins the top bucket and the radix pass orders it); no branches.
     */
    private static int magnitudeBucket(int bits, int floor) {
        int nonZero = (bits | -bits) >>> 31;
        return Math.min(BUCKETS - 1, Math.max(1, (bits >>> BUCKET_SHIFT) - floor)) & -nonZero;
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
