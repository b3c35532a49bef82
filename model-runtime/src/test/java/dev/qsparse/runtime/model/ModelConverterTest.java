package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Converted models against the in-memory path of the same float model: identical logits. */
class ModelConverterTest {

    static final Path TEST_MODEL = Path.of("src/test/resources/test-model");

    @TempDir
    Path tmp;

    static float[][] logits(Path dir, int[] tokens) throws IOException {
        try (Model model = Model.load(dir)) {
            return model.newSession().logits(tokens);
        }
    }

    static void assertSameLogits(float[][] a, float[][] b, String what) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            assertArrayEquals(a[i], b[i], 0f, what + " position " + i);
        }
    }

    /** A copy of {@code dir} whose config.json has the given keys changed. */
    Path withConfig(Path dir, String name, String... keyValues) throws IOException {
        Path copy = tmp.resolve(name);
        Files.createDirectories(copy);
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(copy.resolve("config.json").toFile());
        for (int i = 0; i < keyValues.length; i += 2) {
            config.put(keyValues[i], keyValues[i + 1]);
        }
        json.writeValue(copy.resolve("config.json").toFile(), config);
        return copy;
    }

    @Test
    void f32ConversionGivesExactlyTheOriginalLogits() throws IOException {
        int[] tokens = {0, 5, 17, 250, 999, 3, 3, 42};
        for (Path src : new Path[] {
            TEST_MODEL,
            PyTorchParityTest.FIXTURES.resolve("seed_float"),
            PyTorchParityTest.FIXTURES.resolve("qsparse_bf16")
        }) {
            Path out = tmp.resolve("f32-" + src.getFileName());
            ModelConverter.Result r = ModelConverter.convert(src, out, ModelConverter.Target.F32, true);
            assertEquals("f32", r.weights());
            int[] t = java.util.Arrays.stream(tokens).map(v -> v % 64).toArray();
            assertSameLogits(logits(src, t), logits(out, t), src.toString());
        }
        assertTrue(Files.isRegularFile(tmp.resolve("f32-test-model").resolve("tokenizer.json")));
    }

    @Test
    void int8AndTernaryConversionsEqualTheInMemoryQuantization() throws IOException {
        int[] tokens = {0, 5, 17, 250, 999, 3, 3, 42, 7, 7, 1};
        for (String target : new String[] {"int8", "ternary"}) {
            for (boolean lmHead : new boolean[] {true, false}) {
                Path out = tmp.resolve(target + "-" + lmHead);
                ModelConverter.Result r =
                        ModelConverter.convert(TEST_MODEL, out, ModelConverter.Target.parse(target), lmHead);
                assertEquals(14, r.quantizedTensors() - (lmHead ? 1 : 0));
                Path inMemory = withConfig(
                        TEST_MODEL,
                        "mem-" + target + "-" + lmHead,
                        "weight_quant",
                        target,
                        "lm_head_quant",
                        lmHead ? "int8" : "none");
                assertSameLogits(logits(inMemory, tokens), logits(out, tokens), target + " lm head int8 " + lmHead);
                try (Model converted = Model.load(out)) {
                    QSparseTransformer net = (QSparseTransformer) converted.network();
                    assertEquals(target + "+F32", net.weightFormat());
                    assertEquals(lmHead ? "int8" : "F32", net.lmHeadFormat());
                }
                // the projections are stored runtime-ready: nothing is quantized at load
                try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
                    String p = "model.layers.0.mlp.down_proj";
                    assertFalse(f.tensors().containsKey(p + ".weight"));
                    DType stored = f.info(p + (target.equals("int8") ? ".qweight" : ".tweight"))
                            .dtype();
                    assertEquals(target.equals("int8") ? DType.I8 : DType.U8, stored);
                    assertEquals(lmHead, f.tensors().containsKey("lm_head.qweight"));
                }
                long dataStart = 8
                        + java.nio.ByteBuffer.wrap(Files.readAllBytes(out.resolve("model.safetensors")), 0, 8)
                                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                                .getLong();
                assertEquals(0, dataStart % 64, "data section aligned to 64 bytes");
            }
        }
    }

    @Test
    void convertedFixturesStillMatchPyTorch() throws IOException {
        // int8 weights with float activations, and ternary with int8 activations: the fixtures
        // were computed with in-memory quantization, so converting must not change them.
        for (String name : new String[] {"qsparse_int8w", "qsparse_ternary"}) {
            Path src = PyTorchParityTest.FIXTURES.resolve(name);
            String target = name.endsWith("int8w") ? "int8" : "ternary";
            Path out = tmp.resolve("fixture-" + name);
            ModelConverter.convert(src, out, ModelConverter.Target.parse(target), false);
            int[] tokens = PyTorchParityTest.ints(new ObjectMapper()
                    .readTree(src.resolve("expected.json").toFile())
                    .get("tokens"));
            assertSameLogits(logits(src, tokens), logits(out, tokens), name);
        }
    }

    @Test
    void plainReluModelWithoutGateConvertsToInt8() throws IOException {
        Path src = PyTorchParityTest.FIXTURES.resolve("qsparse_relu_dense");
        Path out = tmp.resolve("relu-int8");
        ModelConverter.Result r = ModelConverter.convert(src, out, ModelConverter.Target.INT8, false);
        // q, k, v, o, up, down per layer: no gate_proj to quantize.
        assertEquals(2 * 6, r.quantizedTensors());
        int[] tokens = {0, 5, 17, 41, 3, 9};
        assertSameLogits(
                logits(withConfig(src, "relu-int8-in-memory", "weight_quant", "int8"), tokens),
                logits(out, tokens),
                "plain ReLU int8");
    }

    @Test
    void heapResidencyGivesTheSameLogitsAsTheMapping() throws IOException {
        int[] tokens = {0, 5, 17, 250, 999, 3};
        for (String target : new String[] {"int8", "ternary"}) {
            Path out = tmp.resolve("resident-" + target);
            ModelConverter.convert(TEST_MODEL, out, ModelConverter.Target.parse(target), true);
            float[][] mapped = logits(out, tokens);
            System.setProperty(WeightLoader.RESIDENCY_PROPERTY, "heap");
            try {
                assertSameLogits(mapped, logits(out, tokens), target + " on the heap");
            } finally {
                System.clearProperty(WeightLoader.RESIDENCY_PROPERTY);
            }
        }
    }

    @Test
    void refusesAResidencyItDoesNotKnow() throws IOException {
        Path out = tmp.resolve("resident-unknown");
        ModelConverter.convert(TEST_MODEL, out, ModelConverter.Target.parse("int8"), true);
        System.setProperty(WeightLoader.RESIDENCY_PROPERTY, "hugepages");
        try {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> logits(out, new int[] {0, 5}));
            assertTrue(
                    e.getMessage().contains("qsparse.weights must be mapped or heap; got 'hugepages'"), e.getMessage());
        } finally {
            System.clearProperty(WeightLoader.RESIDENCY_PROPERTY);
        }
        assertTrue(WeightLoader.onHeap(" Heap "));
        assertFalse(WeightLoader.onHeap(null));
        assertFalse(WeightLoader.onHeap("mapped"));
    }

    @Test
    void refusesWhatItCannotConvert() throws IOException {
        Path seed = PyTorchParityTest.FIXTURES.resolve("seed_quantized");
        assertThrows(
                IllegalArgumentException.class,
                () -> ModelConverter.convert(seed, tmp.resolve("x"), ModelConverter.Target.INT8, true));
        Path ternary = tmp.resolve("t");
        ModelConverter.convert(TEST_MODEL, ternary, ModelConverter.Target.TERNARY, true);
        assertThrows(
                IllegalArgumentException.class,
                () -> ModelConverter.convert(ternary, tmp.resolve("y"), ModelConverter.Target.INT8, true));
        assertThrows(IllegalArgumentException.class, () -> ModelConverter.Target.parse("int4"));
        // a converted directory with a config that disagrees with its tensors fails at load, naming the tensor
        Path wrong = withConfig(ternary, "wrong", "weight_quant", "int8");
        IOException e = assertThrows(IOException.class, () -> Model.load(wrong));
        assertTrue(e.getMessage().contains("tweight"), e.getMessage());
    }
}
