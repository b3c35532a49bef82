package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code InferenceSession.run(List)} serves embed and score requests together (their positions
 * share forward passes): every result must be bit for bit the request's result alone.
 */
class MicroBatchSessionTest {

    @TempDir
    Path tmp;

    static List<InferenceRequest> requests() {
        String longText = "a much longer event text that goes on and on about streams, sparsity and kernels ".repeat(6);
        return List.of(
                InferenceRequest.embed("a text event", Pooling.MEAN),
                InferenceRequest.score("how likely is this?"),
                InferenceRequest.embed(longText, Pooling.LAST),
                InferenceRequest.generate(
                        "Once upon", GenerationParams.defaults().withMaxNewTokens(3)),
                InferenceRequest.score(longText + longText),
                InferenceRequest.embed("", Pooling.MEAN),
                InferenceRequest.score("x"),
                InferenceRequest.embed("short", Pooling.MEAN));
    }

    static void assertSame(InferenceResult expected, InferenceResult actual, String what) {
        assertEquals(expected.getClass(), actual.getClass(), what);
        assertEquals(expected.stats().inputTokens(), actual.stats().inputTokens(), what);
        assertEquals(expected.stats().inputTruncated(), actual.stats().inputTruncated(), what);
        assertEquals(expected.stats().activationSparsity(), actual.stats().activationSparsity(), 0.0, what);
        if (expected instanceof InferenceResult.Embedding e) {
            assertArrayEquals(e.vector(), ((InferenceResult.Embedding) actual).vector(), 0f, what);
        } else if (expected instanceof InferenceResult.Score s) {
            InferenceResult.Score a = (InferenceResult.Score) actual;
            assertEquals(s.logprob(), a.logprob(), 0.0, what);
            assertEquals(s.scoredTokens(), a.scoredTokens(), what);
        } else if (expected instanceof InferenceResult.Generation g) {
            assertArrayEquals(g.tokens(), ((InferenceResult.Generation) actual).tokens(), what);
        } else {
            assertEquals(
                    ((InferenceResult.Failure) expected).reason(), ((InferenceResult.Failure) actual).reason(), what);
        }
    }

    /** 16 embeds and 16 generations (greedy, sampled, with stop strings), interleaved, in one micro-batch. */
    static List<InferenceRequest> mixed() {
        List<InferenceRequest> out = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            String text = "event number " + i + " about streams and sparse kernels ".repeat(1 + i % 5);
            out.add(InferenceRequest.embed(text, i % 3 == 0 ? Pooling.LAST : Pooling.MEAN));
            GenerationParams g = GenerationParams.defaults().withMaxNewTokens(4 + i % 7);
            if (i % 2 == 1) {
                g = g.withTemperature(0.8).withTopP(0.9);
            }
            out.add(InferenceRequest.generate("Once upon a time " + "there was ".repeat(i % 4), g));
        }
        return out;
    }

    @Test
    void embedsAndGenerationsOfOneMicroBatchShareItsPassesAndGetTheirOwnResults() throws IOException {
        try (Model model = Model.load(ModelConverterTest.TEST_MODEL)) {
            List<InferenceResult> alone = new ArrayList<>();
            for (InferenceRequest r : mixed()) {
                alone.add(model.newSession().run(r));
            }
            for (int threads : new int[] {1, 2}) {
                try (InferenceSession session = model.newSession(threads)) {
                    List<InferenceResult> together = session.run(mixed());
                    for (int i = 0; i < alone.size(); i++) {
                        assertSame(alone.get(i), together.get(i), "request " + i + ", " + threads + " thread(s)");
                    }
                }
            }
        }
    }

    @Test
    void sharedMicroBatchesGiveEachRequestsOwnResult() throws IOException {
        Path testModel = ModelConverterTest.TEST_MODEL;
        Path int8 = tmp.resolve("int8");
        ModelConverter.convert(testModel, int8, ModelConverter.Target.INT8, true);
        for (Path dir : new Path[] {testModel, int8}) {
            try (Model model = Model.load(dir)) {
                List<InferenceResult> alone = new ArrayList<>();
                for (InferenceRequest r : requests()) {
                    alone.add(model.newSession().run(r));
                }
                for (int threads : new int[] {1, 2}) {
                    try (InferenceSession session = model.newSession(threads)) {
                        // twice: the session's extra sequence states are reused
                        for (int round = 0; round < 2; round++) {
                            List<InferenceResult> together = session.run(requests());
                            assertEquals(alone.size(), together.size());
                            for (int i = 0; i < alone.size(); i++) {
                                assertSame(
                                        alone.get(i),
                                        together.get(i),
                                        dir.getFileName() + " request " + i + " threads " + threads);
                            }
                        }
                    }
                }
                assertInstanceOf(InferenceResult.Failure.class, alone.get(5));
            }
        }
    }
}
