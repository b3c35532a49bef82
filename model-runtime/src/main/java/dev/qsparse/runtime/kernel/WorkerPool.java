package dev.qsparse.runtime.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A small fixed pool that splits one kernel call's output range across threads: the caller and
 * {@code threads - 1} daemon workers take its parts. One pool belongs to one inference session
 * (never the common ForkJoinPool); a pool of size 1 has no threads at all.
 *
 * <p>Parts are claimed, not assigned: whichever thread is free takes the next unclaimed part, so
 * a worker that the scheduler has not run yet never holds up a call (the caller takes its part).
 * Two 2-thread sessions sharing 2 vCPUs (a task manager with more slots times threads than cores)
 * decoded the small BitNet shape at 12-14 tok/s each with parts assigned, every call waiting a
 * time slice for a descheduled worker, and at 262-311 tok/s each with parts claimed.
 *
 * <p>Waiting threads spin briefly (kernel calls come every few microseconds during a forward
 * pass), then yield, then park. Not reentrant: one call at a time, from the owning thread.
 */
public final class WorkerPool implements AutoCloseable {

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    /** Waits first spin on pause instructions (about 30 us on Zen 5: kernel calls come every few microseconds). */
    private static final int PAUSES = 1 << 10;
    /**
     * Then yield the CPU to any other runnable thread (another session's, the JIT's) before parking:
     * a part a yielding worker misses is claimed by its caller. Two 2-thread sessions on 2 vCPUs
     * decoded 156-164 tok/s each with waits that only paused, 262-311 with these yields; one
     * session alone, 2 threads against 1 in the same JVM, the same 1.2-1.4x either way.
     */
    private static final int YIELDS = 1 << 10;

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int threads;
    private final Worker[] workers;
    /**
     * The current call's generation (high 32 bits) and its next unclaimed part (low 32 bits): a
     * claim is a compare-and-set, so a thread still looking at an earlier call's generation can
     * never take a part of this one. Each call takes two generations: a sealed one while its
     * fields are written, then its own.
     */
    private final AtomicLong claims = new AtomicLong();
    /** Parts of the current call finished (or failed). */
    private final AtomicInteger finished = new AtomicInteger();
    // The current call, written before claims publishes its generation.
    private RangeTask task;
    private int n;
    private int align;
    private int parts;
    private int perPart;
    private int extra;
    private volatile Thread caller;
    private volatile Throwable failure;
    private volatile boolean closed;

    private WorkerPool(int threads, boolean start) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        int id = POOLS.incrementAndGet();
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("qsparse-kernel-" + id + "-" + (i + 1));
            if (start) {
                workers[i].start();
            }
        }
    }

    /** A pool running work on {@code threads} threads in all (the caller included). */
    public static WorkerPool create(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        return new WorkerPool(threads, true);
    }

    /** A pool whose workers have not started (tests: every part then falls to the caller). */
    static WorkerPool withIdleWorkers(int threads) {
        return new WorkerPool(threads, false);
    }

    /** Starts the workers of a {@link #withIdleWorkers} pool. */
    void startWorkers() {
        for (Worker w : workers) {
            w.start();
        }
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
        // Sealed first (no part left to claim), so that a thread still reading the last call's
        // generation cannot claim a part against the fields written next; then published.
        int generation = (int) (claims.get() >>> 32) + 2;
        claims.set(((long) (generation - 1) << 32) | Integer.MAX_VALUE);
        this.task = task;
        this.n = n;
        this.align = align;
        this.parts = parts;
        this.perPart = units / parts;
        this.extra = units % parts;
        caller = Thread.currentThread();
        failure = null;
        finished.set(0);
        claims.set((long) generation << 32); // publishes the fields above
        for (int w = 0; w < parts - 1; w++) {
            LockSupport.unpark(workers[w]);
        }
        runParts(generation); // the caller's share: the first part, and any no worker has taken
        int waits = 0;
        while (finished.get() != parts) {
            if (waits < PAUSES + YIELDS) {
                pauseOrYield(waits++);
            } else {
                LockSupport.parkNanos(this, 50_000L);
            }
        }
        this.task = null;
        Throwable t = failure;
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
    }

    /**
     * Claims and runs parts of call {@code generation} until none is left; a part's failure is
     * recorded and counts as finished. Returns at once for a call that is over or not yet posted.
     */
    private void runParts(int generation) {
        for (; ; ) {
            long c = claims.get();
            int part = (int) c;
            if ((int) (c >>> 32) != generation) {
                return;
            }
            // Read before the claim; a successful claim proves they are this call's (the next call
            // starts only after every part of this one, this one included, has been claimed and run).
            RangeTask body = task;
            int count = parts;
            if (part >= count) {
                return;
            }
            int start = part * perPart + Math.min(part, extra);
            int from = start * align;
            int to = Math.min(n, (start + perPart + (part < extra ? 1 : 0)) * align);
            if (!claims.compareAndSet(c, c + 1)) {
                continue;
            }
            try {
                body.run(from, to);
            } catch (Throwable t) {
                failure = t;
            }
            if (finished.incrementAndGet() == count) {
                Thread waiting = caller;
                if (waiting != Thread.currentThread()) {
                    LockSupport.unpark(waiting);
                }
            }
        }
    }

    private static void pauseOrYield(int waits) {
        if (waits < PAUSES) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
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
        private int seen;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            while (!closed) {
                int waits = 0;
                int generation;
                while ((generation = (int) (claims.get() >>> 32)) == seen && !closed) {
                    if (waits < PAUSES + YIELDS) {
                        pauseOrYield(waits++);
                    } else {
                        LockSupport.park(this);
                    }
                }
                if (closed) {
                    return;
                }
                seen = generation;
                runParts(generation);
            }
        }
    }
}
