package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void coversTheRangeOnceWithAlignedParts() {
        try (WorkerPool pool = WorkerPool.create(3)) {
            for (int n : new int[] {0, 1, 63, 64, 65, 640, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
                pool.forRange(n, 64, (a, b) -> {
                    assertTrue(a % 64 == 0, "part starts at " + a);
                    for (int i = a; i < b; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "index " + i + " of " + n);
                }
            }
        }
    }

    @Test
    void usesItsOwnThreadsAndPropagatesFailures() {
        try (WorkerPool pool = WorkerPool.create(2)) {
            // Parts go to whichever thread claims them first: over many calls the worker takes
            // some, and nothing but the caller and the pool's own threads ever runs one.
            java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
            for (int call = 0; call < 2000 && names.size() < 2; call++) {
                pool.forRange(128, 64, (a, b) -> {
                    names.add(Thread.currentThread().getName());
                    busy(50_000); // long enough for a worker to wake and claim the other part
                });
            }
            String self = Thread.currentThread().getName();
            assertTrue(names.contains(self), names.toString());
            assertTrue(
                    names.stream().anyMatch(n -> n.startsWith("qsparse-kernel-")),
                    "no part ran on a pool thread: " + names);
            assertTrue(
                    names.stream().allMatch(n -> n.equals(self) || n.startsWith("qsparse-kernel-")), names.toString());
            assertThrows(
                    IllegalStateException.class,
                    () -> pool.forRange(128, 64, (a, b) -> {
                        if (a > 0) {
                            throw new IllegalStateException("boom");
                        }
                    }));
            // still usable afterwards
            int[] sum = new int[1];
            pool.forRange(64, 64, (a, b) -> sum[0] += b - a);
            assertEquals(64, sum[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> WorkerPool.create(0));
    }

    @Test
    void smallProductsStayOnFewerThreads() {
        try (WorkerPool pool = WorkerPool.create(4)) {
            Workspace ws = new Workspace(Backends.Choice.only(KernelBackends.scalar()), pool);
            assertEquals(1, ws.threadsFor(Workspace.MIN_WORK_PER_THREAD - 1));
            assertEquals(2, ws.threadsFor(2 * Workspace.MIN_WORK_PER_THREAD));
            assertEquals(4, ws.threadsFor(100 * Workspace.MIN_WORK_PER_THREAD));
            for (long work : new long[] {1, 2 * Workspace.MIN_WORK_PER_THREAD + 5, Long.MAX_VALUE}) {
                java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
                AtomicIntegerArray hits = new AtomicIntegerArray(1024);
                ws.forRange(1024, 64, work, (a, b) -> {
                    names.add(Thread.currentThread().getName());
                    for (int i = a; i < b; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                // at most that many parts: a worker that has not woken yet leaves its part to another thread
                assertTrue(names.size() <= ws.threadsFor(work), names + " for " + work + " multiply-adds");
                if (ws.threadsFor(work) == 1) {
                    assertEquals(java.util.Set.of(Thread.currentThread().getName()), names);
                }
                for (int i = 0; i < 1024; i++) {
                    assertEquals(1, hits.get(i));
                }
            }
        }
    }

    @Test
    void theCallerFinishesACallAloneWhenNoWorkerShowsUp() throws Exception {
        // Workers not started stand for workers the scheduler has not run: with parts assigned to
        // them, these calls would never return.
        try (WorkerPool pool = WorkerPool.withIdleWorkers(4)) {
            for (int call = 0; call < 3; call++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(1000);
                java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
                pool.forRange(1000, 8, (a, b) -> {
                    names.add(Thread.currentThread().getName());
                    for (int i = a; i < b; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                assertEquals(java.util.Set.of(Thread.currentThread().getName()), names);
                for (int i = 0; i < 1000; i++) {
                    assertEquals(1, hits.get(i), "index " + i);
                }
            }
            // Workers that wake after those calls find nothing of them to run, and join the next ones.
            pool.startWorkers();
            java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
            for (int call = 0; call < 2000 && names.size() < 2; call++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(1000);
                pool.forRange(1000, 8, (a, b) -> {
                    names.add(Thread.currentThread().getName());
                    busy(50_000);
                    for (int i = a; i < b; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < 1000; i++) {
                    assertEquals(1, hits.get(i), "index " + i + " of call " + call);
                }
            }
            assertTrue(names.size() >= 2, "no worker took a part once started: " + names);
        }
    }

    private static void busy(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() < end) {
            Thread.onSpinWait();
        }
    }
}
