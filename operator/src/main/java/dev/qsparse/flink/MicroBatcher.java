package dev.qsparse.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Groups submitted items into batches of at most {@code maxBatchSize} and hands each batch to a
 * worker. A batch is closed when it is full or when {@code maxWait} has passed since its first
 * item was <em>submitted</em> (so an item never waits for more company longer than that; it may
 * wait longer only for a free worker, and then the batch takes whatever is queued, up to the
 * size, without waiting).
 *
 * <p>Owns a fixed pool of {@code threads} daemon threads named {@code <name>-<i>}, started in the
 * constructor and stopped by {@link #close()}. Each thread makes its own batch handler through
 * {@code handlerFactory} on its own thread (that is where a per-thread inference session is made).
 * The handler must not throw for a bad item; if making the handler or the worker itself fails,
 * {@code onWorkerFailure} is called on that worker's thread and the worker ends.
 * The batcher holds no state worth saving: items still queued when it is closed are dropped, which
 * is safe because the caller (the async operator) keeps them in its checkpointed state.
 */
final class MicroBatcher<T> implements AutoCloseable {

    private static final class Queued<T> {
        final T item;
        final long submittedNanos;

        Queued(T item, long submittedNanos) {
            this.item = item;
            this.submittedNanos = submittedNanos;
        }
    }

    /** Serves batches on one worker thread; closed when that worker ends. */
    interface Handler<T> extends AutoCloseable {
        void accept(List<T> batch);

        @Override
        default void close() throws Exception {}
    }

    private final int maxBatchSize;
    private final long maxWaitNanos;
    private final LinkedBlockingQueue<Queued<T>> queue = new LinkedBlockingQueue<>();
    private final ExecutorService workers;
    private volatile boolean running = true;

    MicroBatcher(
            String name,
            int maxBatchSize,
            Duration maxWait,
            int threads,
            Supplier<Handler<T>> handlerFactory,
            Consumer<Throwable> onWorkerFailure) {
        if (maxBatchSize < 1 || threads < 1 || maxWait.isNegative()) {
            throw new IllegalArgumentException("maxBatchSize and threads must be >= 1, maxWait >= 0");
        }
        this.maxBatchSize = maxBatchSize;
        this.maxWaitNanos = maxWait.toNanos();
        this.workers = Executors.newFixedThreadPool(threads, daemonThreads(name));
        for (int i = 0; i < threads; i++) {
            workers.execute(() -> loop(handlerFactory, onWorkerFailure));
        }
    }

    private static ThreadFactory daemonThreads(String name) {
        AtomicInteger next = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + next.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
    }

    void submit(T item) {
        if (!running) {
            throw new IllegalStateException("micro-batcher is closed");
        }
        queue.add(new Queued<>(item, System.nanoTime()));
    }

    /** Items waiting for a worker. */
    int queued() {
        return queue.size();
    }

    private void loop(Supplier<Handler<T>> handlerFactory, Consumer<Throwable> onWorkerFailure) {
        try (Handler<T> handler = handlerFactory.get()) {
            while (running) {
                List<T> batch = nextBatch();
                if (running) {
                    handler.accept(batch);
                }
            }
        } catch (InterruptedException e) {
            // close(): stop without serving what is queued.
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            // The worker cannot go on (for example, its session cannot be made): nothing it would
            // have served may wait forever, so the owner is told and fails the task.
            if (running) {
                onWorkerFailure.accept(t);
            }
        }
    }

    private List<T> nextBatch() throws InterruptedException {
        Queued<T> first = queue.take();
        List<T> batch = new ArrayList<>(maxBatchSize);
        batch.add(first.item);
        long deadline = first.submittedNanos + maxWaitNanos;
        while (batch.size() < maxBatchSize) {
            Queued<T> next = queue.poll();
            if (next == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                next = queue.poll(left, TimeUnit.NANOSECONDS);
                if (next == null) {
                    break;
                }
            }
            batch.add(next.item);
        }
        return batch;
    }

    /**
     * Stops the workers: a batch being served is finished, queued items are dropped. Waits up to
     * {@code grace} for the workers to end.
     */
    void close(Duration grace) throws InterruptedException {
        running = false;
        workers.shutdownNow();
        workers.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS);
        queue.clear();
    }

    @Override
    public void close() throws InterruptedException {
        close(Duration.ofSeconds(30));
    }
}
