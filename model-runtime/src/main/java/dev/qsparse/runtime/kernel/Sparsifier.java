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

    public Sparsifier(double ratio, int activationBits, TopKRescale rescale) {
        if (!(ratio > 0)) {
            throw new IllegalArgumentException("top-K ratio must be in (0, 1], got " + ratio);
        }
        if (activationBits != 0 && activationBits != 8) {
            throw new IllegalArgumentException("activation_bits must be 0 or 8, got " + activationBits);
        }
        this.ratio = Math.min(ratio, 1.0);
        this.activationBits = activationBits;
        this.rescale = rescale;
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
        int n = out.width();
        float threshold = 0f;
        if (ratio < 1.0) {
            for (int i = 0; i < n; i++) {
                scratch[i] = Math.abs(x[i]);
            }
            threshold = TopK.kthLargest(scratch, n, keptCount(n));
        }
        float multiplier = 1f;
        float[] v = out.values;
        if (activationBits == 8) {
            float gamma = 0f;
            for (int i = 0; i < n; i++) {
                gamma = Math.max(gamma, Math.abs(x[i]));
            }
            float s = 127f / (gamma + QUANT_EPS);
            for (int i = 0; i < n; i++) {
                v[i] = Math.abs(x[i]) >= threshold ? quantize(x[i], s) : 0f;
            }
            multiplier = 1f / s;
        } else {
            for (int i = 0; i < n; i++) {
                v[i] = Math.abs(x[i]) >= threshold ? x[i] : 0f;
            }
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
        int count = 0;
        int[] index = out.index;
        for (int i = 0; i < n; i++) {
            if (v[i] != 0f) {
                index[count++] = i;
            }
        }
        out.count = count;
        out.outputScale = multiplier;
    }

    /** RoundClip(x * s, -128, 127) with round-half-to-even, as torch.round does. */
    static float quantize(float x, float s) {
        float q = (float) Math.rint(x * s);
        return Math.max(-128f, Math.min(127f, q));
    }
}
