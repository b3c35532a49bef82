package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The fast GELU against the slow series over the range activations take, and its edges. */
class GeluTest {

    @Test
    void theFastGeluIsWithinAFewUlpOfTheSeries() {
        int worst = 0;
        for (int i = -500_000; i <= 2_000_000; i++) {
            float x = i * 6e-6f; // [-3, 12]; below, the reference's 1 + erf cancels (see the next test)
            float[] fast = {x};
            Gelu.apply(fast, 1);
            double v = x;
            float exact = (float) (0.5 * v * (1.0 + Gelu.erf(v / Math.sqrt(2.0))));
            int ulps = Math.abs(Float.floatToIntBits(fast[0]) - Float.floatToIntBits(exact));
            if (Math.abs(exact) > 1e-30 && Math.signum(fast[0]) == Math.signum(exact)) {
                worst = Math.max(worst, ulps);
            } else {
                assertEquals(exact, fast[0], 1e-30, "x = " + x);
            }
        }
        // The fit's fractional error (1.2e-7) is two float ulps, plus the final rounding.
        assertTrue(worst <= 4, "worst " + worst + " ulp");
    }

    @Test
    void theNegativeTailIsWithinAFewUlpOfAContinuedFraction() {
        // Below x = -3 the series' 1 + erf cancels; there the reference is erfc's continued fraction
        // e^(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / ...))), good to about 1e-15 for z >= 2.
        int worst = 0;
        for (int i = 0; i <= 200_000; i++) {
            float x = -3f - i * 4.5e-5f; // [-12, -3]
            float[] fast = {x};
            Gelu.apply(fast, 1);
            double z = -x / Math.sqrt(2.0);
            float exact = (float) (0.5 * x * erfcByContinuedFraction(z));
            if (exact == 0f) {
                assertEquals(0f, fast[0], 1e-38f, "x = " + x);
                continue;
            }
            worst = Math.max(worst, Math.abs(Float.floatToIntBits(fast[0]) - Float.floatToIntBits(exact)));
        }
        assertTrue(worst <= 4, "worst " + worst + " ulp");
    }

    private static double erfcByContinuedFraction(double z) {
        double f = z;
        for (int n = 300; n >= 1; n--) {
            f = z + (n / 2.0) / f;
        }
        return Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
    }

    @Test
    void theVectorGeluIsWithinAnUlpOfTheScalarOne() {
        KernelBackend vector = KernelBackends.best();
        float[] x = new float[400_003]; // not a multiple of any lane count: the tail too
        for (int i = 0; i < x.length; i++) {
            x[i] = -12f + i * 6e-5f;
        }
        x[17] = Float.NaN;
        x[18] = Float.POSITIVE_INFINITY;
        x[19] = 0f;
        float[] scalar = x.clone();
        Gelu.apply(scalar, scalar.length);
        float[] fast = x.clone();
        vector.gelu(fast, fast.length);
        for (int i = 0; i < x.length; i++) {
            if (Float.isNaN(scalar[i])) {
                assertTrue(Float.isNaN(fast[i]), "x = " + x[i]);
                continue;
            }
            int ulps = Math.abs(Float.floatToIntBits(fast[i]) - Float.floatToIntBits(scalar[i]));
            assertTrue(
                    ulps <= 1 || Math.abs(fast[i] - scalar[i]) < 1e-38f,
                    vector.name() + ": x = " + x[i] + " " + fast[i] + " vs " + scalar[i]);
        }
    }

    @Test
    void edges() {
        float[] x = {0f, -0f, Float.NaN, 40f, -40f, Float.POSITIVE_INFINITY};
        Gelu.apply(x, x.length);
        assertEquals(0f, x[0]);
        assertTrue(Float.isNaN(x[2]));
        assertEquals(40f, x[3]);
        assertEquals(-0f, x[4], 0f);
        assertEquals(Float.POSITIVE_INFINITY, x[5]);
    }
}
