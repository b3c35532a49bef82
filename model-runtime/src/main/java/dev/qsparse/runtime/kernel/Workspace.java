package dev.qsparse.runtime.kernel;

/**
 * What a kernel call needs besides its operands: the backend, the session's thread pool and
 * accumulator scratch. Owned by one forward state (one session); not thread-safe.
 */
public final class Workspace {

    private final KernelBackend backend;
    private final WorkerPool pool;
    private final DenseBatchBackend dense;
    private final boolean denseAuto;
    /** Per F32 batch shape: null = not measured yet; else whether the dense backend won. */
    private final java.util.Map<Long, long[]> denseTimes = new java.util.HashMap<>();

    private final BatchBackend integerBatch;
    private final java.nio.ByteBuffer[] nativeScratch = new java.nio.ByteBuffer[NativeScratch.values().length];

    private int[] ints = new int[0];
    private float[] floats = new float[0];
    private int[][] batchInts = new int[0][];
    private float[][] batchFloats = new float[0][];

    /** The Java kernels {@code backend} alone, on the calling thread. */
    public Workspace(KernelBackend backend) {
        this(Backends.Choice.only(backend), null);
    }

    /**
     * Products on {@code backends}, shared with {@code pool}'s threads (null: the calling thread
     * only). Float32 micro-batches go to the dense backend always when it was named, else per shape
     * where it measures faster (each shape timed once on each path); int8/ternary micro-batches go to
     * the native batch backend, whose sums are exact: results do not change, only the speed does.
     */
    public Workspace(Backends.Choice backends, WorkerPool pool) {
        this.backend = backends.kernels();
        this.pool = pool;
        this.integerBatch = backends.batch().orElse(null);
        this.dense = backends.dense().orElse(null);
        this.denseAuto = !backends.denseAlways();
        if (dense != null) {
            dense.setThreads(threads());
        }
    }

    /** A workspace with the JVM's chosen kernels and no threads. */
    public static Workspace single() {
        return new Workspace(KernelBackends.best());
    }

    public KernelBackend backend() {
        return backend;
    }

    public BatchBackend batchBackend() {
        return integerBatch;
    }

    /** The direct buffers a batch on the integer backend hands to native code, one of each per workspace. */
    enum NativeScratch {
        /** [count][stride] activation floats. */
        ACTIVATIONS,
        /** [count][stride] int32 kept-column lists (float activations). */
        INDEX,
        /** [count] floats: each input's finish factor. */
        TOKEN_SCALES,
        /** [count] int32s: each input's activation sum (ternary) or kept-column count (float path). */
        TOKEN_INTS,
        /** [count] int32s: each input's kept-column count (sparse integer path, beside the sums). */
        COUNTS,
        /** [count][padded outputs] result floats. */
        RESULTS
    }

    /**
     * The workspace's direct little-endian buffer {@code which}, holding at least {@code values}
     * 4-byte values (contents undefined; grown, never shrunk).
     */
    java.nio.ByteBuffer nativeScratch(NativeScratch which, int values) {
        java.nio.ByteBuffer b = nativeScratch[which.ordinal()];
        long bytes = 4L * values;
        if (b == null || b.capacity() < bytes) {
            b = java.nio.ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            nativeScratch[which.ordinal()] = b;
        }
        return b;
    }

    public DenseBatchBackend denseBatch() {
        return dense;
    }

    /** Whether the next F32 batch of this shape should go to the dense backend; {@link #recordDense} reports its time. */
    boolean preferDense(int rows, int cols, int count) {
        if (dense == null) {
            return false;
        }
        if (!denseAuto) {
            return true;
        }
        long[] t = denseTimes.get(key(rows, cols, count));
        if (t == null || t[0] == 0) {
            return false; // time the Vector API path first
        }
        if (t[1] == 0) {
            return true; // then the dense backend
        }
        return t[1] < t[0];
    }

    void recordDense(int rows, int cols, int count, boolean usedDense, long nanos) {
        if (dense == null || !denseAuto) {
            return;
        }
        long[] t = denseTimes.computeIfAbsent(key(rows, cols, count), k -> new long[2]);
        int i = usedDense ? 1 : 0;
        if (t[i] == 0) {
            t[i] = Math.max(1, nanos);
        }
    }

    private static long key(int rows, int cols, int count) {
        return ((long) rows << 40) ^ ((long) cols << 16) ^ count;
    }

    public int threads() {
        return pool == null ? 1 : pool.threads();
    }

    /**
     * Multiply-adds below which a share of a product is not worth a hand-off to another thread
     * (about 2-4 us of kernel work, several times the wake-up and cache-line traffic of a hand-off):
     * a small product runs on fewer threads, so adding threads never makes it slower.
     */
    public static final long MIN_WORK_PER_THREAD = 1L << 15;

    /**
     * Runs {@code task} over {@code [0, n)}, split across the pool's threads at multiples of
     * {@code align}, for a product of {@code work} multiply-adds in all: at most one thread per
     * {@link #MIN_WORK_PER_THREAD} of them.
     */
    public void forRange(int n, int align, long work, WorkerPool.RangeTask task) {
        if (pool == null) {
            task.run(0, n);
        } else {
            pool.forRange(n, align, threadsFor(work), task);
        }
    }

    /** Threads worth using for {@code work} multiply-adds: between 1 and the pool's size. */
    public int threadsFor(long work) {
        return (int) Math.max(1, Math.min(threads(), work / MIN_WORK_PER_THREAD));
    }

    int[] ints(int n) {
        if (ints.length < n) {
            ints = new int[n];
        }
        return ints;
    }

    float[] floats(int n) {
        if (floats.length < n) {
            floats = new float[n];
        }
        return floats;
    }

    int[][] batchInts(int count, int n) {
        if (batchInts.length < count) {
            batchInts = java.util.Arrays.copyOf(batchInts, count);
        }
        for (int i = 0; i < count; i++) {
            if (batchInts[i] == null || batchInts[i].length < n) {
                batchInts[i] = new int[n];
            }
        }
        return batchInts;
    }

    float[][] batchFloats(int count, int n) {
        if (batchFloats.length < count) {
            batchFloats = java.util.Arrays.copyOf(batchFloats, count);
        }
        for (int i = 0; i < count; i++) {
            if (batchFloats[i] == null || batchFloats[i].length < n) {
                batchFloats[i] = new float[n];
            }
        }
        return batchFloats;
    }
}
