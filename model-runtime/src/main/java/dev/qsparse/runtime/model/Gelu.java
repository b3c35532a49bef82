package dev.qsparse.runtime.model;

/**
 * GELU in its exact form, x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)): transformers' {@code "gelu"}
 * (not the tanh approximation of {@code "gelu_new"}). Java has no erf, so it is computed here in
 * double, from the series erf(z) = 2/sqrt(pi) * exp(-z^2) * sum 2^n z^(2n+1) / (1*3*...*(2n+1)),
 * whose terms are all positive (no cancellation): every float result is correctly rounded or
 * one ulp off.
 */
final class Gelu {

    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    private static final double INV_SQRT2 = 1.0 / Math.sqrt(2.0);
    /** erfc(6) is about 2e-17, below a double's resolution of 1. */
    private static final double ERF_ONE = 6.0;

    private Gelu() {}

    /** In place over x[0, n). */
    static void apply(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[i];
            x[i] = (float) (0.5 * v * (1.0 + erf(v * INV_SQRT2)));
        }
    }

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
