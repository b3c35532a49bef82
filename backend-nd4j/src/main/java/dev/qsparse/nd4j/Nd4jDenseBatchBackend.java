package dev.qsparse.nd4j;

import dev.qsparse.runtime.kernel.DenseBatchBackend;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Dense float32 micro-batch products on ND4J (libnd4j + OpenBLAS sgemm), for model-runtime's
 * {@link DenseBatchBackend} service. Found by {@link java.util.ServiceLoader} when this module and
 * ND4J are on the class path; nothing else depends on it.
 *
 * <ul>
 *   <li>The weights are not copied: a memory-mapped F32 tensor is wrapped as an ND4J buffer over
 *       its address (JavaCPP pointer), once per tensor.
 *   <li>JavaCPP unpacks its native libraries (~400 MB) into {@code org.bytedeco.javacpp.cachedir};
 *       when that property is not set, this class sets it to
 *       {@code ${qsparse.nd4j.cachedir:-${java.io.tmpdir}/qsparse-javacpp}} before ND4J loads, so
 *       the home directory is never filled behind the user's back.
 *   <li>{@link #setThreads} sets libnd4j's OpenMP pool and OpenBLAS to the session's thread count.
 * </ul>
 */
public final class Nd4jDenseBatchBackend implements DenseBatchBackend {

    static final String CACHE_PROPERTY = "org.bytedeco.javacpp.cachedir";

    public Nd4jDenseBatchBackend() {
        if (System.getProperty(CACHE_PROPERTY) == null) {
            String dir = System.getProperty(
                    "qsparse.nd4j.cachedir",
                    Path.of(System.getProperty("java.io.tmpdir"), "qsparse-javacpp")
                            .toString());
            System.setProperty(CACHE_PROPERTY, dir);
        }
    }

    @Override
    public String name() {
        return "nd4j";
    }

    @Override
    public void multiply(ByteBuffer w, int rows, int cols, float[][] x, int count, float[][] out) {
        Holder.multiply(w, rows, cols, x, count, out);
    }

    @Override
    public void setThreads(int threads) {
        Holder.setThreads(threads);
    }

    /** Everything that touches ND4J, loaded only on first use (after the cache directory is set). */
    static final class Holder {
        private static final Map<Long, org.nd4j.linalg.api.ndarray.INDArray> WEIGHTS = new ConcurrentHashMap<>();

        static void setThreads(int threads) {
            org.nd4j.linalg.factory.Nd4j.getEnvironment().setMaxMasterThreads(threads);
            org.nd4j.linalg.factory.Nd4j.getEnvironment().setMaxThreads(threads);
            org.nd4j.nativeblas.NativeOpsHolder.getInstance()
                    .getDeviceNativeOps()
                    .setOmpNumThreads(threads);
            org.nd4j.linalg.factory.Nd4j.factory().blas().setMaxThreads(threads);
        }

        static org.nd4j.linalg.api.ndarray.INDArray weights(ByteBuffer w, int rows, int cols) {
            if (!w.isDirect()) {
                // Heap weights (tests, in-memory models): no address to wrap, so copy once per call.
                float[] copy = new float[rows * cols];
                w.duplicate()
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer()
                        .get(0, copy);
                return org.nd4j.linalg.factory.Nd4j.create(copy, new long[] {rows, cols}, 'c');
            }
            org.bytedeco.javacpp.BytePointer bytes = new org.bytedeco.javacpp.BytePointer(w);
            long key = bytes.address() ^ ((long) rows << 32) ^ cols;
            return WEIGHTS.computeIfAbsent(key, k -> {
                org.bytedeco.javacpp.FloatPointer floats = new org.bytedeco.javacpp.FloatPointer(bytes);
                floats.capacity((long) rows * cols).limit((long) rows * cols);
                org.nd4j.linalg.api.buffer.DataBuffer buffer = org.nd4j.linalg.factory.Nd4j.createBuffer(
                        floats,
                        org.nd4j.linalg.api.buffer.DataType.FLOAT,
                        (long) rows * cols,
                        org.bytedeco.javacpp.indexer.FloatIndexer.create(floats));
                return org.nd4j.linalg.factory.Nd4j.create(
                        buffer,
                        new long[] {rows, cols},
                        new long[] {cols, 1},
                        0,
                        'c',
                        org.nd4j.linalg.api.buffer.DataType.FLOAT);
            });
        }

        static void multiply(ByteBuffer w, int rows, int cols, float[][] x, int count, float[][] out) {
            org.nd4j.linalg.api.ndarray.INDArray weights = weights(w, rows, cols);
            float[] flat = new float[count * cols];
            for (int t = 0; t < count; t++) {
                System.arraycopy(x[t], 0, flat, t * cols, cols);
            }
            // X^T as a column-major [cols, count] view of the row-major [count, cols] inputs; W [rows, cols]
            // row-major as mapped. W · X^T = [rows, count]: sgemm with the mapped W untouched (no copy).
            org.nd4j.linalg.api.ndarray.INDArray xt =
                    org.nd4j.linalg.factory.Nd4j.create(flat, new long[] {cols, count}, 'f');
            org.nd4j.linalg.api.ndarray.INDArray result = org.nd4j.linalg.factory.Nd4j.create(
                    org.nd4j.linalg.api.buffer.DataType.FLOAT, new long[] {rows, count}, 'f');
            weights.mmul(xt, result);
            float[] r = result.data().asFloat();
            for (int t = 0; t < count; t++) {
                System.arraycopy(r, t * rows, out[t], 0, rows);
            }
        }
    }
}
