package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.Kernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Logits, hidden states and greedy generations of both architectures against PyTorch, on the
 * committed fixtures that training/make_fixtures.py writes.
 */
class PyTorchParityTest {

    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    static Stream<String> fixtures() throws IOException {
        try (Stream<Path> dirs = Files.list(FIXTURES)) {
            return dirs
                    .filter(d -> Files.isRegularFile(d.resolve("expected.json")))
                    .map(d -> d.getFileName().toString())
                    .sorted()
                    .toList()
                    .stream();
        }
    }

    /** 1e-4 with float activations, 1e-3 where activations are quantized, as the issue demands. */
    static double tolerance(ModelConfig config) {
        if (config instanceof QSparseConfig q) {
            return q.activationBits() == 8 ? 1e-3 : 1e-4;
        }
        return ((SeedConfig) config).quantized() ? 1e-3 : 1e-4;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void logitsMatchPyTorch(String name) throws IOException {
        JsonNode expected = new ObjectMapper()
                .readTree(FIXTURES.resolve(name).resolve("expected.json").toFile());
        try (Model model = Model.load(FIXTURES.resolve(name))) {
            int[] tokens = ints(expected.get("tokens"));
            InferenceSession session = model.newSession();
            float[][] logits = session.logits(tokens);
            double tol = tolerance(model.config());
            double worst = assertClose(expected.get("logits"), logits, tol, name + " logits");
            System.out.printf("%s: max |logit diff| = %.2e (tolerance %.0e)%n", name, worst, tol);
            if (expected.has("hidden")) {
                assertClose(expected.get("hidden"), session.hiddenStates(tokens), tol, name + " hidden");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void greedyGenerationWithKvCacheMatchesFullRecomputation(String name) throws IOException {
        JsonNode expected = new ObjectMapper()
                .readTree(FIXTURES.resolve(name).resolve("expected.json").toFile());
        JsonNode greedy = expected.get("greedy");
        try (Model model = Model.load(FIXTURES.resolve(name))) {
            DecoderModel<?> network = model.network();
            int vocab = model.config().vocabSize();
            int[] prompt = ints(greedy.get("prompt"));
            int steps = greedy.get("max_new_tokens").asInt();
            // Incremental decoding through the KV cache.
            SingleSequence state = SingleSequence.of(network);
            float[] logits = new float[vocab];
            for (int t : prompt) {
                state.step(t);
            }
            int[] generated = new int[steps];
            float[][] stepLogits = new float[steps][];
            for (int i = 0; i < steps; i++) {
                state.logits(logits);
                stepLogits[i] = logits.clone();
                generated[i] = Kernels.argmax(logits, vocab);
                state.step(generated[i]);
            }
            assertArrayEquals(ints(greedy.get("tokens")), generated, name + ": greedy tokens differ from PyTorch");
            // Recompute every prefix from position 0 on a state that already holds a longer, different
            // sequence: a reused session must never read stale cache entries.
            int[] all = new int[prompt.length + steps];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(generated, 0, all, prompt.length, steps);
            SingleSequence reused = SingleSequence.of(network);
            for (int p = 0; p < all.length + 5; p++) {
                reused.step((p * 7 + 3) % vocab);
            }
            for (int i = 0; i < steps; i++) {
                int len = prompt.length + i;
                reused.rewind();
                for (int p = 0; p < len; p++) {
                    reused.step(all[p]);
                }
                float[] recomputed = new float[vocab];
                reused.logits(recomputed);
                assertArrayEquals(stepLogits[i], recomputed, 0f, name + ": step " + i + " differs on recomputation");
            }
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static double assertClose(JsonNode expected, float[][] actual, double tol, String what) {
        assertEquals(expected.size(), actual.length, what + ": positions");
        double worst = 0;
        for (int p = 0; p < actual.length; p++) {
            JsonNode row = expected.get(p);
            assertEquals(row.size(), actual[p].length, what + ": width");
            for (int i = 0; i < actual[p].length; i++) {
                double diff = Math.abs(row.get(i).asDouble() - actual[p][i]);
                worst = Math.max(worst, diff);
                assertTrue(
                        diff <= tol,
                        what + " differ at position " + p + " index " + i + ": expected "
                                + row.get(i).asDouble() + " got " + actual[p][i]);
            }
        }
        return worst;
    }
}
