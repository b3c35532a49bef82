package dev.qsparse.runtime.kernel;

/**
 * The attention softmax every backend computes to the same bits: {@link #exp} is a range reduction
 * and a degree-6 polynomial in explicit fused multiply-adds (within 3 ulp of {@link Math#exp} over
 * the range softmax uses, and vectorizable, which {@code Math.exp} is not on JDK 17), and the sum
 * is kept in {@link #PARTIALS} partial sums, element i in partial {@code i % PARTIALS}, added up in
 * order at the end, which is the order a vector of 16 lanes (or two of 8) accumulates in.
 */
public final class AttentionSoftmax {

    /** Partial sums of the denominator: element i goes to partial i % 16. */
    public static final int PARTIALS = 16;

    static final float LOG2E = 1.44269504f;
    /** ln 2 split so that k * LN2_HI is exact for the k this range reaches. */
    static final float LN2_HI = 0.693145751953125f;

    static final float LN2_LO = 1.428606765330187e-6f;
    /** Below this, exp is below 2^-125 and taken as 0: next to the maximum's exp(0) = 1 it is nothing. */
    static final float UNDERFLOW = -87f;
    /** 1.5 * 2^23: adding and subtracting it rounds to an integer (half to even) for |t| < 2^22. */
    static final float ROUND_MAGIC = Sparsifier.ROUND_MAGIC;
    /** The bits of ROUND_MAGIC: the bits of ROUND_MAGIC + k are MAGIC_BITS + k for an integer |k| < 2^22. */
    static final int MAGIC_BITS = 0x4B400000;

    static final float C2 = 1f / 2;
    static final float C3 = 1f / 6;
    static final float C4 = 1f / 24;
    static final float C5 = 1f / 120;
    static final float C6 = 1f / 720;

    private AttentionSoftmax() {}

    /**
     * e^x for x <= 0 (a score minus the maximum): x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its
     * Taylor polynomial to r^6 (Horner, fused), times 2^k built in the exponent bits. NaN stays NaN.
     */
    public static float exp(float x) {
        float shifted = x * LOG2E + ROUND_MAGIC;
        float k = shifted - ROUND_MAGIC;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(C6, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        // 2^k: k + 127 in the exponent field, k read from the rounding's own bits (no conversion).
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(shifted) - (MAGIC_BITS - 127)) << 23);
        return x < UNDERFLOW ? 0f : p * scale;
    }

    /** In-place softmax over x[off, off + len): the scalar definition of {@link KernelBackend#softmax}. */
    public static void softmax(float[] x, int off, int len) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) {
            max = Math.max(max, x[off + i]);
        }
        float[] partial = new float[PARTIALS];
        for (int i = 0; i < len; i++) {
            float e = exp(x[off + i] - max);
            x[off + i] = e;
            partial[i % PARTIALS] += e;
        }
        scale(x, off, len, 1f / total(partial));
    }

    /** The partial sums added in order. */
    static float total(float[] partial) {
        float sum = partial[0];
        for (int j = 1; j < PARTIALS; j++) {
            sum += partial[j];
        }
        return sum;
    }

    static void scale(float[] x, int off, int len, float inv) {
        for (int i = 0; i < len; i++) {
            x[off + i] *= inv;
        }
    }
}
