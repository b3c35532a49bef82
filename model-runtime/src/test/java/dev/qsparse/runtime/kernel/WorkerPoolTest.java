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
            String[] names = new String[2];
            pool.forRange(
                    128, 64, (a, b) -> names[a / 64] = Thread.currentThread().getName());
            assertEquals(Thread.currentThread().getName(), names[0]);
            assertTrue(names[1].startsWith("qsparse-kernel-"), names[1]);
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
                assertEquals(ws.threadsFor(work), names.size(), "threads for " + work + " multiply-adds");
                for (int i = 0; i < 1024; i++) {
                    assertEquals(1, hits.get(i));
                }
            }
        }
    }
}
