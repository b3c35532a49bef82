package dev.qsparse.runtime.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Shared machinery of the input-channel-major ("column") weight formats, {@link Int8Matrix} and
 * {@link TernaryMatrix}: column {@code c} is {@code stride} contiguous bytes at {@code c * stride},
 * and a product walks only the kept columns.
 *
 * <p>Where the bytes live: a memory-mapped tensor (the default: every task on the machine shares
 * the page cache), or a heap array (in-memory quantization, or {@link #onHeap()}). For mapped
 * bytes, each thread copies the slices of a block of kept columns into a small panel with one
 * bulk {@code get} per column (a memcpy) and runs the array kernel on it; the panel stays in L1.
 * A micro-batch copies a tile of columns once and every input of the batch reads it.
 */
abstract class ColumnMatrix implements WeightMatrix {

    /** Outputs are padded to whole 64-output groups. */
    static final int GROUP = 64;
    /** Kept columns per kernel call at most. */
    static final int MAX_BLOCK = 64;
    /** Panel bytes per block of columns (L1-sized, with the accumulators beside it). */
    static final int PANEL_BYTES = 16 * 1024;

    final ByteBuffer data;
    final byte[] heap;
    final int rows;
    final int cols;
    final int padded;
    final int stride;

    ColumnMatrix(ByteBuffer data, byte[] heap, int rows, int cols, int stride) {
        this.rows = rows;
        this.cols = cols;
        this.padded = paddedRows(rows);
        this.stride = stride;
        if (heap != null) {
            this.heap = heap;
            this.data = ByteBuffer.wrap(heap).order(ByteOrder.LITTLE_ENDIAN);
        } else {
            this.heap = null;
            this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        }
        if (this.data.remaining() != (long) cols * stride) {
            throw new IllegalArgumentException(format() + " data of " + this.data.remaining() + " bytes is not " + cols
                    + " columns x " + stride + " bytes");
        }
    }

    /** Rows rounded up to whole 64-output groups. */
    static int paddedRows(int rows) {
        return (rows + GROUP - 1) / GROUP * GROUP;
    }

    /** Bytes of a column slice holding {@code outputs} outputs. */
    abstract int sliceBytes(int outputs);

    abstract void kernelInt(KernelBackend k, byte[] w, int[] off, float[] xs, int n, int[] acc, int accOff, int len);

    abstract void kernelFloat(
            KernelBackend k, byte[] w, int[] off, float[] xs, int n, float[] acc, int accOff, int len);

    abstract void finish(int[] acc, float[] out, ActivationBuffer in);

    /** These weights, every output, as a native backend reads them. */
    abstract WeightSlice slice();

    abstract float tokenScale(ActivationBuffer in);

    /** The per-input integer this format's finish subtracts (ternary: the activation sum), else 0. */
    int tokenSum(ActivationBuffer in) {
        return 0;
    }

    abstract void finish(float[] acc, float[] out, ActivationBuffer in);

    /** The stored bytes, [cols][stride] (a read-only view). */
    public ByteBuffer data() {
        ByteBuffer d = data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        d.position(0);
        return d;
    }

    /** True when the bytes are a heap array (no panel copies). */
    public boolean isOnHeap() {
        return heap != null;
    }

    /** Per-thread scratch: the panel or tile, the column offsets and the gathered activations. */
    static final class Scratch {
        byte[] bytes = new byte[0];
        final int[] off = new int[MAX_BLOCK];
        final float[] xs = new float[MAX_BLOCK];

        ByteBuffer direct = ByteBuffer.allocateDirect(0);

        byte[] bytes(int n) {
            if (bytes.length < n) {
                bytes = new byte[n];
            }
            return bytes;
        }

        ByteBuffer direct(int n) {
            if (direct.capacity() < n) {
                direct = ByteBuffer.allocateDirect(n);
            }
            return direct;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public final void multiply(ActivationBuffer in, float[] out, Workspace ws) {
        multiplyKept(in, out, ws);
        addOutliers(in, out);
    }

    /** {@link #multiply} without the outliers' float part. */
    private void multiplyKept(ActivationBuffer in, float[] out, Workspace ws) {
        BatchBackend integer = ws.batchBackend();
        if (in.integer && integer != null && integer.hasSparse()) {
            multiplySparseNative(integer, new ActivationBuffer[] {in}, 1, new float[][] {out}, ws);
            return;
        }
        if (!in.integer && integer != null && floatKernelOnBackend()) {
            multiplyBatchFloat(integer, new ActivationBuffer[] {in}, 1, new float[][] {out}, ws);
            return;
        }
        KernelBackend k = ws.backend();
        in.index(); // listed here, on the calling thread: the tiles below read it concurrently
        if (in.integer) {
            int[] acc = ws.ints(padded);
            ws.forRange(padded, GROUP, (long) padded * in.count, (a, b) -> columns(k, in, acc, null, a, b));
            finish(acc, out, in);
        } else {
            float[] acc = ws.floats(padded);
            ws.forRange(padded, GROUP, (long) padded * in.count, (a, b) -> columns(k, in, null, acc, a, b));
            finish(acc, out, in);
        }
    }

    /** Outputs per pass over the kept columns: the accumulators of a pass stay in L1. */
    static final int SUB_OUTPUTS = 4096;

    /** Outputs [a, b) of one input, {@link #SUB_OUTPUTS} at a time. */
    private void columns(KernelBackend k, ActivationBuffer in, int[] accI, float[] accF, int a, int b) {
        for (int s = a; s < b; s += SUB_OUTPUTS) {
            columnsRange(k, in, accI, accF, s, Math.min(b, s + SUB_OUTPUTS));
        }
    }

    /** Outputs [a, b) of one input: its kept columns, a block at a time. */
    private void columnsRange(KernelBackend k, ActivationBuffer in, int[] accI, float[] accF, int a, int b) {
        if (accI != null) {
            java.util.Arrays.fill(accI, a, b, 0);
        } else {
            java.util.Arrays.fill(accF, a, b, 0f);
        }
        int len = b - a;
        int slice = sliceBytes(len);
        int start = sliceBytes(a);
        Scratch s = SCRATCH.get();
        int block = heap != null ? MAX_BLOCK : Math.max(4, Math.min(MAX_BLOCK, PANEL_BYTES / slice / 4 * 4));
        byte[] src = heap != null ? heap : s.bytes(block * slice);
        int[] idx = in.index();
        float[] x = in.values;
        for (int j0 = 0; j0 < in.count; j0 += block) {
            int n = Math.min(block, in.count - j0);
            for (int j = 0; j < n; j++) {
                int c = idx[j0 + j];
                s.xs[j] = x[c];
                int pos = c * stride + start;
                if (heap != null) {
                    s.off[j] = pos;
                } else {
                    data.get(pos, src, j * slice, slice);
                    s.off[j] = j * slice;
                }
            }
            if (accI != null) {
                kernelInt(k, src, s.off, s.xs, n, accI, a, len);
            } else {
                kernelFloat(k, src, s.off, s.xs, n, accF, a, len);
            }
        }
    }

    /** Weight bytes of one output tile of a micro-batch (L2-sized): every input of the batch reads it. */
    static final int TILE_BYTES = 384 * 1024;

    /**
     * A micro-batch: the outputs are cut into tiles whose weights fit in L2; each tile is copied
     * once (for mapped weights) and every input of the batch runs its own kept columns over it with
     * the GEMV kernels, which sweep a whole tile of outputs per block of columns. Each input keeps
     * its own top-K set; the results are bit for bit those of {@link #multiply} one input at a time.
     *
     * <p>Why not register-blocked panels: a variant that widened 64-output panels once per batch
     * into L1 and kept the accumulators in registers (measured in BENCHMARKS.md) was 20-35% slower
     * here: with only 64 outputs per column visit, the per-column work (index, activation, bounds
     * checks, broadcast) outweighs the accumulator traffic a whole-tile sweep pays.
     */
    @Override
    public final void multiplyBatch(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        multiplyBatchKept(in, count, out, ws);
        for (int t = 0; t < count; t++) {
            addOutliers(in[t], out[t]);
        }
    }

    /** {@link #multiplyBatch} without the outliers' float parts. */
    private void multiplyBatchKept(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        if (count == 1) {
            multiplyKept(in[0], out[0], ws);
            return;
        }
        BatchBackend integer = ws.batchBackend();
        if (integer != null && count < INTEGER_BATCH_MIN) {
            int integerInputs = integerInputs(in, count);
            if (integerInputs == count && integer.hasSparse()) {
                multiplySparseNative(integer, in, count, out, ws);
                return;
            }
            if (integerInputs == 0 && floatKernelOnBackend()) {
                multiplyBatchFloat(integer, in, count, out, ws);
                return;
            }
        }
        if (integer != null && count >= INTEGER_BATCH_MIN) {
            int integerInputs = integerInputs(in, count);
            if (integerInputs == count) {
                multiplyBatchInteger(integer, in, count, out, ws);
                return;
            }
            if (integerInputs == 0 && floatKernelOnBackend()) {
                multiplyBatchFloat(integer, in, count, out, ws);
                return;
            }
        }
        KernelBackend k = ws.backend();
        long work = 0;
        for (int t = 0; t < count; t++) {
            work += (long) padded * in[t].count;
            in[t].index(); // listed on the calling thread: the tiles below read it concurrently
        }
        int tile = Math.max(GROUP, Math.min(padded, TILE_BYTES / Math.max(1, sliceBytes(GROUP) * cols) * GROUP));
        int[][] accI = ws.batchInts(count, padded);
        float[][] accF = ws.batchFloats(count, padded);
        ws.forRange(padded, GROUP, work, (a, b) -> {
            Scratch s = SCRATCH.get();
            for (int o0 = a; o0 < b; o0 += tile) {
                int o1 = Math.min(b, o0 + tile);
                int len = o1 - o0;
                int slice = sliceBytes(len);
                int start = sliceBytes(o0);
                byte[] src = heap;
                if (heap == null) {
                    src = s.bytes(cols * slice);
                    for (int c = 0; c < cols; c++) {
                        data.get(c * stride + start, src, c * slice, slice);
                    }
                }
                for (int t = 0; t < count; t++) {
                    ActivationBuffer x = in[t];
                    if (x.integer) {
                        java.util.Arrays.fill(accI[t], o0, o1, 0);
                    } else {
                        java.util.Arrays.fill(accF[t], o0, o1, 0f);
                    }
                    int[] xIndex = x.index();
                    for (int j0 = 0; j0 < x.count; j0 += MAX_BLOCK) {
                        int n = Math.min(MAX_BLOCK, x.count - j0);
                        for (int j = 0; j < n; j++) {
                            int c = xIndex[j0 + j];
                            s.xs[j] = x.values[c];
                            s.off[j] = heap != null ? c * stride + start : c * slice;
                        }
                        if (x.integer) {
                            kernelInt(k, src, s.off, s.xs, n, accI[t], o0, len);
                        } else {
                            kernelFloat(k, src, s.off, s.xs, n, accF[t], o0, len);
                        }
                    }
                }
            }
        });
        for (int t = 0; t < count; t++) {
            if (in[t].integer) {
                finish(accI[t], out[t], in[t]);
            } else {
                finish(accF[t], out[t], in[t]);
            }
        }
    }

    /**
     * Smallest batch for the integer backend: it computes every input (zeros too) and repacks each
     * weight block per call, which a few inputs do not pay back against the sparse column kernels.
     */
    static final int INTEGER_BATCH_MIN = 4;

    private static int integerInputs(ActivationBuffer[] in, int count) {
        int n = 0;
        for (int t = 0; t < count; t++) {
            n += in[t].integer ? 1 : 0;
        }
        return n;
    }

    /** Input floats per row of the backend's activation buffer: the inputs padded to 64. */
    private int xStride() {
        return (cols + 63) / 64 * 64;
    }

    /**
     * Copies each input's values (zero-padded to {@link #xStride()}) and finish factor into the
     * workspace's direct buffers, and sizes the results buffer.
     */
    private void stage(ActivationBuffer[] in, int count, Workspace ws) {
        int xStride = xStride();
        java.nio.FloatBuffer x = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, count * xStride)
                .asFloatBuffer();
        java.nio.FloatBuffer scales =
                ws.nativeScratch(Workspace.NativeScratch.TOKEN_SCALES, count).asFloatBuffer();
        for (int t = 0; t < count; t++) {
            x.put(t * xStride, in[t].values, 0, cols);
            x.put(t * xStride + cols, ZEROS, 0, xStride - cols);
            scales.put(t, tokenScale(in[t]));
        }
        ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * padded);
    }

    /** Copies the backend's results, [count][padded], into {@code out}. */
    private void unstage(int count, float[][] out, Workspace ws) {
        java.nio.FloatBuffer results = ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * padded)
                .asFloatBuffer();
        for (int t = 0; t < count; t++) {
            results.get(t * padded, out[t], 0, rows);
        }
    }

    /**
     * A micro-batch of int8 activations on the integer backend: exact integer sums and the same
     * float finish as the Java kernels per output tile on the pool's threads, so the results are
     * bit for bit theirs.
     */
    private void multiplyBatchInteger(
            BatchBackend backend, ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        stage(in, count, ws);
        java.nio.ByteBuffer sumBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_INTS, count);
        java.nio.IntBuffer sums = sumBytes.asIntBuffer();
        for (int t = 0; t < count; t++) {
            sums.put(t, tokenSum(in[t]));
        }
        int xStride = xStride();
        ByteBuffer xBytes = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, count * xStride);
        ByteBuffer scaleBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_SCALES, count);
        ByteBuffer resultBytes = ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * padded);
        int scratchBytes = Math.toIntExact(backend.scratchBytes(cols, count, xStride));
        WeightSlice weights = slice();
        ActivationBatch batch = new ActivationBatch(xBytes, count, xStride, scaleBytes, sumBytes, null, null);
        ws.forRange(padded, GROUP, (long) padded * cols * count, (a, b) -> {
            ByteBuffer scratch = SCRATCH.get().direct(scratchBytes);
            backend.integer(weights.outputs(a, b - a), batch, new OutputBlock(resultBytes, padded, scratch));
        });
        unstage(count, out, ws);
    }

    /**
     * Int8 activations on the backend's sparse kernel: each input over its own kept columns, outputs
     * split across the pool's threads, the same exact sums and finish as the Java kernels.
     */
    private void multiplySparseNative(
            BatchBackend backend, ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        long work = 0;
        for (int t = 0; t < count; t++) {
            work += (long) padded * in[t].count;
        }
        int parts = ws.threadsFor(work);
        if (count == 1 && parts > 1 && sliceBytes(padded) / parts < SPLIT_COLUMNS_BELOW) {
            multiplySparseNativeByColumns(backend, in[0], parts, out[0], ws);
            return;
        }
        stage(in, count, ws);
        int xStride = xStride();
        ByteBuffer indexBytes = ws.nativeScratch(Workspace.NativeScratch.INDEX, count * xStride);
        ByteBuffer sumBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_INTS, count);
        ByteBuffer countBytes = ws.nativeScratch(Workspace.NativeScratch.COUNTS, count);
        java.nio.IntBuffer index = indexBytes.asIntBuffer();
        for (int t = 0; t < count; t++) {
            index.put(t * xStride, in[t].index(), 0, in[t].count);
            countBytes.putInt(4 * t, in[t].count);
            sumBytes.putInt(4 * t, tokenSum(in[t]));
        }
        ByteBuffer xBytes = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, count * xStride);
        ByteBuffer scaleBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_SCALES, count);
        ByteBuffer resultBytes = ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * padded);
        int scratchBytes = Math.toIntExact(backend.scratchBytes(cols, 1, xStride));
        WeightSlice weights = slice();
        ActivationBatch batch =
                new ActivationBatch(xBytes, count, xStride, scaleBytes, sumBytes, indexBytes, countBytes);
        ws.forRange(padded, GROUP, work, (a, b) -> {
            ByteBuffer scratch = SCRATCH.get().direct(scratchBytes);
            backend.integerSparse(weights.outputs(a, b - a), batch, new OutputBlock(resultBytes, padded, scratch));
        });
        unstage(count, out, ws);
    }

    /**
     * Bytes of a column each thread would read when threads split the outputs, below which they
     * split the input's kept columns instead: a few lines per column visit are too short a run for
     * the prefetchers (a 768-output ternary matrix is 192 bytes a column, 96 per thread).
     */
    static final int SPLIT_COLUMNS_BELOW = 2048;

    /**
     * One input, its kept columns split across {@code parts} threads, each over every output: each
     * part's exact int32 sums come back unfinished, are added (integer sums in any order are the
     * same) and finished here as the Java kernels finish theirs.
     */
    private void multiplySparseNativeByColumns(
            BatchBackend backend, ActivationBuffer in, int parts, float[] out, Workspace ws) {
        int xStride = xStride();
        stage(new ActivationBuffer[] {in}, 1, ws);
        ByteBuffer xBytes = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, xStride);
        ByteBuffer scaleBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_SCALES, 1);
        ByteBuffer tokenSums = ws.nativeScratch(Workspace.NativeScratch.TOKEN_INTS, 1);
        tokenSums.putInt(0, tokenSum(in)); // unused by unfinished sums, but part of a ternary call
        ByteBuffer partSums = ws.nativeScratch(Workspace.NativeScratch.RESULTS, parts * padded);
        int scratchBytes = Math.toIntExact(backend.scratchBytes(cols, 1, xStride));
        WeightSlice weights = slice();
        int[] kept = in.index();
        int n = in.count;
        ws.forRange(parts, 1, (long) padded * n, (a, b) -> {
            for (int p = a; p < b; p++) {
                int j0 = (int) ((long) n * p / parts);
                int j1 = (int) ((long) n * (p + 1) / parts);
                Scratch s = SCRATCH.get();
                ByteBuffer own = s.direct(scratchBytes + 4 * (xStride + 1));
                ByteBuffer scratch = own.slice(0, scratchBytes);
                ByteBuffer index = own.slice(scratchBytes, 4 * xStride).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                ByteBuffer counts = own.slice(scratchBytes + 4 * xStride, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                index.asIntBuffer().put(0, kept, j0, j1 - j0);
                counts.putInt(0, j1 - j0);
                ActivationBatch part = new ActivationBatch(xBytes, 1, xStride, scaleBytes, tokenSums, index, counts);
                ByteBuffer sums = partSums.slice(4 * p * padded, 4 * padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                backend.integerSparse(weights, part, new OutputBlock(sums, padded, scratch, true));
            }
        });
        int[] acc = ws.ints(padded);
        java.nio.IntBuffer sums = partSums.asIntBuffer();
        sums.get(0, acc, 0, padded);
        for (int p = 1; p < parts; p++) {
            for (int o = 0; o < padded; o++) {
                acc[o] += sums.get(p * padded + o);
            }
        }
        finish(acc, out, in);
    }

    /** Whether the integer backend has this format's float-activation kernel ({@link BatchBackend#int8Float}). */
    boolean floatKernelOnBackend() {
        return false;
    }

    /**
     * A micro-batch of float activations on the backend (an int8 lm head): each input's own kept
     * columns in their order, so the results are bit for bit those of the Java kernels.
     */
    private void multiplyBatchFloat(
            BatchBackend backend, ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        stage(in, count, ws);
        int xStride = xStride();
        ByteBuffer indexBytes = ws.nativeScratch(Workspace.NativeScratch.INDEX, count * xStride);
        ByteBuffer countBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_INTS, count);
        java.nio.IntBuffer index = indexBytes.asIntBuffer();
        java.nio.IntBuffer counts = countBytes.asIntBuffer();
        long work = 0;
        for (int t = 0; t < count; t++) {
            index.put(t * xStride, in[t].index(), 0, in[t].count);
            counts.put(t, in[t].count);
            work += (long) padded * in[t].count;
        }
        ByteBuffer xBytes = ws.nativeScratch(Workspace.NativeScratch.ACTIVATIONS, count * xStride);
        ByteBuffer scaleBytes = ws.nativeScratch(Workspace.NativeScratch.TOKEN_SCALES, count);
        ByteBuffer resultBytes = ws.nativeScratch(Workspace.NativeScratch.RESULTS, count * padded);
        WeightSlice weights = slice();
        ActivationBatch batch = new ActivationBatch(xBytes, count, xStride, scaleBytes, null, indexBytes, countBytes);
        OutputBlock results = new OutputBlock(resultBytes, padded, null);
        ws.forRange(padded, GROUP, work, (a, b) -> backend.int8Float(weights.outputs(a, b - a), batch, results));
        unstage(count, out, ws);
    }

    /** Zero padding of an activation row up to a multiple of 64 inputs. */
    private static final float[] ZEROS = new float[64];

    @Override
    public void matvec(float[] x, float[] out) {
        ActivationBuffer in = new ActivationBuffer(cols);
        in.setDense(x);
        multiply(in, out, Workspace.single());
    }

    @Override
    public void matvecSparse(float[] x, int[] index, int count, float[] out) {
        ActivationBuffer in = new ActivationBuffer(cols);
        int[] kept = in.indexToFill();
        for (int j = 0; j < count; j++) {
            in.values[index[j]] = x[index[j]];
            kept[j] = index[j];
        }
        in.count = count;
        multiply(in, out, Workspace.single());
    }
}
