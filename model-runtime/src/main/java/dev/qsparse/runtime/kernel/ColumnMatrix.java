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
 * A micro-batch widens a panel of columns once and every input of the batch reads it.
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
            throw new IllegalArgumentException(format() + " data of " + this.data.remaining() + " bytes is not "
                    + cols + " columns x " + stride + " bytes");
        }
    }

    /** Rows rounded up to whole 64-output groups. */
    static int paddedRows(int rows) {
        return (rows + GROUP - 1) / GROUP * GROUP;
    }

    /** Bytes of a column slice holding {@code outputs} outputs. */
    abstract int sliceBytes(int outputs);

    abstract void kernelInt(KernelBackend k, byte[] w, int[] off, float[] xs, int n, int[] acc, int accOff, int len);

    abstract void kernelFloat(KernelBackend k, byte[] w, int[] off, float[] xs, int n, float[] acc, int accOff, int len);

    abstract void finish(int[] acc, float[] out, ActivationBuffer in);

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

        byte[] bytes(int n) {
            if (bytes.length < n) {
                bytes = new byte[n];
            }
            return bytes;
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
    public void multiply(ActivationBuffer in, float[] out, Workspace ws) {
        KernelBackend k = ws.backend();
        if (in.integer) {
            int[] acc = ws.ints(padded);
            ws.forRange(padded, GROUP, (a, b) -> columns(k, in, acc, null, a, b));
            finish(acc, out, in);
        } else {
            float[] acc = ws.floats(padded);
            ws.forRange(padded, GROUP, (a, b) -> columns(k, in, null, acc, a, b));
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
        int[] idx = in.index;
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

    /**
     * Columns per panel of a micro-batch. Float panels: 64 columns x 64 outputs x 4 bytes = 16 KB,
     * in L1 beside the accumulators, and int8 x int8 sums over 64 columns (at most 64 * 127 * 128)
     * stay below the 2^22 that {@link KernelBackend#panelFloatInt} needs to be exact. 16-bit panels of ternary codes: 120 columns keep the 16-bit sums of
     * code (at most 2) x int8 (at most 128 in magnitude) below 2^15: 120 * 256 = 30720.
     */
    static final int FLOAT_PANEL_COLUMNS = 64;
    static final int SHORT_PANEL_COLUMNS = 120;

    /** True when integer inputs use 16-bit panels ({@link #unpackShort}); else float panels for every input. */
    boolean shortPanels() {
        return false;
    }

    /** Widens the {@link #GROUP} outputs of column {@code c} starting at output {@code o0} into {@code dst[dstOff ..]}. */
    abstract void unpackFloat(KernelBackend k, byte[] src, int srcOff, float[] dst, int dstOff);

    /** The same into 16-bit lanes (only where {@link #shortPanels()}). */
    void unpackShort(KernelBackend k, byte[] src, int srcOff, short[] dst, int dstOff) {
        throw new UnsupportedOperationException();
    }

    /** Per-thread panels of a micro-batch: widened weights of a block of columns x {@link #GROUP} outputs. */
    static final class Panels {
        final float[] floats = new float[FLOAT_PANEL_COLUMNS * GROUP];
        final short[] shorts = new short[SHORT_PANEL_COLUMNS * GROUP];
        private byte[] stage = new byte[0];

        /** Staged column slices of mapped weights: a block of columns x one thread's outputs. */
        byte[] stage(int n) {
            if (stage.length < n) {
                stage = new byte[n];
            }
            return stage;
        }
    }

    private static final ThreadLocal<Panels> PANELS = ThreadLocal.withInitial(Panels::new);

    /**
     * A micro-batch as a sparse GEMM: for each tile of {@link #GROUP} outputs and block of columns,
     * the weights are widened once into a panel that stays in L1, then every input of the batch runs
     * its own kept columns of that block through the backend's panel kernel, accumulators in
     * registers. Each input keeps its own top-K set; the sums (exact integers, or floats in the
     * order of {@link #multiply}) are bit for bit those of one input at a time.
     */
    @Override
    public void multiplyBatch(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        if (count == 1) {
            multiply(in[0], out[0], ws);
            return;
        }
        if (TILES) {
            multiplyBatchTiles(in, count, out, ws);
            return;
        }
        KernelBackend k = ws.backend();
        boolean anyInt = false;
        for (int t = 0; t < count; t++) {
            anyInt |= in[t].integer;
        }
        boolean shorts = anyInt && shortPanels();
        int block = shorts ? SHORT_PANEL_COLUMNS : FLOAT_PANEL_COLUMNS;
        int blocks = (cols + block - 1) / block;
        // bounds[t][b] .. bounds[t][b + 1]: input t's kept columns in column block b (indices are ascending)
        int[][] bounds = new int[count][blocks + 1];
        for (int t = 0; t < count; t++) {
            ActivationBuffer x = in[t];
            int j = 0;
            for (int b = 0; b < blocks; b++) {
                bounds[t][b] = j;
                int end = Math.min(cols, (b + 1) * block);
                while (j < x.count && x.index[j] < end) {
                    j++;
                }
            }
            bounds[t][blocks] = j;
        }
        int[][] accI = anyInt ? ws.batchInts(count, padded) : null;
        float[][] accF = ws.batchFloats(count, padded);
        ws.forRange(padded, GROUP, (a, b) -> {
            Panels p = PANELS.get();
            for (int t = 0; t < count; t++) {
                if (in[t].integer) {
                    java.util.Arrays.fill(accI[t], a, b, 0);
                } else {
                    java.util.Arrays.fill(accF[t], a, b, 0f);
                }
            }
            int spanBytes = sliceBytes(b - a);
            for (int blk = 0; blk < blocks; blk++) {
                int c0 = blk * block;
                int c1 = Math.min(cols, c0 + block);
                boolean needFloat = false;
                boolean needShort = false;
                for (int t = 0; t < count; t++) {
                    if (bounds[t][blk + 1] > bounds[t][blk]) {
                        boolean sh = shorts && in[t].integer;
                        needShort |= sh;
                        needFloat |= !sh;
                    }
                }
                if (!needFloat && !needShort) {
                    continue; // no input kept any column of this block
                }
                // Mapped weights: one copy per column of this thread's outputs, not one per tile.
                byte[] src = heap;
                if (heap == null) {
                    src = p.stage((c1 - c0) * spanBytes);
                    for (int c = c0; c < c1; c++) {
                        data.get(c * stride + sliceBytes(a), src, (c - c0) * spanBytes, spanBytes);
                    }
                }
                for (int o0 = a; o0 < b; o0 += GROUP) {
                    for (int c = c0; c < c1; c++) {
                        int pos = heap != null ? c * stride + sliceBytes(o0) : (c - c0) * spanBytes + sliceBytes(o0 - a);
                        if (needFloat) {
                            unpackFloat(k, src, pos, p.floats, (c - c0) * GROUP);
                        }
                        if (needShort) {
                            unpackShort(k, src, pos, p.shorts, (c - c0) * GROUP);
                        }
                    }
                    for (int t = 0; t < count; t++) {
                        int j0 = bounds[t][blk];
                        int j1 = bounds[t][blk + 1];
                        if (j0 == j1) {
                            continue;
                        }
                        ActivationBuffer x = in[t];
                        if (!x.integer) {
                            k.panelFloat(p.floats, c0, x.index, j0, j1, x.values, accF[t], o0);
                        } else if (shorts) {
                            k.panelShortInt(p.shorts, c0, x.index, j0, j1, x.values, accI[t], o0);
                        } else {
                            k.panelFloatInt(p.floats, c0, x.index, j0, j1, x.values, accI[t], o0);
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

    static final boolean TILES = "tiles".equals(System.getProperty("qsparse.batch"));
    static final int TILE_BYTES = 384 * 1024;

    /** The GEMV kernels over an L2 tile per row (the previous batched path), for comparison. */
    void multiplyBatchTiles(ActivationBuffer[] in, int count, float[][] out, Workspace ws) {
        KernelBackend k = ws.backend();
        int tile = Math.max(GROUP, Math.min(padded, TILE_BYTES / Math.max(1, sliceBytes(GROUP) * cols) * GROUP));
        int[][] accI = ws.batchInts(count, padded);
        float[][] accF = ws.batchFloats(count, padded);
        ws.forRange(padded, GROUP, (a, b) -> {
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
                    for (int j0 = 0; j0 < x.count; j0 += MAX_BLOCK) {
                        int n = Math.min(MAX_BLOCK, x.count - j0);
                        for (int j = 0; j < n; j++) {
                            int c = x.index[j0 + j];
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

    @Override
    public void matvec(float[] x, float[] out) {
        ActivationBuffer in = new ActivationBuffer(cols);
        in.setDense(x);
        multiply(in, out, Workspace.single());
    }

    @Override
    public void matvecSparse(float[] x, int[] index, int count, float[] out) {
        ActivationBuffer in = new ActivationBuffer(cols);
        for (int j = 0; j < count; j++) {
            in.values[index[j]] = x[index[j]];
            in.index[j] = index[j];
        }
        in.count = count;
        multiply(in, out, Workspace.single());
    }
}
