package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.CoBroadcastWithNonKeyedOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.BroadcastOperatorTestHarness;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The switch logic on Flink's broadcast operator harness, with real model directories: when a new
 * version takes effect, what a restore gives back, what is refused, and how many versions are
 * mapped.
 */
class ModelVersionTaggerTest {

    @TempDir
    Path tmp;

    private Path v1;
    private Path v2;
    private Path v3;
    private QSparseSettings settings;

    @BeforeEach
    void models() throws Exception {
        v1 = RemoteModels.copy(tmp.resolve("embedder/v1"), null);
        v2 = RemoteModels.copy(tmp.resolve("embedder/v2"), null);
        v3 = RemoteModels.copy(tmp.resolve("embedder/v3"), null);
        settings = TestEvents.builder().modelPath(v1.toString()).build().settings();
    }

    private BroadcastOperatorTestHarness<byte[], byte[], VersionedEvent> harness(OperatorSubtaskState restored)
            throws Exception {
        BroadcastOperatorTestHarness<byte[], byte[], VersionedEvent> h = new BroadcastOperatorTestHarness<>(
                new CoBroadcastWithNonKeyedOperator<>(
                        new ModelVersionTagger(settings), List.of(ModelVersionTagger.STATE)),
                1,
                1,
                0);
        h.setup();
        if (restored != null) {
            h.initializeState(restored);
        }
        h.open();
        return h;
    }

    private static byte[] switchTo(Path model, String version) {
        return ModelSwitch.toJson(model.toString(), version).getBytes(StandardCharsets.UTF_8);
    }

    /** The version the harness tags its next event with. */
    private static String next(BroadcastOperatorTestHarness<byte[], byte[], VersionedEvent> h) throws Exception {
        h.processElement(TestEvents.event(1), 0);
        List<VersionedEvent> out = h.extractOutputValues();
        return out.get(out.size() - 1).modelVersion;
    }

    private static List<DeadLetter> refusals(BroadcastOperatorTestHarness<byte[], byte[], VersionedEvent> h) {
        List<DeadLetter> out = new ArrayList<>();
        var side = h.getSideOutput(ModelVersionTagger.REFUSED);
        if (side == null) {
            return out; // nothing was ever written to it
        }
        for (StreamRecord<DeadLetter> r : side) {
            out.add(r.getValue());
        }
        return out;
    }

    @Test
    void aSwitchTakesEffectAfterTheNextBarrierAndARestoreReproducesIt() throws Exception {
        OperatorSubtaskState beforeSwitch;
        OperatorSubtaskState carryingSwitch;
        try (var h = harness(null)) {
            assertEquals("v1", next(h));
            beforeSwitch = h.snapshot(1, 1);
            h.processBroadcastElement(switchTo(v2, null), 2);
            assertEquals(1, SharedModels.references(v2), "the new version is loaded beside the old one");
            assertEquals("v1", next(h), "until the next barrier the old version answers");
            assertEquals("v1", next(h));
            carryingSwitch = h.snapshot(2, 3);
            assertEquals("v2", next(h), "after the barrier of the checkpoint that carried the switch");
            VersionedEvent last = h.extractOutputValues().get(3);
            assertEquals(v2.toString(), last.modelLocation);
            assertEquals(0, SharedModels.references(v1), "the tagger released the old version");
            assertTrue(refusals(h).isEmpty());
        }
        assertEquals(0, SharedModels.references(v2), "everything released at close");
        try (var h = harness(carryingSwitch)) {
            assertEquals("v2", next(h), "a restore from that checkpoint answers what follows with the new version");
        }
        try (var h = harness(beforeSwitch)) {
            assertEquals("v1", next(h), "a restore from before it replays the switch's stretch with the old one");
        }
    }

    @Test
    void aSecondSwitchBeforeTheBarrierReplacesTheFirstAndTwoVersionsAtMostAreMapped() throws Exception {
        try (var h = harness(null)) {
            h.processBroadcastElement(switchTo(v2, "second"), 1);
            h.processBroadcastElement(switchTo(v3, "third"), 2);
            assertEquals(0, SharedModels.references(v2), "the replaced pending version is released");
            assertEquals(1, SharedModels.references(v3));
            h.snapshot(1, 3);
            assertEquals("third", next(h), "the version named in the record wins over the directory name");
        }
    }

    @Test
    void aSwitchWaitsWhileTheVersionBeforeTheActiveOneIsStillMapped() throws Exception {
        try (var h = harness(null)) {
            h.processBroadcastElement(switchTo(v2, null), 1);
            h.snapshot(1, 2);
            // An enrichment task of this task manager still finishes events tagged v1.
            try (SharedModels.Lease draining = SharedModels.acquire(v1)) {
                h.processBroadcastElement(switchTo(v3, null), 3);
                assertEquals(0, SharedModels.references(v3), "not loaded while v1 and v2 are mapped");
                assertEquals("v2", next(h));
            }
            assertEquals("v2", next(h), "loaded at the next event, effective at the next barrier");
            assertEquals(1, SharedModels.references(v3));
            OperatorSubtaskState s = h.snapshot(2, 4);
            assertEquals("v3", next(h));
            assertEquals(
                    2,
                    h.extractOutputValues().stream()
                            .filter(e -> e.modelVersion.equals("v2"))
                            .count());
            try (var restored = harness(s)) {
                assertEquals("v3", next(restored));
            }
        }
    }

    @Test
    void badVersionsAreRefusedAndTheOldOneKeepsServing() throws Exception {
        Path overflow =
                NonFiniteOutputTest.poisoned(tmp.resolve("embedder/overflow"), "model.norm.weight", Float.MAX_VALUE);
        Path nan = NonFiniteOutputTest.poisoned(tmp.resolve("embedder/nan"), "model.norm.weight", Float.NaN);
        try (var h = harness(null)) {
            h.processBroadcastElement(switchTo(tmp.resolve("embedder/missing"), null), 1);
            h.processBroadcastElement(switchTo(nan, null), 2);
            h.processBroadcastElement(switchTo(overflow, null), 3);
            h.processBroadcastElement(switchTo(v1, "v1-again"), 4);
            h.processBroadcastElement("{\"model\": \"/m\", \"path\": \"/m\"}".getBytes(StandardCharsets.UTF_8), 5);
            h.snapshot(1, 6);
            assertEquals("v1", next(h));
            List<DeadLetter> refused = refusals(h);
            assertEquals(5, refused.size(), refused::toString);
            for (DeadLetter d : refused) {
                assertEquals(DeadLetter.STAGE_MODEL_SWITCH, d.stage);
                assertTrue(d.reason.startsWith("model switch refused, version v1 keeps serving: "), d.reason);
            }
            assertTrue(refused.get(0).reason.contains("cannot load the model at"), refused.get(0).reason);
            assertTrue(refused.get(1).reason.contains("element [0] is NaN"), refused.get(1).reason);
            assertTrue(refused.get(2).reason.contains("smoke check"), refused.get(2).reason);
            assertTrue(refused.get(3).reason.contains("is the model already serving"), refused.get(3).reason);
            assertTrue(refused.get(4).reason.contains("unknown key \"path\""), refused.get(4).reason);
            assertTrue(refused.get(4).originalPayload.contains("\"path\""), "the control record is the payload");
            assertEquals(0, SharedModels.references(overflow), "a refused version is not kept mapped");
        }
    }
}
