package dev.qsparse.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.flink.FaultInjection;
import dev.qsparse.jobs.demo.DemoEvents;
import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Faults injected where duplicates and losses are born, in each mode, and afterwards every id
 * exactly once under read_committed across the output and dead-letter topics:
 * <ol>
 *   <li>an {@link Error} on an <b>inference thread</b> in the middle of a batch (the batch's
 *       futures fail, the task restarts from the last checkpoint, the batch is replayed);
 *   <li>an exception on the <b>async operator's task thread</b> while events wait in batches
 *       (asserted: at least two events of that subtask in flight at that moment);
 *   <li>a failure in the <b>sink between the checkpoint snapshot and the transaction commit</b>: an
 *       operator of the same task fails its {@code snapshotState} after records passed since the
 *       previous checkpoint. Flink calls {@code prepareSnapshotPreBarrier} on every operator of the
 *       task before any {@code snapshotState}, so by then the Kafka sink writer has flushed and
 *       pre-committed that checkpoint's transaction; the failed checkpoint never commits it, the
 *       job restarts from the previous checkpoint and the restored writer aborts it.
 * </ol>
 * Each fault is armed only after the previous one happened, and the test keeps producing until
 * all three did (asserted). The test has teeth: with {@code -Dfi.delivery=at-least-once} (the
 * non-transactional sink) the same faults give hundreds of duplicates and it fails.
 */
class FaultInjectionTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    static EmbeddedKafkaBroker broker;

    /** Faults thrown so far; what each saw when it was thrown. */
    static final AtomicInteger FAULTS = new AtomicInteger();

    static final List<String> FAULT_LOG = Collections.synchronizedList(new ArrayList<>());
    static final AtomicInteger CALLS = new AtomicInteger();
    /** Opens of the snapshot-fault map after the sink fault (a restart happened). */
    static final AtomicInteger OPENS_AFTER_LAST_FAULT = new AtomicInteger();

    @BeforeAll
    static void startBroker() throws Exception {
        broker = EmbeddedKafkaBroker.start();
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
    }

    @AfterEach
    void removeHook() {
        FaultInjection.install(null);
    }

    /** Faults 1 and 2, inside the async operator. */
    static void hook(FaultInjection.Point point, int subtask, int inFlight, int batchSize) {
        int calls = CALLS.incrementAndGet();
        if (point == FaultInjection.Point.INFERENCE_BATCH
                && calls >= 40
                && batchSize > 0
                && FAULTS.compareAndSet(0, 1)) {
            CALLS.set(0);
            FAULT_LOG.add("inference thread of subtask " + subtask + ", batch of " + batchSize + ", " + inFlight
                    + " in flight");
            throw new AssertionError("injected fault 1: an Error on an inference thread in the middle of a batch");
        }
        if (point == FaultInjection.Point.ASYNC_INVOKE
                && FAULTS.get() == 1
                && calls >= 60
                && inFlight >= 2
                && FAULTS.compareAndSet(1, 2)) {
            FAULT_LOG.add("task thread of subtask " + subtask + ", " + inFlight + " in flight");
            throw new IllegalStateException(
                    "injected fault 2: the async operator's task thread, " + inFlight + " events in flight");
        }
    }

    /** Fault 3: fails snapshotState of the task after the sink writer pre-committed. */
    static final class SnapshotFault extends RichMapFunction<byte[], byte[]> implements CheckpointedFunction {
        private transient int sinceSnapshot;
        private transient int subtask;

        @Override
        public void open(OpenContext context) {
            subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
            if (FAULTS.get() == 3) {
                OPENS_AFTER_LAST_FAULT.incrementAndGet();
            }
        }

        @Override
        public byte[] map(byte[] value) {
            sinceSnapshot++;
            return value;
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {
            int records = sinceSnapshot;
            sinceSnapshot = 0;
            if (FAULTS.get() == 2 && records > 0 && FAULTS.compareAndSet(2, 3)) {
                FAULT_LOG.add("snapshot of checkpoint " + context.getCheckpointId() + " on subtask " + subtask + ", "
                        + records + " records since the previous one");
                throw new IllegalStateException("injected fault 3: checkpoint " + context.getCheckpointId()
                        + " fails after the sink pre-committed its transaction");
            }
        }

        @Override
        public void initializeState(FunctionInitializationContext context) {
            sinceSnapshot = 0;
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"embed", "generate", "score"})
    void everyIdExactlyOnceAfterFaultsInTheOperatorAndTheSink(String mode) throws Exception {
        FAULTS.set(0);
        CALLS.set(0);
        FAULT_LOG.clear();
        OPENS_AFTER_LAST_FAULT.set(0);
        FaultInjection.install(FaultInjectionTest::hook);

        Pipeline p = new Pipeline(broker, 4);
        List<String> texts = DemoEvents.readTexts(Path.of("../models/data/events.txt"));
        List<DemoEvents.Event> events = new ArrayList<>(DemoEvents.build(texts, 300, 12, null, 5));
        JobClient job = p.start(
                p.options(
                        mode,
                        2,
                        "--set",
                        "qsparse.generate.max-new-tokens=3",
                        "--delivery",
                        System.getProperty("fi.delivery", "exactly-once")),
                s -> s.map(new SnapshotFault()).name("snapshot-fault"));
        int produced = 0;
        int extra = 0;
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (produced < events.size() || FAULTS.get() < 3 && System.nanoTime() < deadline) {
            for (int i = 0; produced + i == events.size() && i < 30; i++) {
                String id = String.format("evt-8%04d", extra++);
                String text = texts.get(extra % texts.size()).replace("\\", "").replace("\"", "'");
                events.add(new DemoEvents.Event(
                        id,
                        ("{\"id\":\"" + id + "\",\"text\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8),
                        false));
            }
            int end = Math.min(events.size(), produced + 30);
            p.produce(events.subList(produced, end));
            produced = end;
            Thread.sleep(100);
        }
        Pipeline.Outcome outcome = p.await(events.size(), Duration.ofMinutes(3));
        Pipeline.stop(job);
        System.out.println("FaultInjectionTest " + mode + ": " + FAULT_LOG + "; " + events.size() + " events");

        assertEquals(3, FAULTS.get(), "all three faults happened: " + FAULT_LOG);
        assertTrue(OPENS_AFTER_LAST_FAULT.get() > 0, "the job restarted after the sink fault: " + FAULT_LOG);
        assertEquals(300 + extra, outcome.enriched.size(), "faults: " + FAULT_LOG);
        assertEquals(12, outcome.deadLetters.size());
        EndToEndTest.assertExactlyOnce(events, outcome);
        assertTrue(outcome.enriched.stream()
                .allMatch(e -> mode.equals(e.path("mode").asText())));
    }
}
