package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every matrix kernel against a plain double-precision loop over the effective weights. */
class WeightMatrixTest {

    private static final int[][] SHAPES = {{1, 1}, {3, 5}, {17, 33}, {64, 48}, {96, 257}};

    static FloatView f32View(float[] w) {
        ByteBuffer b = ByteBuffer.allocate(w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : w) {
            b.putFloat(v);
        }
        return FloatView.of(b.flip().order(ByteOrder.LITTLE_ENDIAN), DType.F32);
    }

    static FloatView bf16View(float[] w) {
        ByteBuffer b = ByteBuffer.allocate(w.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : w) {
            b.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        return FloatView.of(b.flip().order(ByteOrder.LITTLE_ENDIAN), DType.BF16);
    }

    static float[] random(Random r, int n, double zeroFraction) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextDouble() < zeroFraction ? 0f : (float) r.nextGaussian();
        }
        return v;
    }

    /** out[r] = sum_c W'[r,c] x[c] with W' read through row(), in double. */
    static float[] reference(WeightMatrix m, float[] x) {
        float[] row = new float[m.cols()];
        float[] out = new float[m.rows()];
        for (int r = 0; r < m.rows(); r++) {
            m.row(r, row);
            double sum = 0;
            for (int c = 0; c < m.cols(); c++) {
                sum += (double) row[c] * x[c];
            }
            out[r] = (float) sum;
        }
        return out;
    }

    static void checkKernels(WeightMatrix m, Random random) {
        for (double zeros : new double[] {0.0, 0.5, 0.95, 1.0}) {
            float[] x = random(random, m.cols(), zeros);
            float[] expected = reference(m, x);
            float[] dense = new float[m.rows()];
            m.matvec(x, dense);
            int[] index = new int[m.cols()];
            int count = 0;
            for (int i = 0; i < x.length; i++) {
                if (x[i] != 0f) {
                    index[count++] = i;
                }
            }
            float[] sparse = new float[m.rows()];
            m.matvecSparse(x, index, count, sparse);
            for (int r = 0; r < m.rows(); r++) {
                float tol = 1e-4f * (1 + Math.abs(expected[r]));
                assertEquals(expected[r], dense[r], tol, m.format() + " dense row " + r);
                assertEquals(expected[r], sparse[r], tol, m.format() + " sparse row " + r);
            }
        }
    }

    @Test
    void floatMatricesAgreeWithReference() {
        Random random = new Random(11);
        for (int[] s : SHAPES) {
            float[] w = random(random, s[0] * s[1], 0);
            checkKernels(new FloatMatrix(f32View(w), s[0], s[1]), random);
            checkKernels(new FloatMatrix(bf16View(w), s[0], s[1]), random);
        }
    }

    @Test
    void aBf16MicroBatchEqualsOneInputAtATimeBitForBit() {
        // BF16 batches widen each tile of rows once and run the float GEMM; one input runs bf16Rows.
        Random r = new Random(21);
        for (int[] shape : SHAPES) {
            FloatMatrix m = new FloatMatrix(bf16View(random(r, shape[0] * shape[1], 0.1)), shape[0], shape[1]);
            for (int count : new int[] {2, 5, 9}) {
                ActivationBuffer[] in = new ActivationBuffer[count];
                for (int t = 0; t < count; t++) {
                    in[t] = new ActivationBuffer(shape[1]);
                    in[t].setDense(random(r, shape[1], 0.2));
                    in[t].outputScale = 0.5f + t;
                }
                float[][] batch = new float[count][shape[0]];
                Workspace ws = new Workspace(Backends.Choice.only(KernelBackends.best()), null);
                m.multiplyBatch(in, count, batch, ws);
                for (int t = 0; t < count; t++) {
                    float[] single = new float[shape[0]];
                    m.multiply(in[t], single, ws);
                    for (int o = 0; o < shape[0]; o++) {
                        assertEquals(
                                Float.floatToRawIntBits(single[o]),
                                Float.floatToRawIntBits(batch[t][o]),
                                shape[0] + "x" + shape[1] + " batch " + count + " input " + t + " output " + o);
                    }
                }
            }
        }
    }

    @Test
    void ternaryQuantizationAndKernels() {
        Random random = new Random(12);
        for (int[] s : SHAPES) {
            float[] w = random(random, s[0] * s[1], 0.1);
            TernaryMatrix t = TernaryMatrix.quantize(f32View(w), s[0], s[1]);
            double mean = 0;
            for (float v : w) {
                mean += Math.abs(v);
            }
            mean /= w.length;
            assertEquals(mean, t.scale(), 1e-5 * (1 + mean));
            float[] row = new float[s[1]];
            for (int r = 0; r < s[0]; r++) {
                t.row(r, row);
                for (int c = 0; c < s[1]; c++) {
                    float unit = row[c] / t.scale();
                    assertTrue(unit == -1f || unit == 0f || unit == 1f, "ternary value " + unit);
                    float expectedUnit =
                            (float) Math.max(-1, Math.min(1, Math.rint(w[r * s[1] + c] / (t.scale() + 1e-5f))));
                    assertEquals(expectedUnit, unit, 0f);
                }
            }
            checkKernels(t, random);
        }
    }

    @Test
    void int8QuantizationAndKernels() {
        Random random = new Random(13);
        for (int[] s : SHAPES) {
            float[] w = random(random, s[0] * s[1], 0.05);
            Int8Matrix q = Int8Matrix.quantize(f32View(w), s[0], s[1]);
            float[] row = new float[s[1]];
            for (int r = 0; r < s[0]; r++) {
                q.row(r, row);
                float absMax = 0f;
                for (int c = 0; c < s[1]; c++) {
                    absMax = Math.max(absMax, Math.abs(w[r * s[1] + c]));
                }
                for (int c = 0; c < s[1]; c++) {
                    // Per-channel absmax int8 is within half a step of the float weight.
                    assertEquals(w[r * s[1] + c], row[c], absMax / 127f * 0.5f + 1e-6f);
                }
            }
            checkKernels(q, random);
        }
    }

    @Test
    void halfToFloat() {
        assertEquals(0f, Half.toFloat((short) 0));
        assertEquals(-0f, Half.toFloat((short) 0x8000));
        assertEquals(65504f, Half.toFloat((short) 0x7bff));
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat((short) 0x7c00));
        assertTrue(Float.isNaN(Half.toFloat((short) 0x7e00)));
        assertEquals(5.9604645e-8f, Half.toFloat((short) 0x0001));
        assertEquals(6.097555e-5f, Half.toFloat((short) 0x03ff), 1e-11f);
        assertEquals(-1.5f, Half.toFloat((short) 0xbe00));
    }
}
