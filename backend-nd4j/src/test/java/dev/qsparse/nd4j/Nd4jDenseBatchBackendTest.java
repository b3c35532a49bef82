package dev.qsparse.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.DenseBatchBackend;
import dev.qsparse.runtime.kernel.KernelBackends;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** ND4J's batched product against the scalar reference kernel, and its discovery by ServiceLoader. */
class Nd4jDenseBatchBackendTest {

    @Test
    void foundByServiceLoaderWithItsCacheUnderTarget() {
        DenseBatchBackend b = Backends.chosen().dense().orElseThrow();
        assertEquals("nd4j", b.name());
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        assertTrue(cache != null && cache.contains("target"), "JavaCPP cache dir: " + cache);
    }

    @Test
    void matchesTheScalarKernelOnRandomShapes() {
        Nd4jDenseBatchBackend nd4j = new Nd4jDenseBatchBackend();
        nd4j.setThreads(1);
        Random r = new Random(5);
        for (int[] shape : new int[][] {{1, 1}, {7, 5}, {70, 48}, {130, 257}}) {
            int rows = shape[0];
            int cols = shape[1];
            ByteBuffer w = (rows % 2 == 0
                            ? ByteBuffer.allocate(rows * cols * 4)
                            : ByteBuffer.allocateDirect(rows * cols * 4))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < rows * cols; i++) {
                w.putFloat(i * 4, (float) r.nextGaussian());
            }
            for (int count : new int[] {1, 2, 5}) {
                float[][] x = new float[count][cols];
                float[][] out = new float[count][rows];
                for (float[] row : x) {
                    for (int c = 0; c < cols; c++) {
                        row[c] = r.nextFloat() < 0.5 ? 0f : (float) r.nextGaussian();
                    }
                }
                nd4j.multiply(w, rows, cols, x, count, out);
                for (int t = 0; t < count; t++) {
                    float[] expected = new float[rows];
                    float[] wf = new float[rows * cols];
                    w.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(0, wf);
                    KernelBackends.scalar().f32Rows(wf, 0, cols, x[t], expected, 0, rows);
                    for (int o = 0; o < rows; o++) {
                        assertEquals(
                                expected[o],
                                out[t][o],
                                1e-4f * (1 + Math.abs(expected[o])),
                                rows + "x" + cols + " batch " + count);
                    }
                }
            }
        }
    }

    @Test
    void aSessionWithNd4jGivesTheSameLogitsWithinFloatRounding() throws Exception {
        java.nio.file.Path dir = java.nio.file.Path.of("../model-runtime/src/test/resources/fixtures/qsparse_dense");
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7 + 3) % 72;
        }
        try (dev.qsparse.runtime.Model model = dev.qsparse.runtime.Model.load(dir)) {
            assertEquals("nd4j", model.batchBackend());
            Backends.Choice chosen = Backends.chosen();
            dev.qsparse.runtime.inference.InferenceSession plain = new dev.qsparse.runtime.inference.InferenceSession(
                    model, 1, Backends.Choice.only(chosen.kernels()));
            float[][] expected = plain.logits(tokens);
            // ND4J for every float32 micro-batch, as -Dqsparse.backend=nd4j asks.
            dev.qsparse.runtime.inference.InferenceSession withNd4j =
                    new dev.qsparse.runtime.inference.InferenceSession(
                            model,
                            1,
                            new Backends.Choice(chosen.kernels(), java.util.Optional.empty(), chosen.dense(), true));
            float[][] actual = withNd4j.logits(tokens);
            for (int p = 0; p < tokens.length; p++) {
                for (int i = 0; i < expected[p].length; i++) {
                    assertEquals(expected[p][i], actual[p][i], 1e-4f, "position " + p);
                }
            }
        }
    }
}
