package dev.qsparse.runtime.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.SingleSequence;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generate requests of one micro-batch decode together (one forward pass per step for all running
 * sequences): each must come out exactly as it does alone, and greedy decoding must match a plain
 * token-by-token loop over {@link DecoderModel#forward} and {@link DecoderModel#logits}.
 */
class ContinuousBatchingTest {

    static final Path TEST_MODEL = Path.of("src/test/resources/test-model");

    @TempDir
    Path tmp;

    static List<InferenceRequest> generations() {
        GenerationParams greedy = GenerationParams.defaults();
        return List.of(
                InferenceRequest.generate("Once upon a time", greedy.withMaxNewTokens(12)),
                InferenceRequest.generate("a", greedy.withMaxNewTokens(1)),
                InferenceRequest.embed("an embed request in the middle", Pooling.MEAN),
                InferenceRequest.generate(
                        "streams of events, sparsity and kernels ".repeat(4),
                        greedy.withMaxNewTokens(20).withStopAtEos(false)),
                InferenceRequest.generate(
                        "sampled",
                        greedy.withTemperature(0.9)
                                .withTopP(0.9)
                                .withSeed(7)
                                .withMaxNewTokens(16)
                                .withStopAtEos(false)),
                InferenceRequest.generate(
                        "sampled",
                        greedy.withTemperature(0.9)
                                .withTopK(5)
                                .withSeed(8)
                                .withMaxNewTokens(16)
                                .withStopAtEos(false)),
                InferenceRequest.generate(
                        "stop me",
                        greedy.withMaxNewTokens(30).withStopAtEos(false).withStopStrings(List.of("e"))),
                // longer than the 128-token context: the prompt is cut to leave room for the new tokens
                InferenceRequest.generate(
                        "x y z ".repeat(60), greedy.withMaxNewTokens(40).withStopAtEos(false)));
    }

    static void assertSameGeneration(InferenceResult expected, InferenceResult actual, String what) {
        assertEquals(expected.getClass(), actual.getClass(), what);
        assertEquals(expected.stats().inputTokens(), actual.stats().inputTokens(), what);
        assertEquals(expected.stats().inputTruncated(), actual.stats().inputTruncated(), what);
        assertEquals(expected.stats().activationSparsity(), actual.stats().activationSparsity(), 0.0, what);
        if (expected instanceof InferenceResult.Generation g) {
            InferenceResult.Generation a = (InferenceResult.Generation) actual;
            assertArrayEquals(g.tokens(), a.tokens(), what);
            assertEquals(g.text(), a.text(), what);
            assertEquals(g.finishReason(), a.finishReason(), what);
        } else if (expected instanceof InferenceResult.Embedding e) {
            assertArrayEquals(e.vector(), ((InferenceResult.Embedding) actual).vector(), 0f, what);
        }
    }

    @Test
    void generationsDecodedTogetherEqualEachAlone() throws IOException {
        Path testModel = TEST_MODEL;
        Path ternary = tmp.resolve("ternary");
        ModelConverter.convert(testModel, ternary, ModelConverter.Target.TERNARY, true);
        for (Path dir : new Path[] {testModel, ternary}) {
            try (Model model = Model.load(dir)) {
                List<InferenceResult> alone = new ArrayList<>();
                for (InferenceRequest r : generations()) {
                    try (InferenceSession s = model.newSession()) {
                        alone.add(s.run(r));
                    }
                }
                Set<String> finishes = new HashSet<>();
                for (InferenceResult r : alone) {
                    if (r instanceof InferenceResult.Generation g) {
                        finishes.add(g.finishReason());
                    }
                }
                // the requests exercise the stop rules (a stop string, the token limit) and a cut prompt
                assertTrue(finishes.containsAll(List.of("stop", "length")), finishes.toString());
                assertTrue(alone.get(alone.size() - 1).stats().inputTruncated());
                for (int threads : new int[] {1, 2}) {
                    try (InferenceSession session = model.newSession(threads)) {
                        for (int round = 0; round < 2; round++) { // the session's extra states are reused
                            List<InferenceResult> together = session.run(generations());
                            assertEquals(alone.size(), together.size());
                            for (int i = 0; i < alone.size(); i++) {
                                assertSameGeneration(
                                        alone.get(i),
                                        together.get(i),
                                        dir.getFileName() + " request " + i + " threads " + threads);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void greedyBatchMatchesTheTokenByTokenLoop() throws IOException {
        try (Model model = Model.load(TEST_MODEL);
                InferenceSession session = model.newSession()) {
            DecoderModel<?> net = model.network();
            List<String> prompts = List.of("Once upon a time", "the kernel", "sparse streams of text", "q");
            List<InferenceRequest> batch = new ArrayList<>();
            GenerationParams params =
                    GenerationParams.defaults().withMaxNewTokens(10).withStopAtEos(false);
            for (String p : prompts) {
                batch.add(InferenceRequest.generate(p, params));
            }
            List<InferenceResult> results = session.run(batch);
            int vocab = model.config().vocabSize();
            for (int k = 0; k < prompts.size(); k++) {
                int[] text = model.tokenizer().orElseThrow().encode(prompts.get(k));
                int[] prompt = new int[text.length + 1];
                prompt[0] = model.config().bosTokenId().getAsInt();
                System.arraycopy(text, 0, prompt, 1, text.length);
                SingleSequence s = SingleSequence.of(net);
                for (int i = 0; i < prompt.length; i++) {
                    s.step(prompt[i]);
                }
                float[] logits = new float[vocab];
                int[] expected = new int[10];
                for (int t = 0; t < 10; t++) {
                    s.logits(logits);
                    int best = 0;
                    for (int v = 1; v < vocab; v++) {
                        if (logits[v] > logits[best]) {
                            best = v;
                        }
                    }
                    expected[t] = best;
                    s.step(best);
                }
                InferenceResult.Generation g = assertInstanceOf(InferenceResult.Generation.class, results.get(k));
                assertArrayEquals(expected, g.tokens(), prompts.get(k));
            }
        }
    }
}
