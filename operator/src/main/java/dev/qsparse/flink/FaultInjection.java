package dev.qsparse.flink;

/**
 * Fault injection points of the async operator, <b>for tests only</b>: end-to-end tests install a
 * {@link Hook} to throw at exactly the moments where duplicates or losses would be born (the task
 * thread while batches are in flight, an inference thread in the middle of a batch), and to
 * assert, not assume, that batches were in flight when they did. With no hook installed (always,
 * outside tests) each point is one read of a volatile field.
 *
 * <p>The hook is static per class loader: it reaches the operators of a job run by a Flink mini
 * cluster in the test's own JVM, never a job on a real cluster.
 */
public final class FaultInjection {

    /** Where a hook is called. */
    public enum Point {
        /** On the task thread, in {@code asyncInvoke}, after an event was queued for a batch. */
        ASYNC_INVOKE,
        /** On an inference thread, before a batch runs through the model. */
        INFERENCE_BATCH,
        /**
         * On the task thread of a switchable enrichment ({@link VersionedAsyncFunction}), when the
         * first event of a new model version arrives while another version is open: the switch
         * reaching this task. {@code inFlight} is the older versions' events still waiting.
         */
        MODEL_SWITCH
    }

    /**
     * Called at each point. {@code inFlight} is the number of events of this subtask waiting for a
     * result (queued or in a running batch) at that moment; {@code batchSize} the batch's size at
     * {@link Point#INFERENCE_BATCH}, else 0. Whatever it throws is thrown at that point.
     */
    @FunctionalInterface
    public interface Hook {
        void at(Point point, int subtask, int inFlight, int batchSize) throws Exception;
    }

    private static volatile Hook hook;

    private FaultInjection() {}

    /** Installs {@code h} (null removes it). Tests only. */
    public static void install(Hook h) {
        hook = h;
    }

    static void at(Point point, int subtask, int inFlight, int batchSize) throws Exception {
        Hook h = hook;
        if (h != null) {
            h.at(point, subtask, inFlight, batchSize);
        }
    }
}
