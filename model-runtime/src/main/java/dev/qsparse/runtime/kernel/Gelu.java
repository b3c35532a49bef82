package dev.qsparse.runtime.kernel;

/**
 * GELU in its exact form, x * Phi(x) = x/2 * erfc(-x / sqrt 2): transformers' {@code "gelu"} (not
 * the tanh approximation of {@code "gelu_new"}). Java has no erf: {@link #apply} takes erfc from
 * the Chebyshev fit of Numerical Recipes (erfcc: one exp and ten multiply-adds, fractional error
 * below 1.2e-7 for every argument), in double, so every float result is within a few ulp of the
 * exact function; {@link #erf} keeps the slow series (every term positive, correctly rounded or
 * one ulp off), against which the fit is tested. The series cost a division and up to a hundred
 * terms per value: on an encoder it took more time than the matrix products. The constants are
 * shared with the vectorised form ({@link VectorBackend#gelu}).
 */
public final class Gelu {

    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    static final double INV_SQRT2 = 1.0 / Math.sqrt(2.0);
    /** The fit's polynomial in t, constant term first. */
    static final double[] FIT = {
        -1.26551223,
        1.00002368,
        0.37409196,
        0.09678418,
        -0.18628806,
        0.27886807,
        -1.13520398,
        1.48851587,
        -0.82215223,
        0.17087277
    };
    /** erfc(6) is about 2e-17, below a double's resolution of 1. */
    private static final double ERF_ONE = 6.0;

    private Gelu() {}

    /** In place over x[0, n): the scalar reference of {@link KernelBackend#gelu}. */
    public static void apply(float[] x, int n) {
        apply(x, 0, n);
    }

    /** In place over x[from, to). */
    static void apply(float[] x, int from, int to) {
        for (int i = from; i < to; i++) {
            double v = x[i];
            x[i] = (float) (0.5 * v * erfc(-v * INV_SQRT2));
        }
    }

    /** erfc(z) to a fractional error below 1.2e-7: t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2), reflected for z < 0. */
    static double erfc(double z) {
        if (Double.isNaN(z)) {
            return z;
        }
        double a = Math.abs(z);
        double t = 1.0 / (1.0 + 0.5 * a);
        double p = -1.26551223
                + t
                        * (1.00002368
                                + t
                                        * (0.37409196
                                                + t
                                                        * (0.09678418
                                                                + t
                                                                        * (-0.18628806
                                                                                + t
                                                                                        * (0.27886807
                                                                                                + t
                                                                                                        * (-1.13520398
                                                                                                                + t
                                                                                                                        * (1.48851587
                                                                                                                                + t
                                                                                                                                        * (-0.82215223
                                                                                                                                                + t
                                                                                                                                                        * 0.17087277))))))));
        double r = t * Math.exp(-a * a + p);
        return z >= 0 ? r : 2.0 - r;
    }

    /** The reference: erf by its series, slow and exact to about an ulp of a float. */
    static double erf(double z) {
        double a = Math.abs(z);
        if (a >= ERF_ONE) {
            return Math.copySign(1.0, z);
        }
        if (Double.isNaN(z)) {
            return z;
        }
        double twoZ2 = 2 * a * a;
        double term = a;
        double sum = a;
        for (int n = 1; term > sum * 1e-17; n++) {
            term *= twoZ2 / (2 * n + 1);
            sum += term;
        }
        return Math.copySign(Math.min(1.0, TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum), z);
    }
}
