package dev.qsparse.runtime.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.PoisonedModels;
import dev.qsparse.runtime.TestModels;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A model whose weights hold NaN or infinity does not load (see {@code NonFiniteWeightsTest}); the
 * per-request check stays as the second line of defence: finite weights whose activations or
 * logits overflow (a norm weight of {@code Float.MAX_VALUE}) fail each request they reach with a
 * reason; no NaN embedding, score or empty "eos" generation ever comes back as a result.
 */
class NonFiniteResultsTest {

    @TempDir
    Path dir;

    private static void assertNonFiniteFailure(InferenceResult r) {
        InferenceResult.Failure f = assertInstanceOf(InferenceResult.Failure.class, r, () -> "got " + r);
        assertTrue(f.reason().contains("non-finite"), f.reason());
    }

    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void aNonFiniteFinalNormFailsTheLoadNamingTheTensor(float poison) throws Exception {
        Path m = PoisonedModels.withTensor(dir.resolve("m"), "model.norm.weight", poison);
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(m).close());
        assertTrue(e.getMessage().contains("'model.norm.weight': element [0] is "), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(floats = {Float.MAX_VALUE, -Float.MAX_VALUE})
    void everyTaskFailsWhenTheFinalNormOverflows(float huge) throws Exception {
        // Finite weights, so the model loads; the normed hidden state overflows to infinity.
        Path m = PoisonedModels.withTensor(dir.resolve("m"), "model.norm.weight", huge);
        try (Model model = Model.load(m);
                InferenceSession s = model.newSession()) {
            assertNonFiniteFailure(s.run(InferenceRequest.embed("a text event", Pooling.MEAN)));
            assertNonFiniteFailure(s.run(InferenceRequest.embed("a text event", Pooling.LAST)));
            assertNonFiniteFailure(s.run(InferenceRequest.score("a text event")));
            // Greedy over NaN logits used to pick token 0 (= EOS here): "" with finish reason eos.
            assertNonFiniteFailure(s.run(InferenceRequest.generate("Once upon", GenerationParams.defaults())));
            assertNonFiniteFailure(s.run(InferenceRequest.generate(
                    "Once upon", GenerationParams.defaults().withTemperature(0.8))));
            // The batch path (embed and score share forward passes) fails them the same way.
            List<InferenceResult> batch = s.run(List.of(
                    InferenceRequest.embed("first", Pooling.MEAN),
                    InferenceRequest.score("second text"),
                    InferenceRequest.generate(
                            "third", GenerationParams.defaults().withMaxNewTokens(3)),
                    InferenceRequest.embed("fourth", Pooling.LAST)));
            batch.forEach(NonFiniteResultsTest::assertNonFiniteFailure);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class, () -> s.generate("Once upon", GenerationParams.defaults()));
            assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
        }
    }

    @Test
    void aNonFiniteEmbeddingRowFailsTheLoadNamingTheRow() throws Exception {
        // Before, the model loaded and only the texts with that token failed; now nothing is served.
        Path m = PoisonedModels.copy(TestModels.TEST_MODEL, dir.resolve("m"));
        PoisonedModels.poison(m, "model.embed_tokens.weight", Float.NaN, 48L * 321 + 5, 48L * 321 + 6);
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(m).close());
        assertTrue(
                e.getMessage().contains("'model.embed_tokens.weight': element [321, 5] (flat index 15413) is NaN"),
                e.getMessage());
    }

    @Test
    void onlyTheRequestsThatOverflowFailInABatch() throws Exception {
        // Finite but huge logits (~1e36): an embedding is fine, a score's perplexity overflows; in
        // one batch only the score fails, the others are served.
        Path m = PoisonedModels.withTensor(dir.resolve("m"), "model.norm.weight", 1e36f);
        try (Model model = Model.load(m);
                InferenceSession s = model.newSession()) {
            List<InferenceResult> out = s.run(List.of(
                    InferenceRequest.embed("a text event", Pooling.MEAN),
                    InferenceRequest.score("a text event"),
                    InferenceRequest.embed("a text event", Pooling.LAST)));
            InferenceResult.Embedding ok = assertInstanceOf(InferenceResult.Embedding.class, out.get(0));
            for (float v : ok.vector()) {
                assertTrue(Float.isFinite(v));
            }
            InferenceResult.Failure f = assertInstanceOf(InferenceResult.Failure.class, out.get(1));
            assertTrue(f.reason().contains("perplexity"), f.reason());
            assertInstanceOf(InferenceResult.Embedding.class, out.get(2));
        }
    }

    @Test
    void logitsThatOverflowAtTheTemperatureFloorFailInsteadOfSamplingFromNaN() throws Exception {
        // Finite but huge logits (~1e36): greedy works; divided by a temperature of 1e-4 they overflow.
        Path m = PoisonedModels.withTensor(dir.resolve("m"), "model.norm.weight", 1e36f);
        try (Model model = Model.load(m);
                InferenceSession s = model.newSession()) {
            assertInstanceOf(
                    InferenceResult.Generation.class,
                    s.run(InferenceRequest.generate(
                            "Once upon",
                            GenerationParams.defaults().withMaxNewTokens(2).withStopAtEos(false))));
            InferenceResult sampled = s.run(InferenceRequest.generate(
                    "Once upon", GenerationParams.defaults().withTemperature(GenerationParams.MIN_TEMPERATURE)));
            InferenceResult.Failure f = assertInstanceOf(InferenceResult.Failure.class, sampled);
            assertTrue(f.reason().contains("temperature"), f.reason());
            // The score's logprob is finite (~ -1e36) but exp(-mean) is not: no "Infinity" perplexity.
            InferenceResult.Failure p =
                    assertInstanceOf(InferenceResult.Failure.class, s.run(InferenceRequest.score("a text event")));
            assertTrue(p.reason().contains("perplexity"), p.reason());
        }
    }

    @Test
    void temperatureHasAFloor() {
        GenerationParams d = GenerationParams.defaults();
        for (double bad :
                new double[] {1e-300, Double.MIN_VALUE, 9.9e-5, -0.1, 10.5, Double.NaN, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> d.withTemperature(bad), "temperature " + bad);
            assertTrue(e.getMessage().contains("0 (greedy) or in [1.0E-4, 10.0]"), e.getMessage());
        }
        assertEquals(0.0, d.withTemperature(0).temperature());
        assertEquals(1e-4, d.withTemperature(1e-4).temperature());
        assertEquals(10.0, d.withTemperature(10).temperature());
    }

    @Test
    void theUntouchedModelStillServesEveryTask() throws Exception {
        try (Model model = Model.load(TestModels.TEST_MODEL);
                InferenceSession s = model.newSession()) {
            assertInstanceOf(InferenceResult.Embedding.class, s.run(InferenceRequest.embed("a text", Pooling.MEAN)));
            assertInstanceOf(InferenceResult.Score.class, s.run(InferenceRequest.score("a text")));
            assertInstanceOf(
                    InferenceResult.Generation.class,
                    s.run(InferenceRequest.generate(
                            "a text",
                            GenerationParams.defaults().withTemperature(1e-4).withMaxNewTokens(3))));
        }
    }
}
