package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.Kernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hugging Face BitNet checkpoints (packed, and the bf16 twin) against the PyTorch reference of
 * transformers' BitNet math, on the fixtures training/make_bitnet_fixtures.py writes: logits and
 * hidden states within 1e-3 (int8 activations), greedy tokens equal, and the runtime-ready
 * conversion bit for bit equal to loading the checkpoint as published.
 */
class BitNetParityTest {

    static final Path FIXTURES = Path.of("src/test/resources/fixtures-bitnet");
    static final double TOLERANCE = 1e-3;

    @TempDir
    Path tmp;

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

    static JsonNode expected(String name) throws IOException {
        return new ObjectMapper()
                .readTree(FIXTURES.resolve(name).resolve("expected.json").toFile());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void logitsAndHiddenStatesMatchPyTorch(String name) throws IOException {
        JsonNode expected = expected(name);
        try (Model model = Model.load(FIXTURES.resolve(name))) {
            assertEquals("bitnet", model.config().modelType());
            assertEquals(
                    "ternary",
                    ((QSparseTransformer) model.network()).weightFormat().split("\\+")[0]);
            int[] tokens = PyTorchParityTest.ints(expected.get("tokens"));
            InferenceSession session = model.newSession();
            double worst = PyTorchParityTest.assertClose(
                    expected.get("logits"), session.logits(tokens), TOLERANCE, name + " logits");
            PyTorchParityTest.assertClose(
                    expected.get("hidden"), session.hiddenStates(tokens), TOLERANCE, name + " hidden");
            System.out.printf("%s: max |logit diff| = %.2e (tolerance %.0e)%n", name, worst, TOLERANCE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void greedyTokensThroughTheKvCacheMatchPyTorch(String name) throws IOException {
        JsonNode greedy = expected(name).get("greedy");
        try (Model model = Model.load(FIXTURES.resolve(name))) {
            DecoderModel<?> network = model.network();
            int vocab = model.config().vocabSize();
            SingleSequence state = SingleSequence.of(network);
            float[] logits = new float[vocab];
            for (int t : PyTorchParityTest.ints(greedy.get("prompt"))) {
                state.step(t);
            }
            int[] generated = new int[greedy.get("max_new_tokens").asInt()];
            for (int i = 0; i < generated.length; i++) {
                state.logits(logits);
                generated[i] = Kernels.argmax(logits, vocab);
                state.step(generated[i]);
            }
            assertArrayEquals(PyTorchParityTest.ints(greedy.get("tokens")), generated, name);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void runtimeReadyConversionGivesTheSameLogitsAndIsMapped(String name) throws IOException {
        Path source = FIXTURES.resolve(name);
        Path out = tmp.resolve(name + "-ternary");
        ModelConverter.Result r = ModelConverter.convert(source, out, ModelConverter.Target.TERNARY, false);
        assertEquals(14, r.quantizedTensors());
        int[] tokens = PyTorchParityTest.ints(expected(name).get("tokens"));
        ModelConverterTest.assertSameLogits(
                ModelConverterTest.logits(source, tokens), ModelConverterTest.logits(out, tokens), name);
        try (Model converted = Model.load(out)) {
            // weight_scale is folded into P.tscale; nothing of the packed layout is left.
            assertFalse(converted.checkpoint().tensorNames().stream()
                    .anyMatch(t -> t.endsWith(".weight_scale") || t.endsWith("_proj.weight")));
        }
    }
}
