package dev.qsparse.bench;

import dev.qsparse.runtime.kernel.WorkerPool;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's streaming read bandwidth, measured the way decode reads weights: one pass over a
 * buffer far larger than the last-level cache, summed with vector loads, on 1 or more threads.
 */
public final class Bandwidth {

    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;

    private Bandwidth() {}

    /** Best GB/s (1e9 bytes) of {@code passes} passes over {@code megabytes} MB with {@code threads} threads. */
    public static double measure(int megabytes, int threads, int passes) {
        ByteBuffer buf = ByteBuffer.allocateDirect(megabytes << 20).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < buf.capacity(); i += 4096) {
            buf.putLong(i, i); // touch every page
        }
        long[] sink = new long[threads * 8];
        double best = 0;
        try (WorkerPool pool = WorkerPool.create(threads)) {
            int chunk = 1 << 20;
            int n = buf.capacity() / chunk;
            for (int p = 0; p < passes + 1; p++) {
                long t0 = System.nanoTime();
                pool.forRange(n, 1, (a, b) -> {
                    long s = sum(buf, a * chunk, b * chunk);
                    sink[(a * 8) % sink.length] += s;
                });
                double gbs = buf.capacity() / ((System.nanoTime() - t0) / 1e9) / 1e9;
                if (p > 0) {
                    best = Math.max(best, gbs);
                }
            }
        }
        if (sink[0] == 42) {
            System.out.print("");
        }
        return best;
    }

    private static long sum(ByteBuffer buf, int from, int to) {
        LongVector a = LongVector.zero(LS);
        LongVector b = LongVector.zero(LS);
        int step = LS.vectorByteSize();
        int i = from;
        for (; i + 2 * step <= to; i += 2 * step) {
            a = a.add(LongVector.fromByteBuffer(LS, buf, i, ByteOrder.LITTLE_ENDIAN));
            b = b.add(LongVector.fromByteBuffer(LS, buf, i + step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).reduceLanes(VectorOperators.ADD);
    }
}
