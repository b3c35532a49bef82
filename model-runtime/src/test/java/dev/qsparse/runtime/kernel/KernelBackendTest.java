package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Vector API kernels against the scalar reference, on random and edge-case shapes. */
class KernelBackendTest {

    static final int[] ROWS = {1, 3, 16, 63, 64, 65, 130, 200, 768};
    static final int[] COLS = {1, 2, 3, 5, 8, 17, 64, 257};

    static KernelBackend vector;
    static final KernelBackend scalar = KernelBackends.scalar();

    @BeforeAll
    static void vectorBackend() {
        assumeTrue(KernelBackends.vectorModulePresent(), "run with " + KernelBackends.VECTOR_FLAG);
        vector = KernelBackends.vector().orElseThrow();
    }

    @Test
    void bestIsVectorWhenTheModuleIsPresent() {
        assertTrue(
                KernelBackends.best().name().startsWith("vector-"),
                KernelBackends.best().name());
        assertEquals("scalar", scalar.name());
    }

    @Test
    void theRequestedWidthIsTheWidthThatRuns() {
        int bits = VectorWidth.requested();
        if (bits != 0) { // the surefire runs per width set qsparse.vector.bits
            assertEquals("vector-" + bits, vector.name());
        }
    }

    @Test
    void attentionScoresEqualTheirFmaChainDefinitionAndWeightedSumsTheirAxpyDefinitionBitForBit() {
        Random r = new Random(21);
        for (int n : new int[] {1, 7, 16, 32, 48, 64, 80, 100, 128}) {
            for (int count : new int[] {1, 3, 4, 5, 9, 16, 17, 33, 64, 65, 130}) {
                int kvStride = n + r.nextInt(5);
                int channel = r.nextInt(kvStride - n + 1);
                float[] q = randomFloats(r, n + 2);
                float[] keys = randomFloats(r, KeyBlocks.roundUp(count) * kvStride);
                float[] expected = new float[KeyBlocks.roundUp(count)];
                scalar.keyScores(q, 1, keys, channel, kvStride, count, n, 0.125f, expected);
                for (int t = 0; t < count; t++) { // the definition, spelled out
                    float acc = 0f;
                    for (int d = 0; d < n; d++) {
                        acc = Math.fma(q[1 + d], keys[KeyBlocks.index(t, channel + d, kvStride)], acc);
                    }
                    assertEquals(acc * 0.125f, expected[t], "scalar keyScores t=" + t);
                }
                float[] scores = new float[KeyBlocks.roundUp(count)];
                vector.keyScores(q, 1, keys, channel, kvStride, count, n, 0.125f, scores);
                assertArrayEquals(
                        java.util.Arrays.copyOf(expected, count),
                        java.util.Arrays.copyOf(scores, count),
                        "keyScores n=" + n + " count=" + count);

                int stride = n + r.nextInt(5);
                int off = r.nextInt(3);
                float[] values = randomFloats(r, count * stride + off + n);
                float[] sumExpected = new float[n + 3];
                for (int t = 0; t < count; t++) {
                    vector.axpy(scores[t], values, t * stride + off, sumExpected, 3, n);
                }
                float[] sum = new float[n + 3];
                java.util.Arrays.fill(sum, 3, n + 3, Float.NaN); // overwritten, never read
                vector.weightedSum(scores, count, values, off, stride, sum, 3, n);
                assertArrayEquals(sumExpected, sum, "weightedSum n=" + n + " count=" + count);
            }
        }
    }

    @Test
    void absMaxAndInt8QuantizationEqualTheScalarReferenceBitForBit() {
        Random r = new Random(5);
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-30f, -1e30f};
        for (int n : new int[] {1, 15, 16, 17, 64, 768, 1001, 3072}) {
            for (int trial = 0; trial < 6; trial++) {
                float[] x = randomFloats(r, n);
                if (trial >= 3) {
                    for (int i = 0; i < 1 + n / 50; i++) {
                        x[r.nextInt(n)] = specials[r.nextInt(specials.length)];
                    }
                }
                for (float threshold : new float[] {0f, 0.5f, 1.3f, Float.NaN, Float.POSITIVE_INFINITY}) {
                    float[] expected = new float[n];
                    float[] actual = new float[n];
                    int expectedNonZero = scalar.keepAtLeast(x, n, threshold, expected);
                    assertEquals(
                            expectedNonZero, vector.keepAtLeast(x, n, threshold, actual), "keepAtLeast count n=" + n);
                    for (int i = 0; i < n; i++) {
                        assertEquals(
                                Float.floatToRawIntBits(expected[i]),
                                Float.floatToRawIntBits(actual[i]),
                                "keepAtLeast n=" + n + " i=" + i + " x=" + x[i] + " threshold=" + threshold);
                    }
                }
                float gamma = scalar.absMax(x, n);
                assertEquals(
                        Float.floatToRawIntBits(gamma),
                        Float.floatToRawIntBits(vector.absMax(x, n)),
                        "absMax n=" + n + " trial " + trial);
                // the int8 scale, and scales that put products past the rounding's exact range
                // (|x * s| >= 2^22, as an outlier's under a smaller scale) or make inf * 0
                for (float s : new float[] {127f / (gamma + 1e-5f), 3e6f, 5e7f, 0f}) {
                    for (float threshold : new float[] {0f, 0.5f, 1.3f, Float.NaN, Float.POSITIVE_INFINITY}) {
                        float[] expected = new float[n];
                        float[] actual = new float[n];
                        int expectedNonZero = scalar.quantizeKept(x, n, s, threshold, expected);
                        int actualNonZero = vector.quantizeKept(x, n, s, threshold, actual);
                        assertEquals(scalar.countNonZero(expected, n), expectedNonZero, "scalar's count n=" + n);
                        assertEquals(expectedNonZero, actualNonZero, "vector's count n=" + n + " s=" + s);
                        for (int i = 0; i < n; i++) {
                            assertEquals(
                                    Float.floatToRawIntBits(expected[i]),
                                    Float.floatToRawIntBits(actual[i]),
                                    "quantizeKept n=" + n + " i=" + i + " x=" + x[i] + " s=" + s + " threshold="
                                            + threshold);
                        }
                        // the count the sparsifier keeps instead of listing the index: with -0 and NaN
                        actual[0] = -0f;
                        actual[n - 1] = trial % 2 == 0 ? Float.NaN : actual[n - 1];
                        int nonZero = 0;
                        for (int i = 0; i < n; i++) {
                            nonZero += actual[i] != 0f ? 1 : 0;
                        }
                        assertEquals(nonZero, scalar.countNonZero(actual, n), "countNonZero scalar n=" + n);
                        assertEquals(nonZero, vector.countNonZero(actual, n), "countNonZero vector n=" + n);
                    }
                }
            }
        }
    }

    @Test
    void attentionSoftmaxEqualsItsScalarDefinitionBitForBitAndStaysCloseToTheExactOne() {
        Random r = new Random(8);
        for (int len : new int[] {1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 128, 257}) {
            for (int trial = 0; trial < 4; trial++) {
                float[] x = new float[len + 3];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (r.nextGaussian() * (trial + 1) * 8);
                }
                if (trial == 3) {
                    x[1 + r.nextInt(len)] = Float.NEGATIVE_INFINITY; // a masked score
                    x[1 + r.nextInt(len)] = -1e4f; // far below the maximum: underflows to 0
                }
                float[] expected = x.clone();
                float[] actual = x.clone();
                scalar.softmax(expected, 1, len);
                vector.softmax(actual, 1, len);
                assertArrayEquals(expected, actual, "softmax len=" + len + " trial " + trial);
                assertEquals(x[0], actual[0], "outside the range");
                assertEquals(x[len + 1], actual[len + 1], "outside the range");
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 1; i <= len; i++) {
                    max = Math.max(max, x[i]);
                }
                double z = 0;
                for (int i = 1; i <= len; i++) {
                    z += Math.exp(x[i] - max);
                }
                for (int i = 1; i <= len; i++) {
                    double exact = Math.exp(x[i] - max) / z;
                    assertEquals(exact, actual[i], 1e-6 * Math.max(exact, 1e-3), "softmax len=" + len + " i=" + i);
                }
            }
        }
    }

    @Test
    void attentionExpIsWithinThreeUlpOfMathExpWhereSoftmaxUsesIt() {
        Random r = new Random(9);
        for (int i = 0; i < 200_000; i++) {
            float x = i < 1000 ? -i * 0.087f : -87f * r.nextFloat();
            float exact = (float) Math.exp(x);
            float ours = AttentionSoftmax.exp(x);
            assertTrue(Math.abs(ours - exact) <= 3 * Math.ulp(exact), "exp(" + x + ") = " + ours + ", not " + exact);
        }
        assertEquals(1f, AttentionSoftmax.exp(0f));
        assertEquals(0f, AttentionSoftmax.exp(-88f));
        assertEquals(0f, AttentionSoftmax.exp(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(AttentionSoftmax.exp(Float.NaN)));
    }

    @Test
    void topKThresholdEqualsTheScalarSelectionBitForBit() {
        Random r = new Random(10);
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, 1e-38f, 1e-45f, 3e38f};
        for (int n : new int[] {1, 5, 16, 17, 100, 768, 3072}) {
            for (int trial = 0; trial < 8; trial++) {
                float[] x = randomFloats(r, n);
                if (trial % 2 == 1) { // ties and zeros, as after a ReLU² or a quantizer
                    for (int i = 0; i < n; i++) {
                        x[i] = trial == 1 ? Math.max(0f, Math.round(x[i] * 4) / 4f) : Math.round(x[i]);
                    }
                }
                if (trial >= 6) {
                    for (int i = 0; i < 1 + n / 40; i++) {
                        x[r.nextInt(n)] = specials[r.nextInt(specials.length)];
                    }
                }
                int maxBits = Float.floatToRawIntBits(scalar.absMax(x, n));
                for (int k : new int[] {1, Math.max(1, n / 4), Math.max(1, n / 2), n}) {
                    float expected = scalar.kthLargestMagnitude(x, new float[n], n, k, maxBits);
                    float actual = vector.kthLargestMagnitude(x, new float[n], n, k, maxBits);
                    assertEquals(
                            Float.floatToRawIntBits(expected),
                            Float.floatToRawIntBits(actual),
                            "n=" + n + " k=" + k + " trial " + trial);
                    float[] sorted = new float[n];
                    for (int i = 0; i < n; i++) {
                        sorted[i] = Math.abs(x[i]);
                    }
                    if (trial < 6) {
                        assertEquals(TopK.kthLargestBySort(sorted, n, k), actual, "n=" + n + " k=" + k);
                    }
                }
            }
        }
    }

    @Test
    void fourQueryAttentionKernelsEqualFourSingleCallsBitForBit() {
        Random r = new Random(13);
        for (int n : new int[] {16, 64, 80, 128}) {
            for (int first : new int[] {1, 5, 16, 29, 60}) {
                int kvStride = n + 2 * 16;
                int channel = 16;
                int[] counts = {first, first + 1, first + 2, first + 3};
                int capacity = KeyBlocks.roundUp(first + 3);
                float[] keys = randomFloats(r, capacity * kvStride);
                float[] values = randomFloats(r, capacity * kvStride);
                float[][] q = new float[4][];
                float[][] expected = new float[4][capacity];
                float[][] actual = new float[4][capacity];
                for (int j = 0; j < 4; j++) {
                    q[j] = randomFloats(r, n + 3);
                    vector.keyScores(q[j], 3, keys, channel, kvStride, counts[3], n, 0.125f, expected[j]);
                }
                vector.keyScores4(q, 3, keys, channel, kvStride, counts[3], n, 0.125f, actual);
                for (int j = 0; j < 4; j++) {
                    assertArrayEquals(
                            java.util.Arrays.copyOf(expected[j], counts[3]),
                            java.util.Arrays.copyOf(actual[j], counts[3]),
                            "keyScores4 n=" + n + " query " + j);
                    vector.softmax(actual[j], 0, counts[j]);
                }
                float[][] sumExpected = new float[4][n + 5];
                float[][] sumActual = new float[4][n + 5];
                for (int j = 0; j < 4; j++) {
                    vector.weightedSum(actual[j], counts[j], values, channel, kvStride, sumExpected[j], 5, n);
                }
                vector.weightedSum4(actual, counts, values, channel, kvStride, sumActual, 5, n);
                for (int j = 0; j < 4; j++) {
                    assertArrayEquals(sumExpected[j], sumActual[j], "weightedSum4 n=" + n + " query " + j);
                }
            }
        }
    }

    private static float[] randomFloats(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    static byte[] randomBytes(Random r, int n, int lo, int hi) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (lo + r.nextInt(hi - lo + 1));
        }
        return b;
    }

    /** Column offsets of a block: {@code count} columns of {@code slice} bytes, in shuffled order, after a gap. */
    static int[] offsets(Random r, int count, int slice) {
        int[] off = new int[count];
        java.util.List<Integer> order = new java.util.ArrayList<>();
        for (int j = 0; j < count; j++) {
            order.add(j);
        }
        java.util.Collections.shuffle(order, r);
        for (int j = 0; j < count; j++) {
            off[j] = 7 + order.get(j) * slice;
        }
        return off;
    }

    static float[] int8Activations(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(256) - 128;
        }
        if (n > 1) {
            x[0] = -128; // the extreme product -128 * -127 must not overflow 16 bits
            x[1] = -128;
        }
        return x;
    }

    static float[] floats(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    static final int[] COUNTS = {0, 1, 2, 3, 4, 5, 7, 8, 13, 64};
    static final int[] LENS = {64, 128, 192, 768};

    @Test
    void int8KernelsMatchScalar() {
        Random r = new Random(21);
        for (int len : LENS) {
            for (int count : COUNTS) {
                byte[] w = randomBytes(r, 7 + count * len + 5, -127, 127);
                if (count > 1) {
                    java.util.Arrays.fill(w, 7, 7 + 2 * len, (byte) -127);
                }
                int[] off = offsets(r, count, len);
                int accOff = 64 * r.nextInt(3);
                float[] xi = int8Activations(r, count);
                int[] expected = new int[accOff + len + 64];
                int[] actual = new int[accOff + len + 64];
                java.util.Arrays.fill(expected, 12345); // kernels add to the accumulators
                java.util.Arrays.fill(actual, 12345);
                scalar.int8Int(w, off, xi, count, expected, accOff, len);
                vector.int8Int(w, off, xi, count, actual, accOff, len);
                assertArrayEquals(expected, actual, "len " + len + " count " + count);
                float[] xf = floats(r, count);
                float[] ef = new float[accOff + len];
                float[] af = new float[accOff + len];
                scalar.int8Float(w, off, xf, count, ef, accOff, len);
                vector.int8Float(w, off, xf, count, af, accOff, len);
                assertClose(ef, af, "float len " + len + " count " + count);
            }
        }
    }

    @Test
    void ternaryKernelsMatchScalar() {
        Random r = new Random(23);
        for (int len : LENS) {
            for (int count : COUNTS) {
                int slice = len / 4;
                byte[] w = new byte[7 + count * slice + 3];
                for (int i = 0; i < w.length; i++) {
                    int b = 0;
                    for (int k = 0; k < 4; k++) {
                        b |= r.nextInt(3) << (2 * k); // four random codes in 0..2 per byte
                    }
                    w[i] = (byte) b;
                }
                int[] off = offsets(r, count, slice);
                int accOff = 64 * r.nextInt(3);
                float[] xi = int8Activations(r, count);
                int[] expected = new int[accOff + len];
                int[] actual = new int[accOff + len];
                scalar.ternaryInt(w, off, xi, count, expected, accOff, len);
                vector.ternaryInt(w, off, xi, count, actual, accOff, len);
                assertArrayEquals(expected, actual, "len " + len + " count " + count);
                float[] xf = floats(r, count);
                float[] ef = new float[accOff + len];
                float[] af = new float[accOff + len];
                scalar.ternaryFloat(w, off, xf, count, ef, accOff, len);
                vector.ternaryFloat(w, off, xf, count, af, accOff, len);
                assertClose(ef, af, "float len " + len + " count " + count);
            }
        }
    }

    @Test
    void bf16RowsMatchScalar() {
        Random r = new Random(25);
        for (int rows : new int[] {1, 3, 16, 65}) {
            for (int cols : new int[] {1, 7, 8, 15, 16, 33, 64, 65, 100, 257}) {
                short[] w = new short[5 + rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (short) (Float.floatToRawIntBits((float) r.nextGaussian()) >>> 16);
                }
                float[] x = floats(r, cols);
                float[] expected = new float[rows + 2];
                float[] actual = new float[rows + 2];
                scalar.bf16Rows(w, 5, cols, x, expected, 2, rows);
                vector.bf16Rows(w, 5, cols, x, actual, 2, rows);
                assertClose(expected, actual, "bf16 " + rows + "x" + cols);
            }
        }
    }

    @Test
    void f32RowsDotAndAxpyMatchScalar() {
        Random r = new Random(24);
        for (int rows : new int[] {1, 3, 16, 65}) {
            for (int cols : new int[] {1, 7, 8, 15, 16, 33, 64, 65, 100, 257}) {
                float[] w = floats(r, 5 + rows * cols);
                float[] x = floats(r, cols);
                float[] expected = new float[rows + 2];
                float[] actual = new float[rows + 2];
                scalar.f32Rows(w, 5, cols, x, expected, 2, rows);
                vector.f32Rows(w, 5, cols, x, actual, 2, rows);
                assertClose(expected, actual, rows + "x" + cols);
                int n = Math.min(cols, w.length - 1);
                assertEquals(scalar.dot(w, 1, x, 0, n), vector.dot(w, 1, x, 0, n), 1e-4f * cols);
                float[] y1 = floats(new Random(cols), cols + 3);
                float[] y2 = y1.clone();
                scalar.axpy(0.37f, x, 0, y1, 3, cols);
                vector.axpy(0.37f, x, 0, y2, 3, cols);
                assertClose(y1, y2, "axpy " + cols);
            }
        }
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length);
        double scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 * (1 + scale), what + " at " + i);
        }
    }
}
