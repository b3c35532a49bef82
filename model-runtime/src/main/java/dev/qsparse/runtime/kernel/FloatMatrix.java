package dev.qsparse.runtime.kernel;

import dev.qsparse.runtime.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Row-major float weights read straight from a mapped tensor (F32, F16 or BF16). F32 runs the
 * backend's row kernel (dense: a row-major layout gains nothing from skipping inputs once the
 * kernel is vectorised, every cache line of a row is read anyway); F16/BF16 widen on the fly in
 * scalar loops.
 */
public final class FloatMatrix implements WeightMatrix {

    /** Rows per thread share: a multiple of the vector kernels' unroll. */
    private static final int ROW_ALIGN = 16;
    /** Weight bytes per batch tile: small enough to stay in L2 while every input of a micro-batch reads it. */
    static final int TILE_BYTES = 256 * 1024;

    private final FloatView view;
    private final FloatBuffer f32;
    private final ByteBuffer f32Bytes;
    private final int rows;
    private final int cols;

    public FloatMatrix(FloatView view, int rows, int cols) {
        if ((long) rows * cols != view.size()) {
            throw new IllegalArgumentException("view of " + view.size() + " elements is not " + rows + "x" + cols);
        }
        this.view = view;
        this.f32 = view instanceof FloatView.F32 v ? v.data : null;
        this.f32Bytes = view instanceof FloatView.F32 v ? v.bytes : null;
        this.rows = rows;
        this.cols = cols;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public float get(int r, int c) {
        return view.get(r * cols + c);
    }

    /** The little-endian float32 bytes, or null when stored as F16/BF16. */
    public ByteBuffer f32Bytes() {
        return f32Bytes == null ? null : f32Bytes.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void matvec(float[] x, float[] out) {
        if (f32 != null) {
            for (int r = 0; r < rows; r++) {
                int base = r * cols;
                float sum = 0f;
                for (int c = 0; c < cols; c++) {
                    sum += f32.get(base + c) * x[c];
                }
                out[r] = sum;
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += view.get(base + c) * x[c];
            }
            out[r] = sum;
        }
    }

    @Override
    public void matvecSparse(float[] x, int[] index, int count, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int j = 0; j < count; j++) {
                int c = index[j];
                sum += view.get(base + c) * x[c];
            }
            out[r] = sum;
        }
    }

    /** Floats of rows staged per kernel call (L1-sized). */
    private static final int PANEL_FLOATS = 4096;

    private static final ThreadLocal<float[][]> PANEL = ThreadLocal.withInitial(() -> new float[1][0]);

    private static final ThreadLocal<short[][]> BF16_PANEL = ThreadLocal.withInitial(() -> new short[1][0]);

    private static short[] bf16Panel(int n) {
        short[][] p = BF16_PANEL.get();
        if (p[0].length < n) {
            p[0] = new short[n];
        }
        return p[0];
    }

    private static float[] panel(int n) {
        float[][] p = PANEL.get();
        if (p[0].length < n) {
            p[0] = new float[n];
        }
        return p[0];
    }

    @Override
    public void multiply(ActivationBuffer in, float[] out, Workspace ws) {
        multiplyKept(in, out, ws);
        addOutliers(in, out);
    }

    @Override
    public void multiplyBatch(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        multiplyBatchKept(in, count, out, ws);
        for (int t = 0; t < count; t++) {
            addOutliers(in[t], out[t]);
        }
    }

    /** {@code out[r] += W[r, c] * x}: a strided walk down column c (a handful per product at most). */
    @Override
    public void addColumn(int c, float x, float[] out) {
        for (int r = 0; r < rows; r++) {
            out[r] += view.get(r * cols + c) * x;
        }
    }

    /** {@link #multiply} without the outliers' float part. */
    private void multiplyKept(ActivationBuffer in, float[] out, Workspace ws) {
        KernelBackend k = ws.backend();
        BatchBackend native32 = nativeF32(ws);
        if (native32 != null) {
            multiplyNative(native32, new ActivationBuffer[] {in}, 1, new float[][] {out}, ws);
            return;
        }
        if (f32 != null && k != ScalarBackend.INSTANCE) {
            float[] x = in.values;
            ws.forRange(rows, ROW_ALIGN, (long) rows * cols, (r0, r1) -> {
                int block = Math.max(1, PANEL_FLOATS / cols);
                float[] p = panel(block * cols);
                for (int r = r0; r < r1; r += block) {
                    int n = Math.min(block, r1 - r);
                    f32.get(r * cols, p, 0, n * cols);
                    k.f32Rows(p, 0, cols, x, out, r, n);
                }
            });
        } else if (view instanceof FloatView.BF16 bf16 && k != ScalarBackend.INSTANCE) {
            // BF16 (a published lm head): a panel of rows' patterns copied in one bulk read, then the
            // backend's vector kernel; element by element it cost more than all of a model's layers.
            float[] x = in.values;
            ws.forRange(rows, ROW_ALIGN, (long) rows * cols, (r0, r1) -> {
                int block = Math.max(1, PANEL_FLOATS / cols);
                short[] p = bf16Panel(block * cols);
                for (int r = r0; r < r1; r += block) {
                    int n = Math.min(block, r1 - r);
                    bf16.patterns(r * cols, p, n * cols);
                    k.bf16Rows(p, 0, cols, x, out, r, n);
                }
            });
        } else if (in.count * 4 < in.width() * 3) {
            matvecSparse(in.values, in.index(), in.count, out);
        } else {
            matvec(in.values, out);
        }
        scale(out, in.outputScale);
    }

    /** {@link #multiplyBatch} without the outliers' float parts. */
    private void multiplyBatchKept(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        KernelBackend k = ws.backend();
        BatchBackend native32 = nativeF32(ws);
        if (native32 != null) {
            multiplyNative(native32, in, count, out, ws);
            return;
        }
        if (f32Bytes != null && count > 1 && ws.preferDense(rows, cols, count)) {
            long t0 = System.nanoTime();
            float[][] x = new float[count][];
            for (int t = 0; t < count; t++) {
                x[t] = in[t].values;
            }
            ws.denseBatch().multiply(f32Bytes(), rows, cols, x, count, out);
            ws.recordDense(rows, cols, count, true, System.nanoTime() - t0);
            for (int t = 0; t < count; t++) {
                scale(out[t], in[t].outputScale);
            }
            return;
        }
        if (view instanceof FloatView.BF16 bf16 && f32 == null && k != ScalarBackend.INSTANCE && count > 1) {
            multiplyBatchBf16(bf16, k, in, count, out, ws);
            return;
        }
        if (f32 == null || k == ScalarBackend.INSTANCE || count == 1) {
            for (int t = 0; t < count; t++) {
                multiplyKept(in[t], out[t], ws);
            }
            return;
        }
        long t0 = System.nanoTime();
        int tile = Math.max(1, TILE_BYTES / (cols * 4));
        float[][] x = new float[count][];
        for (int t = 0; t < count; t++) {
            x[t] = in[t].values;
        }
        ws.forRange(rows, ROW_ALIGN, (long) rows * cols * count, (a, b) -> {
            float[] p = panel(Math.min(tile, b - a) * cols);
            for (int r0 = a; r0 < b; r0 += tile) {
                int n = Math.min(tile, b - r0);
                f32.get(r0 * cols, p, 0, n * cols);
                k.f32Gemm(p, 0, cols, x, count, out, r0, n);
            }
        });
        ws.recordDense(rows, cols, count, false, System.nanoTime() - t0);
        for (int t = 0; t < count; t++) {
            scale(out[t], in[t].outputScale);
        }
    }

    /**
     * A micro-batch of BF16 weights (a published checkpoint run as it is): each tile of rows widened
     * once to float32 and multiplied by every input of the batch with the register-blocked float
     * kernel, instead of each input widening every weight again. The float kernels sum each (row,
     * input) in the order {@code bf16Rows} sums one input, so a batch is bit for bit one input at a
     * time (WeightMatrixTest).
     */
    private void multiplyBatchBf16(
            FloatView.BF16 bf16, KernelBackend k, ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        int tile = Math.max(1, TILE_BYTES / (cols * 4));
        float[][] x = new float[count][];
        for (int t = 0; t < count; t++) {
            x[t] = in[t].values;
        }
        ws.forRange(rows, ROW_ALIGN, (long) rows * cols * count, (a, b) -> {
            int n0 = Math.min(tile, b - a);
            short[] patterns = bf16Panel(n0 * cols);
            float[] p = panel(n0 * cols);
            for (int r0 = a; r0 < b; r0 += tile) {
                int n = Math.min(tile, b - r0);
                bf16.patterns(r0 * cols, patterns, n * cols);
                for (int i = 0; i < n * cols; i++) {
                    p[i] = Float.intBitsToFloat((patterns[i] & 0xffff) << 16);
                }
                k.f32Gemm(p, 0, cols, x, count, out, r0, n);
            }
        });
        for (int t = 0; t < count; t++) {
            scale(out[t], in[t].outputScale);
        }
    }

    /**
     * The workspace's native backend when it has float32 products and these weights are a direct
     * (mapped) F32 tensor, else null. Chosen per matrix, not per batch size: single inputs and
     * micro-batches then take the same summation order, so a batch equals one input at a time.
     */
    private BatchBackend nativeF32(Workspace ws) {
        BatchBackend b = ws.batchBackend();
        return b != null && isMappedF32() && b.hasF32() ? b : null;
    }

    /** True when the weights are F32 in a direct (mapped) buffer: what native float32 products read. */
    public boolean isMappedF32() {
        return f32Bytes != null && f32Bytes.isDirect();
    }

    /** Inputs staged into the workspace's direct buffers, rows split across the pool, results copied back. */
    private void multiplyNative(BatchBackend backend, ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        ByteBuffer x = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, count * cols);
        FloatBuffer xf = x.asFloatBuffer();
        for (int t = 0; t < count; t++) {
            xf.put(t * cols, in[t].values, 0, cols);
        }
        ByteBuffer results = ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * rows);
        WeightSlice weights =
                new WeightSlice(WeightSlice.Layout.F32_ROWS, f32Bytes, null, cols, rows, cols, null, 0, rows);
        ActivationBatch batch = ActivationBatch.floats(x, count, cols);
        OutputBlock block = new OutputBlock(results, rows, null);
        ws.forRange(
                rows,
                ROW_ALIGN,
                (long) rows * cols * count,
                (a, b) -> backend.f32(weights.outputs(a, b - a), batch, block));
        FloatBuffer r = results.asFloatBuffer();
        for (int t = 0; t < count; t++) {
            r.get(t * rows, out[t], 0, rows);
            scale(out[t], in[t].outputScale);
        }
    }

    private void scale(float[] out, float s) {
        if (s != 1f) {
            for (int i = 0; i < rows; i++) {
                out[i] *= s;
            }
        }
    }

    @Override
    public void row(int r, float[] out) {
        int base = r * cols;
        for (int c = 0; c < cols; c++) {
            out[c] = view.get(base + c);
        }
    }

    public FloatView view() {
        return view;
    }

    @Override
    public String format() {
        return view.dtype().name();
    }

    @Override
    public long storedBytes() {
        return (long) rows * cols * (view.dtype() == DType.F32 ? 4 : 2);
    }
}
