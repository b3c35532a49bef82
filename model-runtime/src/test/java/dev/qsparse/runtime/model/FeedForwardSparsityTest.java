package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The runtime's per-layer feed-forward zero counts against PyTorch's (training/ffn_sparsity.py),
 * on the fixtures whose expected.json has "ffn_sparsity" (plain ReLU, SwiGLU, ReLU²GLU), and the
 * load-time checks of mlp_activation.
 */
class FeedForwardSparsityTest {

    static final Path FIXTURES = PyTorchParityTest.FIXTURES;

    /**
     * Near-zero is a threshold decision (|a| < 1e-3 max|a|) that no fixture margin protects: a value
     * sitting on it may fall either side in a different summation order. Exact zeros are decided by
     * ReLU and top-K, whose margins the fixtures keep large, so they must match exactly.
     */
    static final long NEAR_ZERO_SLACK = 2;

    @TempDir
    Path tmp;

    static Stream<String> fixtures() throws IOException {
        try (Stream<Path> dirs = Files.list(FIXTURES)) {
            return dirs
                    .filter(FeedForwardSparsityTest::hasSparsityCounts)
                    .map(d -> d.getFileName().toString())
                    .sorted()
                    .toList()
                    .stream();
        }
    }

    private static boolean hasSparsityCounts(Path dir) {
        try {
            Path expected = dir.resolve("expected.json");
            return Files.isRegularFile(expected)
                    && new ObjectMapper().readTree(expected.toFile()).has("ffn_sparsity");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void everyFeedForwardKindHasAFixture() throws IOException {
        assertEquals(
                java.util.List.of(
                        "qsparse_relu2glu_topk50_int8",
                        "qsparse_relu_dense",
                        "qsparse_relu_topk50",
                        "qsparse_swiglu_topk50"),
                fixtures().toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void countsMatchPyTorch(String name) throws IOException {
        JsonNode expected = new ObjectMapper()
                .readTree(FIXTURES.resolve(name).resolve("expected.json").toFile());
        try (Model model = Model.load(FIXTURES.resolve(name))) {
            QSparseConfig config = (QSparseConfig) model.config();
            InferenceSession session = model.newSession();
            FeedForwardSparsity counts = new FeedForwardSparsity(config.numLayers());
            session.state().measureFeedForwardSparsity(counts);
            int[] tokens = PyTorchParityTest.ints(expected.get("tokens"));
            session.logits(tokens);
            JsonNode layers = expected.get("ffn_sparsity");
            assertEquals(config.numLayers(), layers.size(), name + ": layers");
            for (int l = 0; l < layers.size(); l++) {
                JsonNode pre = layers.get(l).get("pre_topk");
                JsonNode down = layers.get(l).get("down_proj_input");
                String where = name + " layer " + l;
                assertEquals(pre.get("entries").asLong(), counts.entries(l), where + " entries");
                assertEquals((long) tokens.length * config.intermediateSize(), counts.entries(l), where + " entries");
                assertEquals(
                        pre.get("exact_zero").asLong(),
                        counts.exactZeroBeforeSparsifier(l),
                        where + " exact zeros before the sparsifier");
                assertEquals(
                        down.get("exact_zero").asLong(),
                        counts.exactZeroAtDownInput(l),
                        where + " exact zeros at down_proj's input");
                assertNear(pre.get("near_zero").asLong(), counts.nearZeroBeforeSparsifier(l), where + " pre");
                assertNear(down.get("near_zero").asLong(), counts.nearZeroAtDownInput(l), where + " down");
            }
        }
    }

    private static void assertNear(long expected, long actual, String what) {
        assertTrue(
                Math.abs(expected - actual) <= NEAR_ZERO_SLACK,
                what + " near zeros: PyTorch " + expected + ", runtime " + actual);
    }

    @Test
    void plainReluIsHalfZeroAndSwiGluAlmostNever() throws IOException {
        // Guards the fixtures themselves: the activations must differ the way their functions do.
        JsonNode relu = new ObjectMapper()
                .readTree(FIXTURES.resolve("qsparse_relu_dense/expected.json").toFile())
                .get("ffn_sparsity");
        JsonNode swiglu = new ObjectMapper()
                .readTree(
                        FIXTURES.resolve("qsparse_swiglu_topk50/expected.json").toFile())
                .get("ffn_sparsity");
        for (int l = 0; l < relu.size(); l++) {
            double reluZeros = relu.get(l).get("pre_topk").get("exact_zero").asDouble()
                    / relu.get(l).get("pre_topk").get("entries").asDouble();
            assertTrue(reluZeros > 0.3 && reluZeros < 0.7, "relu layer " + l + ": " + reluZeros);
            assertEquals(0, swiglu.get(l).get("pre_topk").get("exact_zero").asLong(), "swiglu layer " + l);
        }
    }

    @Test
    void reluConfigWithAGateTensorIsRefusedNamingTheTensor() throws IOException {
        Path copy = copyWithConfig(FIXTURES.resolve("qsparse_swiglu_topk50"), "gated-as-relu", "relu");
        IOException e = assertThrows(IOException.class, () -> Model.load(copy));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.gate_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("mlp_activation"), e.getMessage());
    }

    @Test
    void unknownActivationIsRefusedNamingTheKey() throws IOException {
        Path copy = copyWithConfig(FIXTURES.resolve("qsparse_swiglu_topk50"), "gelu", "gelu");
        IOException e = assertThrows(IOException.class, () -> Model.load(copy));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        assertTrue(e.getMessage().contains("unknown mlp_activation 'gelu'"), e.getMessage());
    }

    @Test
    void gatedConfigWithoutAGateTensorIsRefusedNamingTheTensor() throws IOException {
        Path copy = copyWithConfig(FIXTURES.resolve("qsparse_relu_dense"), "relu-as-swiglu", "swiglu");
        IOException e = assertThrows(IOException.class, () -> Model.load(copy));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.gate_proj.weight"), e.getMessage());
    }

    @Test
    void recorderOfAnotherDepthIsRefused() throws IOException {
        try (Model model = Model.load(FIXTURES.resolve("qsparse_relu_dense"))) {
            int layers = ((QSparseConfig) model.config()).numLayers();
            ForwardState state = model.newSession().state();
            assertThrows(
                    IllegalArgumentException.class,
                    () -> state.measureFeedForwardSparsity(new FeedForwardSparsity(layers + 1)));
        }
    }

    private Path copyWithConfig(Path dir, String name, String activation) throws IOException {
        Path copy = tmp.resolve(name);
        Files.createDirectories(copy);
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(dir.resolve(f), copy.resolve(f));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(copy.resolve("config.json").toFile());
        config.put("mlp_activation", activation);
        json.writeValue(copy.resolve("config.json").toFile(), config);
        return copy;
    }
}
