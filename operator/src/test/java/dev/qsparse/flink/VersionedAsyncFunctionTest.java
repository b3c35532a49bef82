package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The switchable async operator on Flink's harness, with two real model directories: each event is
 * answered by the version in its tag, also when it is replayed from a snapshot taken while the old
 * version still had events in flight, and the old version is released once none needs it.
 */
class VersionedAsyncFunctionTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private static OneInputStreamOperatorTestHarness<VersionedEvent, QSparseResult> harness(QSparseSettings settings)
            throws Exception {
        return new OneInputStreamOperatorTestHarness<>(
                new AsyncWaitOperatorFactory<>(
                        new VersionedAsyncFunction(settings),
                        settings.timeout().toMillis(),
                        settings.asyncCapacity(),
                        AsyncDataStream.OutputMode.ORDERED),
                QSparseEnrichment.VERSIONED.createSerializer(new SerializerConfigImpl()));
    }

    private static VersionedEvent tagged(Path model, String version, int i) {
        return new VersionedEvent(model.toString(), version, TestEvents.event(i));
    }

    @Test
    void replayedEventsKeepTheirVersionAndTheOldOneIsReleasedWhenIdle() throws Exception {
        Path v1 = RemoteModels.copy(tmp.resolve("embedder/v1"), null);
        Path v2 = RemoteModels.copy(tmp.resolve("embedder/v2"), null);
        QSparseSettings settings = TestEvents.builder()
                .modelPath(v1.toString())
                .maxBatchSize(4)
                .maxWait(Duration.ofSeconds(2))
                .build()
                .settings();
        List<QSparseResult> results = new ArrayList<>();
        OperatorSubtaskState snapshot;
        var first = harness(settings);
        try {
            first.open();
            for (int i = 0; i < 6; i++) {
                first.processElement(tagged(v1, "v1", i), i);
            }
            // e0..e3 are a full batch; e4 and e5 wait for company (up to 2 s) when the switch arrives.
            results.addAll(Harnesses.awaitResults(first, 4, WAIT));
            first.processElement(tagged(v2, "v2", 6), 6);
            assertEquals(1, SharedModels.references(v1), "v1 stays open while e4, e5 need it");
            assertEquals(1, SharedModels.references(v2));
            snapshot = first.snapshot(1L, 1L);
        } finally {
            first.close(); // a failure: e4, e5 (v1) and e6 (v2) live on only in the snapshot
        }
        assertEquals(0, SharedModels.references(v1) + SharedModels.references(v2), "everything released at close");

        try (var second = harness(settings)) {
            second.initializeState(snapshot);
            second.open(); // replays e4, e5 with v1 and e6 with v2
            for (int i = 7; i < 10; i++) {
                second.processElement(tagged(v2, "v2", i), i);
            }
            List<QSparseResult> replayed = Harnesses.awaitResults(second, 6, WAIT);
            second.processElement(tagged(v2, "v2", 10), 10);
            assertEquals(0, SharedModels.references(v1), "v1 released: no event of it in flight any more");
            assertEquals(1, SharedModels.references(v2));
            second.endInput();
            results.addAll(Harnesses.results(second));
            assertEquals(7, Harnesses.results(second).size());
            assertTrue(replayed.size() >= 6);
        }

        List<String> versions = new ArrayList<>();
        for (QSparseResult r : results) {
            assertTrue(!r.isDeadLetter(), r::toString);
            versions.add(r.id() + ":" + r.enriched.modelVersion);
        }
        assertEquals(
                List.of(
                        "e0:v1", "e1:v1", "e2:v1", "e3:v1", "e4:v1", "e5:v1", "e6:v2", "e7:v2", "e8:v2", "e9:v2",
                        "e10:v2"),
                versions);
    }
}
