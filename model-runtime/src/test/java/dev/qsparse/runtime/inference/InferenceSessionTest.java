package dev.qsparse.runtime.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.TestModels;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class InferenceSessionTest {

    static Model model;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(TestModels.TEST_MODEL);
        tokenizer = model.tokenizer().orElseThrow();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private int[] withBos(String text) {
        int[] t = tokenizer.encode(text);
        int[] out = new int[t.length + 1];
        out[0] = model.config().bosTokenId().orElseThrow();
        System.arraycopy(t, 0, out, 1, t.length);
        return out;
    }

    @Test
    void greedyGenerationIsArgmaxOverTheLogits() {
        InferenceSession session = model.newSession();
        GenerationParams params =
                GenerationParams.defaults().withMaxNewTokens(10).withStopAtEos(false);
        InferenceResult.Generation g = session.generate("The license grants", params);
        assertEquals(10, g.tokens().length);
        assertEquals("length", g.finishReason());
        assertEquals(tokenizer.decode(g.tokens()), g.text());
        // Recompute each step through the logits API, from scratch.
        int[] prompt = withBos("The license grants");
        int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + g.tokens().length);
        for (int i = 0; i < g.tokens().length; i++) {
            float[][] logits = model.newSession().logits(java.util.Arrays.copyOf(seq, prompt.length + i));
            int next = Kernels.argmax(logits[logits.length - 1], model.config().vocabSize());
            assertEquals(next, g.tokens()[i], "step " + i);
            seq[prompt.length + i] = next;
        }
    }

    /**
     * A model whose vocabulary is padded past its tokenizer's (rows no text maps to) generates only
     * ids the tokenizer can decode: greedy is the argmax over those, and without the bound some
     * step's argmax would have been a padding row (random weights; checked below).
     */
    @Test
    void generationNeverPicksAnIdTheTokenizerCannotDecode(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws IOException {
        int decodable = tokenizer.vocabSize();
        java.nio.file.Path dir = tmp.resolve("padded-vocab");
        dev.qsparse.runtime.model.RandomModels.write(
                dir, new dev.qsparse.runtime.model.RandomModels.Shape(decodable + 300, 32, 2, 1, 64, 64), 3);
        java.nio.file.Files.copy(TestModels.TEST_MODEL.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        try (Model padded = Model.load(dir)) {
            GenerationParams params =
                    GenerationParams.defaults().withMaxNewTokens(24).withStopAtEos(false);
            InferenceResult r = padded.newSession().run(InferenceRequest.generate("The license grants", params));
            InferenceResult.Generation g = assertInstanceOf(InferenceResult.Generation.class, r);
            assertEquals(24, g.tokens().length);
            int[] prompt = tokenizer.encode("The license grants");
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + g.tokens().length);
            boolean paddingWouldWin = false;
            for (int i = 0; i < g.tokens().length; i++) {
                float[][] logits = padded.newSession().logits(java.util.Arrays.copyOf(seq, prompt.length + i));
                float[] last = logits[logits.length - 1];
                assertEquals(Kernels.argmax(last, decodable), g.tokens()[i], "step " + i);
                paddingWouldWin |= Kernels.argmax(last, last.length) >= decodable;
                seq[prompt.length + i] = g.tokens()[i];
            }
            assertTrue(paddingWouldWin, "the test must reach a step where a padding row has the largest logit");
            assertEquals(tokenizer.decode(g.tokens()), g.text());
        }
    }

    @Test
    void samplingIsReproducibleBySeed() {
        GenerationParams params = GenerationParams.defaults()
                .withMaxNewTokens(24)
                .withStopAtEos(false)
                .withTemperature(1.0)
                .withTopP(0.9)
                .withTopK(50);
        InferenceResult.Generation a = model.newSession().generate("Stream events", params.withSeed(1));
        InferenceResult.Generation b = model.newSession().generate("Stream events", params.withSeed(1));
        InferenceResult.Generation c = model.newSession().generate("Stream events", params.withSeed(2));
        assertArrayEquals(a.tokens(), b.tokens());
        assertNotEquals(List.of(a.text()), List.of(c.text()), "different seeds should sample differently");
    }

    @Test
    void stopStringsCutTheText() {
        GenerationParams params =
                GenerationParams.defaults().withMaxNewTokens(20).withStopAtEos(false);
        InferenceResult.Generation full = model.newSession().generate("Copyright", params);
        String text = full.text();
        assertTrue(text.length() > 6, "need some text to cut: " + text);
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        InferenceResult.Generation cut =
                model.newSession().generate("Copyright", params.withStopStrings(List.of(stop)));
        assertEquals("stop", cut.finishReason());
        assertEquals(text.substring(0, text.indexOf(stop)), cut.text());
    }

    @Test
    void longPromptsKeepTheirEnd() {
        int context = model.config().contextLength();
        String longText = "software freedom and the license ".repeat(context);
        GenerationParams params =
                GenerationParams.defaults().withMaxNewTokens(8).withStopAtEos(false);
        InferenceResult.Generation g = model.newSession().generate(longText, params);
        assertTrue(g.stats().inputTruncated());
        assertEquals(context - 8, g.stats().inputTokens());
        assertEquals(8, g.tokens().length);
        InferenceResult.Embedding e = model.newSession().embed(longText, Pooling.MEAN);
        assertTrue(e.stats().inputTruncated());
        assertEquals(context, e.stats().inputTokens());
        InferenceResult.Score s = model.newSession().score(longText);
        assertTrue(s.stats().inputTruncated());
        assertEquals(context - 1, s.scoredTokens());
        // More new tokens than the context can hold are capped, not an error.
        InferenceResult.Generation capped = model.newSession().generate("hi", params.withMaxNewTokens(context * 2));
        assertTrue(capped.tokens().length <= context - 1);
    }

    @Test
    void embeddingsAreUnitVectorsAndDeterministic() {
        InferenceSession session = model.newSession();
        InferenceResult.Embedding a = session.embed("a short event about licenses", Pooling.MEAN);
        InferenceResult.Embedding b = session.embed("a short event about licenses", Pooling.MEAN);
        InferenceResult.Embedding last = session.embed("a short event about licenses", Pooling.LAST);
        assertEquals(model.config().hiddenSize(), a.vector().length);
        double norm = 0;
        for (float v : a.vector()) {
            norm += v * v;
        }
        assertEquals(1.0, norm, 1e-5);
        assertArrayEquals(a.vector(), b.vector(), 0f);
        assertFalse(java.util.Arrays.equals(a.vector(), last.vector()));
        // Mean pooling is the normalised mean of the text's hidden states (BOS left out).
        float[][] hidden = model.newSession().hiddenStates(withBos("a short event about licenses"));
        float[] mean = new float[hidden[0].length];
        for (int p = 1; p < hidden.length; p++) {
            Kernels.add(mean, hidden[p], mean.length);
        }
        double n = 0;
        for (float v : mean) {
            n += v * v;
        }
        for (int i = 0; i < mean.length; i++) {
            assertEquals(mean[i] / Math.sqrt(n), a.vector()[i], 1e-5);
        }
    }

    @Test
    void scoreIsTheSumOfTokenLogProbabilities() {
        String text = "The software is provided as is";
        InferenceResult.Score s = model.newSession().score(text);
        int[] tokens = withBos(text);
        float[][] logits = model.newSession().logits(tokens);
        double sum = 0;
        for (int p = 0; p + 1 < tokens.length; p++) {
            sum += logits[p][tokens[p + 1]] - Kernels.logSumExp(logits[p], logits[p].length);
        }
        assertEquals(tokens.length - 1, s.scoredTokens());
        assertEquals(sum, s.logprob(), 1e-4);
        assertEquals(sum / s.scoredTokens(), s.meanLogprob(), 1e-6);
        assertEquals(Math.exp(-s.meanLogprob()), s.perplexity(), 1e-6 * s.perplexity());
        assertTrue(s.logprob() < 0);
    }

    @Test
    void badItemsFailAloneAndTheBatchIsServed() {
        List<InferenceResult> results = model.newSession()
                .run(List.of(
                        InferenceRequest.embed("fine", Pooling.MEAN),
                        InferenceRequest.embed("", Pooling.MEAN),
                        InferenceRequest.score(""),
                        InferenceRequest.generate(
                                "", GenerationParams.defaults().withMaxNewTokens(3)),
                        InferenceRequest.score("lone surrogate \ud800 inside"),
                        InferenceRequest.score("fine too")));
        assertEquals(6, results.size());
        assertInstanceOf(InferenceResult.Embedding.class, results.get(0));
        assertTrue(((InferenceResult.Failure) results.get(1)).reason().contains("empty"));
        assertInstanceOf(InferenceResult.Failure.class, results.get(2));
        // The model has a BOS token, so an empty prompt can still be continued.
        assertInstanceOf(InferenceResult.Generation.class, results.get(3));
        assertInstanceOf(InferenceResult.Score.class, results.get(4));
        assertInstanceOf(InferenceResult.Score.class, results.get(5));
        assertThrows(IllegalArgumentException.class, () -> model.newSession().embed("", Pooling.MEAN));
    }

    @Test
    void reportsAchievedSparsity() {
        InferenceResult.Embedding e = model.newSession().embed("sparsity of the activations", Pooling.MEAN);
        // Every projection keeps half its inputs; int8 rounding can only add zeros.
        assertTrue(
                e.stats().activationSparsity() >= 0.49, "sparsity " + e.stats().activationSparsity());
        assertTrue(e.stats().activationSparsity() < 0.9, "sparsity " + e.stats().activationSparsity());
        assertTrue(e.stats().nanos() > 0);
    }

    @Test
    void invalidParametersAreRejectedUpFront() {
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationParams.defaults().withMaxNewTokens(0));
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationParams.defaults().withTemperature(-1));
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationParams.defaults().withTopP(0));
        assertThrows(
                IllegalArgumentException.class,
                () -> GenerationParams.defaults().withTopK(-2));
        assertThrows(IllegalArgumentException.class, () -> Task.fromWireName("translate"));
        assertThrows(
                IllegalArgumentException.class,
                () -> model.newSession().logits(new int[] {model.config().vocabSize()}));
    }
}
