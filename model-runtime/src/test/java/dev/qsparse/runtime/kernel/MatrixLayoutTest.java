package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The matrices' products through the workspace: vector against scalar backend, every thread
 * count against one thread (bit for bit), micro-batches against one input at a time (bit for bit),
 * and the byte accounting of the column layouts.
 */
class MatrixLayoutTest {

    static final WorkerPool POOL2 = WorkerPool.create(2);
    static final WorkerPool POOL3 = WorkerPool.create(3);

    @AfterAll
    static void close() {
        POOL2.close();
        POOL3.close();
    }

    static WeightMatrix[] matrices(Random r, int rows, int cols) {
        float[] w = WeightMatrixTest.random(r, rows * cols, 0.05);
        FloatView view = WeightMatrixTest.f32View(w);
        return new WeightMatrix[] {
            new FloatMatrix(view, rows, cols),
            Int8Matrix.quantize(view, rows, cols),
            TernaryMatrix.quantize(view, rows, cols),
        };
    }

    static ActivationBuffer sparsified(Random r, int cols, int bits) {
        float[] x = WeightMatrixTest.random(r, cols, 0);
        ActivationBuffer in = new ActivationBuffer(cols);
        new Sparsifier(0.5, bits, TopKRescale.NONE).apply(x, in, new float[cols]);
        return in;
    }

    static Workspace workspace(KernelBackend k, WorkerPool pool) {
        return new Workspace(Backends.Choice.only(k), pool);
    }

    @Test
    void threadsAndBatchesGiveIdenticalResults() {
        Random r = new Random(31);
        for (int[] shape : new int[][] {{1, 1}, {5, 3}, {64, 40}, {200, 96}, {768, 130}, {130, 768}, {9000, 24}}) {
            int rows = shape[0];
            int cols = shape[1];
            for (WeightMatrix m : matrices(r, rows, cols)) {
                for (int bits : new int[] {0, 8}) {
                    int batch = 5;
                    ActivationBuffer[] in = new ActivationBuffer[batch];
                    float[][] single = new float[batch][rows];
                    for (int t = 0; t < batch; t++) {
                        in[t] = sparsified(r, cols, bits);
                        m.multiply(in[t], single[t], Workspace.single());
                    }
                    for (WorkerPool pool : new WorkerPool[] {null, POOL2, POOL3}) {
                        Workspace ws = workspace(KernelBackends.best(), pool);
                        float[][] batched = new float[batch][rows];
                        m.multiplyBatch(in, batch, batched, ws);
                        for (int t = 0; t < batch; t++) {
                            float[] threaded = new float[rows];
                            m.multiply(in[t], threaded, ws);
                            String what =
                                    m.format() + " " + rows + "x" + cols + " bits " + bits + " threads " + ws.threads();
                            assertArrayEquals(single[t], threaded, 0f, what);
                            assertArrayEquals(single[t], batched[t], 0f, what + " batched");
                        }
                    }
                }
            }
        }
    }

    /**
     * Activation outliers: inputs above T x RMS stay float, the rest are int8 on their own max; the
     * product is the int8 part times the effective weights plus each outlier's float column, the same
     * bits single, batched and on threads.
     */
    @Test
    void outliersAddTheirFloatColumnsToTheIntegerProduct() {
        Random r = new Random(37);
        for (int[] shape : new int[][] {{5, 3}, {200, 96}, {768, 130}, {130, 768}}) {
            int rows = shape[0];
            int cols = shape[1];
            for (WeightMatrix m : matrices(r, rows, cols)) {
                for (double ratio : new double[] {1.0, 0.5}) {
                    Sparsifier sp = new Sparsifier(ratio, 8, TopKRescale.NONE, 0, 0, Int8ScaleRule.EPS_ADDED, 4f);
                    int batch = 3;
                    ActivationBuffer[] in = new ActivationBuffer[batch];
                    float[][] single = new float[batch][rows];
                    for (int t = 0; t < batch; t++) {
                        float[] x = WeightMatrixTest.random(r, cols, 0);
                        float typical = 0;
                        for (float v : x) {
                            typical = Math.max(typical, Math.abs(v));
                        }
                        // A planted outlier channel: 40x the largest other input is above 4 x RMS once
                        // there are more than 16 inputs (RMS counts the outlier itself).
                        x[r.nextInt(cols)] = (r.nextBoolean() ? 40 : -40) * typical;
                        in[t] = new ActivationBuffer(cols);
                        sp.apply(x, in[t], new float[cols]);
                        String what = m.format() + " " + rows + "x" + cols + " ratio " + ratio;
                        double sq = 0;
                        for (float v : x) {
                            sq += (double) v * v;
                        }
                        float limit = (float) (4 * Math.sqrt(sq / cols));
                        float[] expected = new float[cols];
                        int outliers = 0;
                        float inlierMax = 0;
                        for (int c = 0; c < cols; c++) {
                            if (Math.abs(x[c]) > limit) {
                                assertEquals(0f, in[t].values[c], what + ": an outlier has no int8 value");
                                assertEquals(c, in[t].outlierIndex(outliers), what);
                                assertEquals(x[c], in[t].outlierValue(outliers), what);
                                expected[c] = x[c];
                                outliers++;
                            } else {
                                inlierMax = Math.max(inlierMax, Math.abs(x[c]));
                                expected[c] = in[t].values[c] * in[t].outputScale;
                            }
                        }
                        assertEquals(outliers, in[t].outlierCount(), what);
                        if (cols > 16) {
                            assertTrue(outliers >= 1, what + ": the planted channel is an outlier");
                        }
                        assertEquals(
                                Int8ScaleRule.EPS_ADDED.scale(inlierMax),
                                1f / in[t].outputScale,
                                Math.ulp(1f / in[t].outputScale),
                                what + ": the int8 scale comes from the largest non-outlier");
                        m.multiply(in[t], single[t], Workspace.single());
                        KernelBackendTest.assertClose(WeightMatrixTest.reference(m, expected), single[t], what);
                    }
                    for (WorkerPool pool : new WorkerPool[] {null, POOL2}) {
                        Workspace ws = workspace(KernelBackends.best(), pool);
                        float[][] batched = new float[batch][rows];
                        m.multiplyBatch(in, batch, batched, ws);
                        for (int t = 0; t < batch; t++) {
                            float[] threaded = new float[rows];
                            m.multiply(in[t], threaded, ws);
                            assertArrayEquals(single[t], threaded, 0f, m.format() + " threads " + ws.threads());
                            assertArrayEquals(single[t], batched[t], 0f, m.format() + " batched");
                        }
                    }
                }
            }
        }
    }

    @Test
    void vectorAndScalarBackendsAgreeOnWholeProducts() {
        Random r = new Random(32);
        for (int[] shape : new int[][] {{3, 5}, {96, 257}, {257, 96}, {4500, 20}}) {
            for (WeightMatrix m : matrices(r, shape[0], shape[1])) {
                for (int bits : new int[] {0, 8}) {
                    ActivationBuffer in = sparsified(r, shape[1], bits);
                    float[] a = new float[shape[0]];
                    float[] b = new float[shape[0]];
                    m.multiply(in, a, new Workspace(KernelBackends.scalar()));
                    m.multiply(in, b, Workspace.single());
                    KernelBackendTest.assertClose(a, b, m.format());
                    // and the product is the effective weights times the input
                    float[] x = new float[shape[1]];
                    for (int c = 0; c < x.length; c++) {
                        x[c] = in.values[c] * in.outputScale;
                    }
                    KernelBackendTest.assertClose(WeightMatrixTest.reference(m, x), b, m.format() + " reference");
                }
            }
        }
    }

    @Test
    void mappedAndHeapBytesGiveIdenticalProducts() {
        Random r = new Random(35);
        for (int[] shape : new int[][] {{70, 9}, {768, 200}, {200, 768}}) {
            for (WeightMatrix m : matrices(r, shape[0], shape[1])) {
                if (m instanceof FloatMatrix) {
                    continue;
                }
                WeightMatrix mapped = m instanceof Int8Matrix q
                        ? Int8Matrix.of(direct(q.data()), q.rowScales(), shape[0], shape[1])
                        : TernaryMatrix.of(
                                direct(((TernaryMatrix) m).data()), ((TernaryMatrix) m).scale(), shape[0], shape[1]);
                for (int bits : new int[] {0, 8}) {
                    ActivationBuffer[] in = {sparsified(r, shape[1], bits), sparsified(r, shape[1], bits)};
                    for (WorkerPool pool : new WorkerPool[] {null, POOL2}) {
                        Workspace ws = workspace(KernelBackends.best(), pool);
                        float[][] a = new float[2][shape[0]];
                        float[][] b = new float[2][shape[0]];
                        m.multiplyBatch(in, 2, a, ws);
                        mapped.multiplyBatch(in, 2, b, ws);
                        assertArrayEquals(a[0], b[0], 0f);
                        assertArrayEquals(a[1], b[1], 0f);
                        float[] c = new float[shape[0]];
                        mapped.multiply(in[1], c, ws);
                        assertArrayEquals(a[1], c, 0f);
                    }
                }
            }
        }
    }

    static java.nio.ByteBuffer direct(java.nio.ByteBuffer b) {
        java.nio.ByteBuffer d = java.nio.ByteBuffer.allocateDirect(b.remaining());
        d.put(b.duplicate());
        return d.flip();
    }

    @Test
    void columnLayoutsReadOnlyKeptColumns() {
        Random r = new Random(33);
        WeightMatrix[] ms = matrices(r, 768, 3072);
        assertEquals(768L * 3072 * 4, ms[0].bytesRead(1536));
        assertEquals(1536L * 768 + 4 * 768, ms[1].bytesRead(1536));
        assertEquals(1536L * 768 / 4 + 4, ms[2].bytesRead(1536));
        assertEquals(3072L * 768 / 4 + 4, ms[2].storedBytes());
    }

    @Test
    void quantizedLayoutsRoundTrip() {
        Random r = new Random(34);
        int rows = 70;
        int cols = 9;
        float[] w = WeightMatrixTest.random(r, rows * cols, 0.2);
        FloatView view = WeightMatrixTest.f32View(w);
        Int8Matrix q = Int8Matrix.quantize(view, rows, cols);
        Int8Matrix again = Int8Matrix.of(q.data(), q.rowScales(), rows, cols);
        TernaryMatrix t = TernaryMatrix.quantize(view, rows, cols);
        TernaryMatrix tAgain = TernaryMatrix.of(t.data(), t.scale(), rows, cols);
        float[] a = new float[cols];
        float[] b = new float[cols];
        for (int row = 0; row < rows; row++) {
            q.row(row, a);
            again.row(row, b);
            assertArrayEquals(a, b, 0f);
            t.row(row, a);
            tAgain.row(row, b);
            assertArrayEquals(a, b, 0f);
        }
        // padding outputs of the ternary layout hold weight 0
        for (int c = 0; c < cols; c++) {
            for (int o = rows; o < Int8Matrix.paddedRows(rows); o++) {
                byte[] bytes = new byte[t.stride()];
                t.data().get(c * t.stride(), bytes);
                assertEquals(1, ScalarBackend.ternaryCode(bytes, 0, o));
            }
        }
    }
}
