package dev.qsparse.runtime.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A small fixed pool that splits one kernel call's output range across threads: the caller runs
 * the first part itself, {@code threads - 1} daemon workers run the rest. One pool belongs to one
 * inference session (never the common ForkJoinPool); a pool of size 1 has no threads at all.
 *
 * <p>Workers spin briefly for the next call (kernel calls come every few microseconds during a
 * forward pass), then park. Not reentrant: one call at a time, from the owning thread.
 */
public final class WorkerPool implements AutoCloseable {

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private static final int SPINS = 1 << 14;
    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int threads;
    private final Worker[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Thread caller;
    private volatile Throwable failure;
    private volatile boolean closed;

    private WorkerPool(int threads) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        int id = POOLS.incrementAndGet();
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("qsparse-kernel-" + id + "-" + (i + 1));
            workers[i].start();
        }
    }

    /** A pool running work on {@code threads} threads in all (the caller included). */
    public static WorkerPool create(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        return new WorkerPool(threads);
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code task} over {@code [0, n)} split into at most {@link #threads()} parts whose
     * boundaries are multiples of {@code align} (the last part ends at n); returns when all parts are done.
     */
    public void forRange(int n, int align, RangeTask task) {
        forRange(n, align, threads, task);
    }

    /** As {@link #forRange(int, int, RangeTask)} in at most {@code maxParts} parts (a small product stays on few threads). */
    public void forRange(int n, int align, int maxParts, RangeTask task) {
        int units = (n + align - 1) / align;
        int parts = Math.min(Math.min(threads, Math.max(1, maxParts)), units);
        if (parts <= 1 || closed) {
            task.run(0, n);
            return;
        }
        int perPart = units / parts;
        int extra = units % parts;
        caller = Thread.currentThread();
        failure = null;
        pending.set(parts - 1);
        int from = (perPart + (extra > 0 ? 1 : 0)) * align;
        int firstEnd = Math.min(n, from);
        for (int p = 1; p < parts; p++) {
            int size = (perPart + (p < extra ? 1 : 0)) * align;
            int to = Math.min(n, from + size);
            workers[p - 1].post(task, from, to);
            from = to;
        }
        Throwable own = null;
        try {
            task.run(0, firstEnd);
        } catch (Throwable t) {
            own = t;
        }
        int spins = 0;
        while (pending.get() != 0) {
            if (spins < SPINS) {
                spins++;
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 50_000L);
            }
        }
        Throwable t = own != null ? own : failure;
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    private final class Worker extends Thread {
        private volatile int posted;
        private int seen;
        private RangeTask task;
        private int from;
        private int to;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        void post(RangeTask task, int from, int to) {
            this.task = task;
            this.from = from;
            this.to = to;
            posted = posted + 1; // volatile write publishes the fields above
            LockSupport.unpark(this);
        }

        @Override
        public void run() {
            while (!closed) {
                int spins = 0;
                while (posted == seen && !closed) {
                    if (spins < SPINS) {
                        spins++;
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                if (closed) {
                    return;
                }
                seen = posted;
                try {
                    task.run(from, to);
                } catch (Throwable t) {
                    failure = t;
                }
                task = null;
                if (pending.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }
}
