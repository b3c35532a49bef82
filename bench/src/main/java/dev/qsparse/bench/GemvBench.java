package dev.qsparse.bench;

import dev.qsparse.runtime.kernel.ActivationBuffer;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.kernel.Int8Matrix;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.kernel.TopKRescale;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.kernel.Workspace;
import dev.qsparse.runtime.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * One matrix-vector product of a given shape and format, over enough copies of the matrix that
 * the working set is several times the last-level cache (as in decode, where every weight comes
 * from DRAM). Shared by the JMH benchmark and the bench table.
 */
public final class GemvBench implements AutoCloseable {

    /** Bytes the copies of one matrix must exceed: well above any L3 of a 2-core slice. */
    static final long WORKING_SET = 192L << 20;

    private final WeightMatrix[] copies;
    private final ActivationBuffer input;
    private final float[] out;
    private final Workspace workspace;
    private final WorkerPool pool;
    private int next;

    /**
     * @param format "f32", "int8" or "ternary"
     * @param keep   fraction of inputs kept by top-K (1.0 = dense); activations are int8 except for f32
     */
    public GemvBench(int rows, int cols, String format, double keep, int threads) {
        Random r = new Random(rows * 31L + cols);
        ByteBuffer f = ByteBuffer.allocateDirect(rows * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            f.putFloat(i * 4, (float) r.nextGaussian() * 0.05f);
        }
        FloatView view = FloatView.of(f, DType.F32);
        WeightMatrix base = switch (format) {
            case "f32" -> new FloatMatrix(view, rows, cols);
            case "int8" -> Int8Matrix.quantize(view, rows, cols);
            case "ternary" -> TernaryMatrix.quantize(view, rows, cols);
            default -> throw new IllegalArgumentException(format);
        };
        int n = (int) Math.max(2, (WORKING_SET + base.storedBytes() - 1) / base.storedBytes());
        copies = new WeightMatrix[n];
        for (int i = 0; i < n; i++) {
            copies[i] = copy(base, rows, cols, f);
        }
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) r.nextGaussian();
        }
        input = new ActivationBuffer(cols);
        new Sparsifier(keep, format.equals("f32") ? 0 : 8, TopKRescale.NONE).apply(x, input, new float[cols]);
        out = new float[rows];
        pool = threads > 1 ? WorkerPool.create(threads) : null;
        workspace = new Workspace(Backends.chosen(), pool); // what the engine runs: native kernels where they load
    }

    private static WeightMatrix copy(WeightMatrix m, int rows, int cols, ByteBuffer f32) {
        if (m instanceof Int8Matrix q) {
            return Int8Matrix.of(clone(q.data()), q.rowScales(), rows, cols);
        }
        if (m instanceof TernaryMatrix t) {
            return TernaryMatrix.of(clone(t.data()), t.scale(), rows, cols);
        }
        return new FloatMatrix(FloatView.of(clone(f32), DType.F32), rows, cols);
    }

    private static ByteBuffer clone(ByteBuffer b) {
        ByteBuffer src = b.duplicate();
        src.position(0);
        ByteBuffer c = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        c.put(src);
        return c.flip();
    }

    /** One product, on the next copy. */
    public float run() {
        WeightMatrix m = copies[next];
        next = next + 1 == copies.length ? 0 : next + 1;
        m.multiply(input, out, workspace);
        return out[0];
    }

    /** Weight bytes one product reads. */
    public long bytesPerProduct() {
        return copies[0].bytesRead(input.count);
    }

    /** Microseconds per product: best of 3 timed runs of about {@code millis} each, after a warm-up. */
    public double microsPerProduct(int millis) {
        timed(millis);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            best = Math.min(best, timed(millis));
        }
        return best;
    }

    private double timed(int millis) {
        long end = System.nanoTime() + millis * 1_000_000L;
        long t0 = System.nanoTime();
        int n = 0;
        float sink = 0;
        while (System.nanoTime() < end || n < copies.length) {
            sink += run();
            n++;
        }
        if (sink == Float.MIN_VALUE) {
            System.out.print("");
        }
        return (System.nanoTime() - t0) / 1e3 / n;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
    }
}
