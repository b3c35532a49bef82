package dev.qsparse.runtime.kernel;

/**
 * Q-Sparse's S on one token vector: top-K by magnitude, optional per-token absmax int8
 * quantization, optional rescale. See docs/model-format.md for the exact definition this follows.
 * Immutable; the scratch it uses belongs to the caller.
 */
public final class Sparsifier {

    public static final float QUANT_EPS = 1e-5f;
    public static final float RESCALE_EPS = 1e-6f;

    private final double ratio;
    private final int activationBits;
    private final TopKRescale rescale;
    /** Block Q-Sparse: keep the blockKeep largest |x| in every block of blockSize (0 = global top-K). */
    private final int blockKeep;

    private final int blockSize;
    /** How the int8 scale is taken from max|x| (activation_bits = 8 only). */
    private final Int8ScaleRule scaleRule;
    /** Inputs above this multiple of the vector's RMS stay float, out of the int8 step (0 = none). */
    private final float outlierThreshold;

    /** The largest outlier threshold accepted, as a multiple of the RMS (a vector's max is at most sqrt(n) RMS). */
    public static final float MAX_OUTLIER_THRESHOLD = 1000f;

    public Sparsifier(double ratio, int activationBits, TopKRescale rescale) {
        this(ratio, activationBits, rescale, 0, 0);
    }

    public Sparsifier(double ratio, int activationBits, TopKRescale rescale, int blockKeep, int blockSize) {
        this(ratio, activationBits, rescale, blockKeep, blockSize, Int8ScaleRule.EPS_ADDED);
    }

    /**
     * With {@code blockSize > 0} and {@code ratio < 1}, the mask is Block Q-Sparse N:M: in every
     * run of {@code blockSize} consecutive inputs the {@code blockKeep} largest |x| are kept (a
     * shorter last block keeps {@code clamp(floor(blockKeep * len / blockSize), 1, len)}); ties at
     * a block's threshold keep more, as in the global rule.
     */
    public Sparsifier(
            double ratio,
            int activationBits,
            TopKRescale rescale,
            int blockKeep,
            int blockSize,
            Int8ScaleRule scaleRule) {
        this(ratio, activationBits, rescale, blockKeep, blockSize, scaleRule, 0f);
    }

    /**
     * With {@code outlierThreshold} T > 0 (int8 activations only), a kept input with |x_i| > T *
     * RMS(x) is an outlier: it stays float and its product {@code W[:, i] * x_i} is added to the
     * integer product of the others, whose int8 scale then comes from their own max. T is 0 or in
     * [1, {@link #MAX_OUTLIER_THRESHOLD}]: at T >= 1 some input is never an outlier.
     */
    public Sparsifier(
            double ratio,
            int activationBits,
            TopKRescale rescale,
            int blockKeep,
            int blockSize,
            Int8ScaleRule scaleRule,
            float outlierThreshold) {
        if (!(outlierThreshold == 0f || (outlierThreshold >= 1f && outlierThreshold <= MAX_OUTLIER_THRESHOLD))) {
            throw new IllegalArgumentException("activation_outlier_threshold must be 0 or in [1, "
                    + (int) MAX_OUTLIER_THRESHOLD + "], got " + outlierThreshold);
        }
        if (outlierThreshold > 0f && (activationBits != 8 || rescale != TopKRescale.NONE)) {
            throw new IllegalArgumentException(
                    "activation_outlier_threshold needs activation_bits 8 and no top-K rescale");
        }
        this.outlierThreshold = outlierThreshold;
        if (blockSize < 0 || blockKeep < 0 || (blockSize > 0 && (blockKeep < 1 || blockKeep > blockSize))) {
            throw new IllegalArgumentException(
                    "topk_block must be [N, M] with 1 <= N <= M, got [" + blockKeep + ", " + blockSize + "]");
        }
        this.blockKeep = blockKeep;
        this.blockSize = blockSize;
        if (!(ratio > 0)) {
            throw new IllegalArgumentException("top-K ratio must be in (0, 1], got " + ratio);
        }
        if (activationBits != 0 && activationBits != 8) {
            throw new IllegalArgumentException("activation_bits must be 0 or 8, got " + activationBits);
        }
        this.ratio = Math.min(ratio, 1.0);
        this.activationBits = activationBits;
        this.rescale = rescale;
        this.scaleRule = scaleRule;
    }

    public double ratio() {
        return ratio;
    }

    public int activationBits() {
        return activationBits;
    }

    public TopKRescale rescale() {
        return rescale;
    }

    public Int8ScaleRule scaleRule() {
        return scaleRule;
    }

    /** Multiple of the RMS above which an input stays float (0: every kept input is quantized). */
    public float outlierThreshold() {
        return outlierThreshold;
    }

    /** N of a Block Q-Sparse N:M mask, 0 when the mask is the global top-K. */
    public int blockKeep() {
        return blockKeep;
    }

    /** M of a Block Q-Sparse N:M mask, 0 when the mask is the global top-K. */
    public int blockSize() {
        return blockSize;
    }

    private boolean blockMode() {
        return blockSize > 0 && ratio < 1.0;
    }

    /** K for a vector of width n: clamp(floor(ratio * n), 1, n), as Python's int() does. */
    public int keptCount(int n) {
        int k = (int) (ratio * n);
        return Math.max(1, Math.min(n, k));
    }

    /**
     * Fills {@code out} from {@code x[0..n)}. {@code scratch} needs at least n floats.
     * Returns nothing; {@code out.count} is the number of non-zero kept entries.
     */
    public void apply(float[] x, ActivationBuffer out, float[] scratch) {
        apply(x, out, scratch, ScalarBackend.INSTANCE);
    }

    /** As {@link #apply(float[], ActivationBuffer, float[])}, the max and quantization on {@code kernels} (same bits). */
    public void apply(float[] x, ActivationBuffer out, float[] scratch, KernelBackend kernels) {
        int n = out.width();
        float threshold = 0f;
        boolean blocks = blockMode();
        if (blocks) {
            // scratch[i] = the threshold of i's block.
            for (int b = 0; b < n; b += blockSize) {
                int len = Math.min(blockSize, n - b);
                int keep = len == blockSize
                        ? blockKeep
                        : Math.max(1, Math.min(len, (int) ((long) blockKeep * len / blockSize)));
                for (int i = 0; i < len; i++) {
                    scratch[b + i] = Math.abs(x[b + i]);
                }
                float t = TopK.kthLargestInRange(scratch, b, len, keep);
                for (int i = 0; i < len; i++) {
                    scratch[b + i] = t;
                }
            }
        }
        float outlierLimit = outlierThreshold > 0f ? outlierThreshold * rms(x, n) : Float.POSITIVE_INFINITY;
        // The largest magnitude bounds the top-K search and sets the int8 scale: a dense float input needs neither.
        float gamma = !blocks && ratio < 1.0 || activationBits == 8 ? kernels.absMax(x, n) : 0f;
        if (!blocks && ratio < 1.0) {
            threshold = kernels.kthLargestMagnitude(x, scratch, n, keptCount(n), Float.floatToRawIntBits(gamma));
        }
        float multiplier = 1f;
        float[] v = out.values;
        int nonZero = -1; // the quantization's count of v's non-zero entries, -1 until one is known
        if (activationBits == 8) {
            // With outliers the int8 scale comes from the largest input that is not one.
            float s = scaleRule.scale(outlierThreshold > 0f ? absMaxUpTo(x, n, outlierLimit) : gamma);
            if (blocks) {
                for (int i = 0; i < n; i++) {
                    v[i] = Math.abs(x[i]) >= scratch[i] ? quantizeFast(x[i], s) : 0f;
                }
            } else {
                nonZero = kernels.quantizeKept(x, n, s, threshold, v);
            }
            multiplier = 1f / s;
        } else if (blocks) {
            for (int i = 0; i < n; i++) {
                v[i] = Math.abs(x[i]) >= scratch[i] ? x[i] : 0f;
            }
        } else {
            nonZero = kernels.keepAtLeast(x, n, threshold, v);
        }
        if (rescale != TopKRescale.NONE) {
            double keptSq = 0;
            for (int i = 0; i < n; i++) {
                float y = v[i] * multiplier;
                keptSq += y * y;
            }
            float keptNorm = (float) Math.sqrt(keptSq);
            if (rescale == TopKRescale.L2) {
                multiplier /= keptNorm + RESCALE_EPS;
            } else {
                double inSq = 0;
                for (int i = 0; i < n; i++) {
                    inSq += x[i] * x[i];
                }
                multiplier *= (float) Math.sqrt(inSq) / (keptNorm + RESCALE_EPS);
            }
        }
        // Only counted here: the index of the non-zero entries is listed when a kernel asks for it
        // (a rescale only multiplies, so it cannot turn a zero into a non-zero or back).
        if (outlierThreshold > 0f) {
            for (int i = 0; i < n; i++) {
                if (Math.abs(x[i]) > outlierLimit) {
                    v[i] = 0f; // an outlier: quantized (clipped) above, it goes to the float part
                }
            }
            nonZero = -1; // counted again below
        }
        out.valuesChanged(nonZero >= 0 ? nonZero : kernels.countNonZero(v, n));
        if (outlierThreshold > 0f) {
            for (int i = 0; i < n; i++) {
                float a = Math.abs(x[i]);
                if (a > outlierLimit && a >= (blocks ? scratch[i] : threshold)) {
                    out.addOutlier(i, x[i]);
                }
            }
        }
        out.outputScale = multiplier;
        out.integer = activationBits == 8;
    }

    /** sqrt(mean(x^2)) over [0, n), summed in double in index order. */
    static float rms(float[] x, int n) {
        double sq = 0;
        for (int i = 0; i < n; i++) {
            sq += (double) x[i] * x[i];
        }
        return (float) Math.sqrt(sq / n);
    }

    /** max |x[i]| over the inputs with |x[i]| <= limit. */
    static float absMaxUpTo(float[] x, int n, float limit) {
        float m = 0f;
        for (int i = 0; i < n; i++) {
            float a = Math.abs(x[i]);
            m = a <= limit && a > m ? a : m;
        }
        return m;
    }

    /** max |x[i]| over [0, n): four independent running maxima, so the loop is not one long dependency chain. */
    static float absMax(float[] x, int n) {
        float m0 = 0f;
        float m1 = 0f;
        float m2 = 0f;
        float m3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            float a0 = Math.abs(x[i]);
            float a1 = Math.abs(x[i + 1]);
            float a2 = Math.abs(x[i + 2]);
            float a3 = Math.abs(x[i + 3]);
            m0 = a0 > m0 ? a0 : m0;
            m1 = a1 > m1 ? a1 : m1;
            m2 = a2 > m2 ? a2 : m2;
            m3 = a3 > m3 ? a3 : m3;
        }
        for (; i < n; i++) {
            float a = Math.abs(x[i]);
            m0 = a > m0 ? a : m0;
        }
        return Math.max(Math.max(m0, m1), Math.max(m2, m3));
    }

    /** RoundClip(x * s, -128, 127) with round-half-to-even, as torch.round does. */
    static float quantize(float x, float s) {
        float q = (float) Math.rint(x * s);
        return Math.max(-128f, Math.min(127f, q));
    }

    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer, half to even. */
    static final float ROUND_MAGIC = 12582912f;

    /**
     * {@link #quantize} without the double round trip: the same value (up to the sign of a zero)
     * for |x * s| < 2^22, which always holds here since |x| <= gamma makes |x * s| <= 127.
     */
    static float quantizeFast(float x, float s) {
        float q = (x * s + ROUND_MAGIC) - ROUND_MAGIC;
        return q < -128f ? -128f : (q > 127f ? 127f : q);
    }
}
