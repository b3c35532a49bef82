package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face BitNet checkpoints that are corrupt or inconsistent fail at load naming the file
 * and the tensor (or config key); Q-Sparse top-K on top of one is one config key.
 */
class BitNetCheckpointTest {

    static final Path PACKED = BitNetParityTest.FIXTURES.resolve("bitnet_packed");
    static final String Q_PROJ = "model.layers.0.self_attn.q_proj.weight";

    @TempDir
    Path tmp;

    /** A tensor to write instead of a checkpoint's own (null bytes: leave the tensor out). */
    record Replacement(String name, String dtype, long[] shape, ByteBuffer bytes) {}

    /** A copy of the packed fixture with one tensor replaced or dropped. */
    Path withTensor(Replacement replacement) throws IOException {
        Path out = Files.createTempDirectory(tmp, "model");
        Files.copy(PACKED.resolve("config.json"), out.resolve("config.json"));
        SafetensorsWriter writer = new SafetensorsWriter();
        try (Checkpoint ckpt = Checkpoint.open(PACKED)) {
            for (String name : ckpt.tensorNames()) {
                if (name.equals(replacement.name())) {
                    if (replacement.bytes() != null) {
                        ByteBuffer b = replacement.bytes();
                        writer.add(name, replacement.dtype(), replacement.shape(), b.remaining(), () -> b);
                    }
                    continue;
                }
                TensorInfo info = ckpt.info(name);
                ByteBuffer b = ckpt.buffer(name);
                writer.add(name, info.dtype().name(), info.shape(), info.byteLength(), () -> b);
            }
            writer.write(out.resolve(Checkpoint.SINGLE_FILE));
        }
        return out;
    }

    static ByteBuffer packedQProj(Consumer<ByteBuffer> edit) throws IOException {
        try (Checkpoint ckpt = Checkpoint.open(PACKED)) {
            ByteBuffer src = ckpt.buffer(Q_PROJ);
            ByteBuffer copy = ByteBuffer.allocate(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
            copy.put(src).flip();
            edit.accept(copy);
            return copy;
        }
    }

    static ModelLoadException loadFails(Path dir) {
        return assertThrows(ModelLoadException.class, () -> Model.load(dir).close());
    }

    static void assertNames(ModelLoadException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void aCodeOfThreeFailsNamingFileTensorAndByte() throws IOException {
        ByteBuffer bytes = packedQProj(b -> b.put(5 * 64 + 7, (byte) 0b0011_0110));
        Path dir = withTensor(new Replacement(Q_PROJ, "U8", new long[] {16, 64}, bytes));
        assertNames(loadFails(dir), "model.safetensors", "'" + Q_PROJ + "'", "byte [5, 7]", "code 3");
    }

    @Test
    void anUnpackedShapeFailsNamingTheExpectedPackedShape() throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(64 * 64);
        for (int i = 0; i < 64 * 64; i++) {
            bytes.put(i, (byte) 0x55);
        }
        Path dir = withTensor(new Replacement(Q_PROJ, "U8", new long[] {64, 64}, bytes));
        assertNames(loadFails(dir), "model.safetensors", "'" + Q_PROJ + "'", "[64, 64]", "expected [16, 64]", "out/4");
    }

    @Test
    void aMissingWeightScaleFailsNamingTheWeightAndTheScale() throws IOException {
        Path dir = withTensor(new Replacement("model.layers.1.mlp.down_proj.weight_scale", null, null, null));
        assertNames(
                loadFails(dir),
                "model.safetensors",
                "'model.layers.1.mlp.down_proj.weight'",
                "model.layers.1.mlp.down_proj.weight_scale",
                "missing");
    }

    @Test
    void aZeroOrMisshapenWeightScaleFails() throws IOException {
        String scale = "model.layers.0.mlp.up_proj.weight_scale";
        ByteBuffer zero = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 0f);
        assertNames(
                loadFails(withTensor(new Replacement(scale, "F32", new long[] {1}, zero))),
                "'" + scale + "'",
                "positive finite");
        ByteBuffer two = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        assertNames(
                loadFails(withTensor(new Replacement(scale, "F32", new long[] {2}, two))),
                "'" + scale + "'",
                "expected [1]");
    }

    /** A copy of the packed fixture whose config.json has {@code key} set to {@code value} (JSON). */
    Path withConfig(String key, String jsonValue) throws IOException {
        Path out = Files.createTempDirectory(tmp, "config-" + key);
        Files.copy(PACKED.resolve("model.safetensors"), out.resolve("model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(PACKED.resolve("config.json").toFile());
        config.set(key, json.readTree(jsonValue));
        json.writeValue(out.resolve("config.json").toFile(), config);
        return out;
    }

    @Test
    void configKeysThatContradictTheBitNetMathAreRefusedByName() throws IOException {
        assertNames(loadFails(withConfig("hidden_act", "\"silu\"")), "config.json", "hidden_act", "relu2");
        // our own feed-forward key, which hidden_act decides here: refused when it names another, not ignored
        assertNames(
                loadFails(withConfig("mlp_activation", "\"swiglu\"")), "config.json", "mlp_activation", "hidden_act");
        assertNames(loadFails(withConfig("activation_bits", "0")), "config.json", "activation_bits");
        assertNames(loadFails(withConfig("weight_quant", "\"int8\"")), "config.json", "weight_quant");
        assertNames(
                loadFails(withConfig("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0}")),
                "config.json",
                "rope_scaling");
        assertNames(
                loadFails(withConfig("quantization_config", "{\"quant_method\": \"bitnet\", \"linear_class\": \"x\"}")),
                "config.json",
                "linear_class");
        assertNames(
                loadFails(withConfig("quantization_config", "{\"quant_method\": \"gptq\"}")),
                "config.json",
                "quant_method");
    }

    @Test
    void int8ConversionOfABitNetCheckpointIsRefusedBeforeWritingAnything() {
        Path out = tmp.resolve("int8");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ModelConverter.convert(PACKED, out, ModelConverter.Target.INT8, true));
        assertTrue(e.getMessage().contains("bitnet"), e.getMessage());
        assertTrue(Files.notExists(out));
    }

    @Test
    void theBf16TwinWithoutQuantizationConfigIsQuantizedTheSameWay() throws IOException {
        Path twin = BitNetParityTest.FIXTURES.resolve("bitnet_bf16");
        Path bare = Files.createTempDirectory(tmp, "bare");
        Files.copy(twin.resolve("model.safetensors"), bare.resolve("model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) json.readTree(twin.resolve("config.json").toFile());
        config.remove("quantization_config");
        json.writeValue(bare.resolve("config.json").toFile(), config);
        int[] tokens = {1, 17, 40, 3, 88, 9};
        ModelConverterTest.assertSameLogits(
                ModelConverterTest.logits(twin, tokens),
                ModelConverterTest.logits(bare, tokens),
                "no quantization_config");
    }

    @Test
    void topKRatioAddsQSparseOnTopOfABitNetCheckpoint() throws IOException {
        int[] tokens = {1, 17, 40, 3, 88, 9, 62, 5};
        float[][] dense;
        try (Model model = Model.load(PACKED)) {
            dense = model.newSession().logits(tokens);
        }
        Path sparse = withConfig("topk_ratio", "0.5");
        try (Model model = Model.load(sparse)) {
            QSparseConfig c = (QSparseConfig) model.config();
            assertEquals(0.5, c.topkRatioMlpOut());
            assertEquals(QuantRules.BITNET_BITLINEAR, c.quantRules());
            InferenceSession session = model.newSession();
            float[][] logits = session.logits(tokens);
            SingleSequence state = SingleSequence.of(model.network());
            for (int p = 0; p < tokens.length; p++) {
                state.step(tokens[p]);
            }
            // At least half of every projection input is dropped (int8 zeros may drop a little more).
            double sparsity = state.state().activationSparsity();
            assertTrue(sparsity >= 0.5 && sparsity < 0.6, "sparsity " + sparsity);
            assertNotEquals(dense[tokens.length - 1][0], logits[tokens.length - 1][0]);
            for (float v : logits[tokens.length - 1]) {
                assertTrue(Float.isFinite(v));
            }
        }
        // The same key on the runtime-ready conversion gives the same numbers.
        Path converted = tmp.resolve("converted");
        ModelConverter.convert(sparse, converted, ModelConverter.Target.TERNARY, false);
        ModelConverterTest.assertSameLogits(
                ModelConverterTest.logits(sparse, tokens), ModelConverterTest.logits(converted, tokens), "top-K");
    }

    @Test
    void theRandomBitNetWriterWritesTheFormatTheLoaderReads() throws IOException {
        Path dir = tmp.resolve("random-bitnet");
        RandomModels.writeBitNet(dir, new RandomModels.BitNetShape(300, 128, 4, 2, 2, 192, 64), 1);
        int[] tokens = {3, 299, 0, 41};
        try (Model model = Model.load(dir)) {
            QSparseConfig c = (QSparseConfig) model.config();
            assertEquals(2, c.numKeyValueHeads());
            assertTrue(c.tieWordEmbeddings());
            assertEquals("ternary+BF16", model.network().weightFormat());
            for (float v : model.newSession().logits(tokens)[3]) {
                assertTrue(Float.isFinite(v));
            }
        }
        Path converted = tmp.resolve("random-bitnet-ternary");
        ModelConverter.convert(dir, converted, ModelConverter.Target.TERNARY, false);
        ModelConverterTest.assertSameLogits(
                ModelConverterTest.logits(dir, tokens), ModelConverterTest.logits(converted, tokens), "random");
    }

    @Test
    void packedLayoutLandsInTheRuntimeTernaryLayout() {
        // 100 outputs: not a multiple of 64, so the padding of the last group is exercised too.
        int rows = 100;
        int cols = 7;
        Random random = new Random(3);
        int[][] w = new int[rows][cols];
        TernaryColumns columns = new TernaryColumns(rows, cols);
        for (int o = 0; o < rows; o++) {
            for (int c = 0; c < cols; c++) {
                w[o][c] = random.nextInt(3) - 1;
                columns.setCode(o, c, w[o][c] + 1);
            }
        }
        TernaryMatrix m = columns.toMatrix(0.25f);
        for (int o = 0; o < rows; o++) {
            for (int c = 0; c < cols; c++) {
                assertEquals(w[o][c], m.value(o, c), "W[" + o + ", " + c + "]");
            }
        }
        assertEquals(0.25f, m.scale());
        assertTrue(m.isOnHeap());
    }
}
