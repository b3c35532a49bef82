package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The two int8 activation scales, and where they round one value differently. */
class Int8ScaleRuleTest {

    @Test
    void scalesFollowTheirFormulas() {
        assertEquals(127f / (2f + 1e-5f), Int8ScaleRule.EPS_ADDED.scale(2f));
        assertEquals(127f / 2f, Int8ScaleRule.EPS_FLOOR.scale(2f));
        // An all-zero vector: the floor, not a division by zero.
        assertEquals(127f / 1e-5f, Int8ScaleRule.EPS_FLOOR.scale(0f));
    }

    @Test
    void theBitNetRuleRoundsAHalfThatTheQSparseRuleDoesNot() {
        // max|x| = 1: x * 127 = 63.5 exactly rounds half to even (64) under BitNet's scale,
        // and just below the half (63) under 127 / (1 + 1e-5).
        float[] x = {1f, 63.5f / 127f, 0f, -0.25f};
        ActivationBuffer bitnet = new ActivationBuffer(x.length);
        ActivationBuffer qsparse = new ActivationBuffer(x.length);
        float[] scratch = new float[x.length];
        new Sparsifier(1.0, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_FLOOR).apply(x, bitnet, scratch);
        new Sparsifier(1.0, 8, TopKRescale.NONE).apply(x, qsparse, scratch);
        assertEquals(64f, bitnet.values[1]);
        assertEquals(63f, qsparse.values[1]);
        assertEquals(1f / 127f, bitnet.outputScale);
        assertEquals(Int8ScaleRule.EPS_ADDED, new Sparsifier(0.5, 8, TopKRescale.NONE).scaleRule());
    }
}
