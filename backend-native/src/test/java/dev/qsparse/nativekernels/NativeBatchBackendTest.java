package dev.qsparse.nativekernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.ActivationBatch;
import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.BatchBackend;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.kernel.Int8Matrix;
import dev.qsparse.runtime.kernel.KernelBackends;
import dev.qsparse.runtime.kernel.OutputBlock;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.kernel.WeightSlice;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.kernel.Workspace;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.SingleSequence;
import dev.qsparse.runtime.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The native kernels of every level against the Java kernels: integer sums are exact, so every
 * product must be equal bit for bit, for heap and direct (mapped-like) weights, odd shapes, per-row
 * sparsity and threads; float32 products follow their fixed order bit for bit at every level. Each
 * test runs once per level: a level this CPU lacks is reported skipped with that reason, while a
 * library that fails to load for any other reason fails them.
 */
class NativeBatchBackendTest {

    private static final int[][] SHAPES = {{64, 4}, {100, 3}, {320, 130}, {192, 768}, {64, 1}};
    private static final int[] COUNTS = {1, 2, 3, 4, 5, 7, 13, 64};

    /** Every level the library has; each test skips the ones this CPU lacks. */
    static List<String> levels() {
        return NativeKernels.LEVELS;
    }

    @ParameterizedTest
    @MethodSource("levels")
    void foundByServiceLoaderAtTheBestLevelThisCpuRuns(String level) {
        List<String> runnable = NativeKernels.runnable();
        Assumptions.assumeFalse(runnable.isEmpty(), "this CPU runs none of " + NativeKernels.LEVELS);
        BatchBackend b = Backends.chosen()
                .batch()
                .orElseThrow(() -> new AssertionError("no batch backend: " + reasonNativeFails()));
        assertEquals("native-" + runnable.get(0), b.name());
    }

    @ParameterizedTest
    @MethodSource("levels")
    void int8BatchesEqualTheJavaKernelsBitForBit(String level) {
        Random r = new Random(11);
        for (int[] shape : SHAPES) {
            Int8Matrix heap = Int8Matrix.quantize(randomWeights(r, shape[0], shape[1]), shape[0], shape[1]);
            Int8Matrix direct = Int8Matrix.of(direct(heap.data()), heap.rowScales(), shape[0], shape[1]);
            for (int count : COUNTS) {
                assertEqualBatches(level, heap, count, r, 1);
                assertEqualBatches(level, direct, count, r, 2);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void ternaryBatchesEqualTheJavaKernelsBitForBit(String level) {
        Random r = new Random(12);
        for (int[] shape : SHAPES) {
            TernaryMatrix heap = TernaryMatrix.quantize(randomWeights(r, shape[0], shape[1]), shape[0], shape[1]);
            TernaryMatrix direct = TernaryMatrix.of(direct(heap.data()), heap.scale(), shape[0], shape[1]);
            for (int count : COUNTS) {
                assertEqualBatches(level, heap, count, r, 2);
                assertEqualBatches(level, direct, count, r, 1);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void oneInputWhoseColumnsTwoThreadsSplitEqualsTheJavaKernelsBitForBit(String level) {
        // Outputs few enough that each thread would read under 2048 bytes of a column: the two
        // threads split the kept columns and add their exact sums (ColumnMatrix.SPLIT_COLUMNS_BELOW).
        Random r = new Random(15);
        int[][] shapes = {{768, 1024}, {256, 3072}, {1536, 700}};
        for (int[] shape : shapes) {
            Int8Matrix int8 = Int8Matrix.quantize(randomWeights(r, shape[0], shape[1]), shape[0], shape[1]);
            TernaryMatrix ternary = TernaryMatrix.quantize(randomWeights(r, shape[0], shape[1]), shape[0], shape[1]);
            for (WeightMatrix m : new WeightMatrix[] {int8, ternary}) {
                for (double keep : new double[] {1.0, 0.5, 0.01}) {
                    ActivationBuffer[] in = {randomSparseInt8(r, m.cols(), keep)};
                    float[][] expected = multiply(m, in, null, 1);
                    float[][] actual = multiply(m, in, backend(level), 2);
                    assertArrayEquals(
                            expected[0], actual[0], m.format() + " " + m.rows() + "x" + m.cols() + " keep " + keep);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void int8WeightsWithFloatActivationsEqualTheJavaKernelBitForBit(String level) {
        Random r = new Random(13);
        for (int[] shape : SHAPES) {
            Int8Matrix heap = Int8Matrix.quantize(randomWeights(r, shape[0], shape[1]), shape[0], shape[1]);
            Int8Matrix direct = Int8Matrix.of(direct(heap.data()), heap.rowScales(), shape[0], shape[1]);
            for (int count : COUNTS) {
                for (Int8Matrix m : new Int8Matrix[] {heap, direct}) {
                    // Dense inputs share one column list (the grouped kernels); sparse ones each their own.
                    for (boolean dense : new boolean[] {true, false}) {
                        ActivationBuffer[] in = new ActivationBuffer[count];
                        for (int t = 0; t < count; t++) {
                            in[t] = randomFloat(r, m.cols(), dense ? 1.0 : 0.5);
                        }
                        float[][] expected = multiply(m, in, null, 1);
                        float[][] actual = multiply(m, in, backend(level), 2);
                        for (int t = 0; t < count; t++) {
                            assertArrayEquals(expected[t], actual[t], m.rows() + "x" + m.cols() + " batch " + count);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void extremeActivationsAndWeightsDoNotOverflow(String level) {
        // Every activation -128 (the one value whose + 128 bias is 0) or 127, weights at +-127.
        int rows = 128;
        int cols = 3072;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (i / cols) % 2 == 0 ? 1f : -1f;
        }
        Int8Matrix m = Int8Matrix.quantize(view(w), rows, cols);
        for (float v : new float[] {-128f, 127f}) {
            ActivationBuffer[] in = new ActivationBuffer[4];
            for (int t = 0; t < in.length; t++) {
                in[t] = new ActivationBuffer(cols);
                for (int c = 0; c < cols; c++) {
                    in[t].values[c] = v;
                }
                in[t].valuesChanged(cols);
                in[t].integer = true;
            }
            float[][] expected = multiply(m, in, null, 1);
            float[][] actual = multiply(m, in, backend(level), 1);
            for (int t = 0; t < in.length; t++) {
                assertArrayEquals(expected[t], actual[t]);
                assertEquals(v * 127f * cols * m.rowScales()[0], actual[t][0], Math.abs(actual[t][0]) * 1e-6f);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void wrongShapesAreRejectedBeforeAnyMemoryIsTouched(String level) {
        ByteBuffer x = ByteBuffer.allocateDirect(64 * 4);
        ByteBuffer scales = ByteBuffer.allocateDirect(64 * 4);
        ByteBuffer out = ByteBuffer.allocateDirect(64 * 4);
        ByteBuffer scratch = ByteBuffer.allocateDirect(4096);
        ByteBuffer w = ByteBuffer.allocateDirect(64);
        BatchBackend b = backend(level);
        WeightSlice oneColumn = new WeightSlice(WeightSlice.Layout.INT8_COLUMNS, w, null, 64, 64, 1, scales, 0, 64);
        ActivationBatch oneRow = new ActivationBatch(x, 1, 64, scales, null, null, null);
        OutputBlock results = new OutputBlock(out, 64, scratch);
        // Weights of 1 column x 64 bytes, but 2 columns claimed.
        assertThrows(
                IllegalArgumentException.class,
                () -> b.integer(
                        new WeightSlice(WeightSlice.Layout.INT8_COLUMNS, w, null, 64, 64, 2, scales, 0, 64),
                        oneRow,
                        results));
        // Outputs not a whole block.
        assertThrows(IllegalArgumentException.class, () -> b.integer(oneColumn.outputs(0, 32), oneRow, results));
        // Results too small for 2 rows.
        assertThrows(
                IllegalArgumentException.class,
                () -> b.integer(oneColumn, new ActivationBatch(x, 2, 64, scales, null, null, null), results));
        // A heap buffer where a direct one is needed.
        assertThrows(
                IllegalArgumentException.class,
                () -> b.integer(
                        oneColumn,
                        new ActivationBatch(ByteBuffer.allocate(256), 1, 64, scales, null, null, null),
                        results));
        // Ternary without its per-row sums.
        assertThrows(
                IllegalArgumentException.class,
                () -> b.integer(
                        new WeightSlice(WeightSlice.Layout.TERNARY_COLUMNS, w, null, 16, 64, 1, null, 0, 64),
                        oneRow,
                        results));
        // Float32 products of column-layout weights.
        assertThrows(IllegalArgumentException.class, () -> b.f32(oneColumn, oneRow, new OutputBlock(out, 64, null)));
    }

    @ParameterizedTest
    @MethodSource("levels")
    void convertedModelsGiveTheSameLogitsWithAndWithoutTheNativeKernels(String level, @TempDir Path tmp)
            throws Exception {
        Path source = Path.of("../model-runtime/src/test/resources/fixtures/qsparse_topk50_int8");
        for (ModelConverter.Target target :
                new ModelConverter.Target[] {ModelConverter.Target.INT8, ModelConverter.Target.TERNARY}) {
            for (boolean lmHeadInputInt8 : new boolean[] {false, true}) {
                Path dir = tmp.resolve(target.name() + "-" + lmHeadInputInt8);
                // With an int8 lm head input the lm head itself is an integer product on the backend.
                ModelConverter.convert(source, dir, target, true, lmHeadInputInt8);
                int[] tokens = new int[40];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = (i * 7 + 3) % 72;
                }
                try (Model model = Model.load(dir);
                        InferenceSession plain = new InferenceSession(model, 2, javaOnly());
                        InferenceSession fast = new InferenceSession(model, 2, withNative(level))) {
                    assertEquals(
                            backend(level).name(),
                            fast.state().workspace().batchBackend().name());
                    float[][] expected = plain.logits(tokens);
                    float[][] actual = fast.logits(tokens);
                    for (int p = 0; p < tokens.length; p++) {
                        assertArrayEquals(
                                expected[p],
                                actual[p],
                                target + " lm head input int8 " + lmHeadInputInt8 + " position " + p);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("levels")
    void f32ProductsFollowTheirFixedOrderBitForBitWhateverTheBatch(String level) {
        Random r = new Random(14);
        int[][] shapes = {{64, 4}, {100, 3}, {5, 17}, {33, 256}, {320, 130}, {192, 768}};
        for (int[] shape : shapes) {
            int rows = shape[0];
            int cols = shape[1];
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) r.nextGaussian();
            }
            ByteBuffer bytes = ByteBuffer.allocateDirect(4 * w.length).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asFloatBuffer().put(w);
            FloatMatrix m = new FloatMatrix(FloatView.of(bytes, DType.F32), rows, cols);
            // 29, 47, 64 and 100 take the register-blocked tiles (blocks of 48 or 32 inputs on zmm, 24 on
            // ymm) with the dot-product kernels for the rest; odd counts run on two threads (rows split).
            for (int count : new int[] {1, 3, 4, 5, 7, 13, 29, 47, 64, 100}) {
                ActivationBuffer[] in = new ActivationBuffer[count];
                for (int t = 0; t < count; t++) {
                    in[t] = new ActivationBuffer(cols);
                    float[] x = new float[cols];
                    for (int c = 0; c < cols; c++) {
                        x[c] = r.nextDouble() < 0.3 ? 0f : (float) r.nextGaussian();
                    }
                    in[t].setDense(x);
                }
                float[][] batch = multiply(m, in, backend(level), 1 + count % 2);
                float[][] java = multiply(m, in, null, 1);
                for (int t = 0; t < count; t++) {
                    float[] single = new float[rows];
                    Workspace ws = new Workspace(withNative(level), null);
                    m.multiply(in[t], single, ws);
                    for (int o = 0; o < rows; o++) {
                        float expected = fixedOrder(w, o * cols, cols, in[t].values);
                        String where = rows + "x" + cols + " batch " + count + " input " + t + " output " + o;
                        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(batch[t][o]), where);
                        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(single[o]), where);
                        assertEquals(
                                java[t][o], batch[t][o], 1e-5 * (1 + Math.abs(java[t][o])) * Math.sqrt(cols), where);
                    }
                }
            }
        }
    }

    /** The native float32 order, spelled out: 16 lane partials of fmas, a halving tree, the tail's fmas. */
    private static float fixedOrder(float[] w, int base, int cols, float[] x) {
        float[] p = new float[16];
        int c16 = cols / 16 * 16;
        for (int c = 0; c < c16; c++) {
            p[c % 16] = Math.fma(w[base + c], x[c], p[c % 16]);
        }
        for (int half = 8; half >= 1; half /= 2) {
            for (int j = 0; j < half; j++) {
                p[j] = p[j] + p[j + half];
            }
        }
        float sum = p[0];
        for (int c = c16; c < cols; c++) {
            sum = Math.fma(w[base + c], x[c], sum);
        }
        return sum;
    }

    @ParameterizedTest
    @MethodSource("levels")
    void aFloat32ModelGivesTheSameLogitsBatchedAndTokenByTokenOnTheNativeKernels(String level) throws Exception {
        Path checkpoint = Path.of("../model-runtime/src/test/resources/fixtures/qsparse_topk50_int8");
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7 + 3) % 72;
        }
        try (Model model = Model.load(checkpoint)) {
            DecoderModel<?> net = model.network();
            int vocab = model.config().vocabSize();
            SingleSequence batched = SingleSequence.of(net, withNative(level), null);
            float[][] hidden = new float[tokens.length][model.config().hiddenSize()];
            batched.steps(tokens, 0, tokens.length, hidden);
            float[][] batchLogits = new float[tokens.length][vocab];
            batched.logits(hidden, tokens.length, batchLogits);
            SingleSequence stepped = SingleSequence.of(net, withNative(level), null);
            SingleSequence java = SingleSequence.of(net);
            float[] logits = new float[vocab];
            float[] javaLogits = new float[vocab];
            int differentBits = 0;
            for (int p = 0; p < tokens.length; p++) {
                stepped.step(tokens[p]);
                stepped.logits(logits);
                assertArrayEquals(batchLogits[p], logits, "position " + p);
                java.step(tokens[p]);
                java.logits(javaLogits);
                for (int v = 0; v < vocab; v++) {
                    assertEquals(javaLogits[v], logits[v], 1e-4 * (1 + Math.abs(javaLogits[v])), "position " + p);
                    differentBits += javaLogits[v] != logits[v] ? 1 : 0;
                }
            }
            // The native order is in use: its sums differ from the Java kernels' in the last bits somewhere.
            assertTrue(differentBits > 0, "the f32 products did not run on the native kernels");
        }
    }

    private static void assertEqualBatches(String level, WeightMatrix m, int count, Random r, int threads) {
        ActivationBuffer[] in = new ActivationBuffer[count];
        for (int t = 0; t < count; t++) {
            in[t] = randomSparseInt8(r, m.cols(), 0.25 + 0.5 * r.nextDouble());
        }
        float[][] expected = multiply(m, in, null, threads);
        float[][] actual = multiply(m, in, backend(level), threads);
        for (int t = 0; t < count; t++) {
            assertArrayEquals(expected[t], actual[t], m.format() + " " + m.rows() + "x" + m.cols() + " batch " + count);
        }
    }

    private static float[][] multiply(WeightMatrix m, ActivationBuffer[] in, BatchBackend b, int threads) {
        float[][] out = new float[in.length][m.rows()];
        try (WorkerPool pool = threads > 1 ? WorkerPool.create(threads) : null) {
            Workspace ws = new Workspace(b == null ? javaOnly() : with(b), pool);
            m.multiplyBatch(in, in.length, out, ws);
        }
        return out;
    }

    private static ActivationBuffer randomSparseInt8(Random r, int cols, double keep) {
        ActivationBuffer a = new ActivationBuffer(cols);
        int n = 0;
        for (int c = 0; c < cols; c++) {
            if (r.nextDouble() < keep) {
                int v = r.nextInt(256) - 128;
                if (v != 0) {
                    a.values[c] = v;
                    n++;
                }
            }
        }
        a.valuesChanged(n);
        a.integer = true;
        a.outputScale = 0.01f + r.nextFloat();
        return a;
    }

    private static ActivationBuffer randomFloat(Random r, int cols, double keep) {
        ActivationBuffer a = new ActivationBuffer(cols);
        float[] x = new float[cols];
        for (int c = 0; c < cols; c++) {
            x[c] = r.nextDouble() < keep ? (float) r.nextGaussian() : 0f;
        }
        a.setDense(x);
        a.outputScale = 0.01f + r.nextFloat();
        return a;
    }

    private static FloatView randomWeights(Random r, int rows, int cols) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return view(w);
    }

    private static FloatView view(float[] w) {
        ByteBuffer b = ByteBuffer.allocate(w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(w);
        return FloatView.of(b, DType.F32);
    }

    private static ByteBuffer direct(ByteBuffer src) {
        ByteBuffer d = ByteBuffer.allocateDirect(src.remaining());
        d.put(src.duplicate());
        return d.flip();
    }

    /** The backend at {@code level}; the test is skipped, with the reason, where this CPU lacks it. */
    private static BatchBackend backend(String level) {
        Assumptions.assumeTrue(
                NativeKernels.runnable().contains(level),
                "this CPU lacks " + level + "; it runs " + NativeKernels.runnable());
        return new NativeBatchBackendProvider().open(level);
    }

    private static Backends.Choice javaOnly() {
        return Backends.Choice.only(KernelBackends.best());
    }

    private static Backends.Choice withNative(String level) {
        return with(backend(level));
    }

    private static Backends.Choice with(BatchBackend b) {
        return new Backends.Choice(KernelBackends.best(), java.util.Optional.of(b), java.util.Optional.empty(), false);
    }

    private static String reasonNativeFails() {
        try {
            NativeKernels.runnable();
            return "the library loads";
        } catch (RuntimeException | LinkageError e) {
            return e.toString();
        }
    }
}
