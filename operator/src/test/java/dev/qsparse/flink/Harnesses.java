package dev.qsparse.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;

/** Flink's operator test harness around the async operator, as Flink's own AsyncWaitOperator tests use it. */
final class Harnesses {

    private Harnesses() {}

    static OneInputStreamOperatorTestHarness<byte[], QSparseResult> async(QSparseSettings settings) throws Exception {
        return new OneInputStreamOperatorTestHarness<>(
                new AsyncWaitOperatorFactory<>(
                        new QSparseAsyncFunction(settings),
                        settings.timeout().toMillis(),
                        settings.asyncCapacity(),
                        AsyncDataStream.OutputMode.ORDERED),
                BytePrimitiveArraySerializer.INSTANCE);
    }

    /** Runs the mails (result hand-overs, timeouts) queued for the task thread; this test thread is it. */
    static void runMails(AbstractStreamOperatorTestHarness<?> harness) throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    /** The results emitted so far, in order. */
    static List<QSparseResult> results(AbstractStreamOperatorTestHarness<QSparseResult> harness) {
        List<QSparseResult> out = new ArrayList<>();
        for (Object o : harness.getOutput()) {
            if (o instanceof StreamRecord<?> r) {
                out.add((QSparseResult) r.getValue());
            }
        }
        return out;
    }

    /** Runs mails until {@code n} results were emitted, or fails after {@code timeout}. */
    static List<QSparseResult> awaitResults(
            AbstractStreamOperatorTestHarness<QSparseResult> harness, int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            runMails(harness);
            List<QSparseResult> out = results(harness);
            if (out.size() >= n) {
                return out;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + out.size() + " of " + n + " results after " + timeout);
            }
            TimeUnit.MILLISECONDS.sleep(1);
        }
    }
}
