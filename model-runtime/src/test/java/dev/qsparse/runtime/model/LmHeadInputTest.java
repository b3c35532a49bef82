package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lm_head_activation_bits = 8}: the int8 lm head's input quantized per token, so that the
 * lm head is an exact integer product. Held to its spelled-out definition, batch against one by one.
 */
class LmHeadInputTest {

    @TempDir
    Path tmp;

    static final int[] TOKENS = {0, 5, 17, 250, 999, 3, 3, 42};

    @Test
    void convertWritesTheKeyAndLogitsFollowTheDefinition() throws IOException {
        Path out = tmp.resolve("int8-a8");
        ModelConverter.convert(ModelConverterTest.TEST_MODEL, out, ModelConverter.Target.INT8, true, true);
        assertEquals(
                8,
                new ObjectMapper()
                        .readTree(out.resolve("config.json").toFile())
                        .path("lm_head_activation_bits")
                        .asInt());
        try (Model model = Model.load(out);
                SafetensorsFile file = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            DecoderModel<?> net = model.network();
            int vocab = model.config().vocabSize();
            int d = model.config().hiddenSize();
            ByteBuffer weights = file.buffer("lm_head.qweight");
            int stride = weights.remaining() / d;
            ByteBuffer scales = file.buffer("lm_head.qscale").order(ByteOrder.LITTLE_ENDIAN);
            SingleSequence state = SingleSequence.of(net);
            float[][] hidden = new float[TOKENS.length][];
            float[][] single = new float[TOKENS.length][vocab];
            for (int p = 0; p < TOKENS.length; p++) {
                state.step(TOKENS[p]);
                hidden[p] = state.hidden().clone();
                state.logits(single[p]);
                // The definition: q = RoundClip(h * s, -128, 127) with s = 127 / (max|h| + 1e-5), then
                // logit[o] = (sum_c q[c] * Wq[o, c]) * qscale[o] * (1 / s), the sum an exact integer.
                float max = 0f;
                for (float v : hidden[p]) {
                    max = Math.max(max, Math.abs(v));
                }
                float s = 127f / (max + 1e-5f);
                int[] q = new int[d];
                for (int c = 0; c < d; c++) {
                    q[c] = (int) Math.max(-128, Math.min(127, Math.rint(hidden[p][c] * s)));
                }
                float[] expected = new float[vocab];
                for (int o = 0; o < vocab; o++) {
                    int acc = 0;
                    for (int c = 0; c < d; c++) {
                        acc += q[c] * weights.get(weights.position() + c * stride + o);
                    }
                    expected[o] = acc * scales.getFloat(scales.position() + 4 * o) * (1f / s);
                }
                assertArrayEquals(expected, single[p], 0f, "position " + p);
            }
            float[][] batched = new float[TOKENS.length][vocab];
            state.logits(hidden, TOKENS.length, batched);
            for (int p = 0; p < TOKENS.length; p++) {
                assertArrayEquals(single[p], batched[p], 0f, "batched position " + p);
            }
        }
    }

    @Test
    void staysCloseToTheFloatInput() throws IOException {
        Path a8 = tmp.resolve("a8");
        Path f32 = tmp.resolve("f32-input");
        ModelConverter.convert(ModelConverterTest.TEST_MODEL, a8, ModelConverter.Target.INT8, true, true);
        ModelConverter.convert(ModelConverterTest.TEST_MODEL, f32, ModelConverter.Target.INT8, true, false);
        float[][] quantized = ModelConverterTest.logits(a8, TOKENS);
        float[][] exact = ModelConverterTest.logits(f32, TOKENS);
        for (int p = 0; p < TOKENS.length; p++) {
            float scale = 0f;
            float diff = 0f;
            for (int o = 0; o < exact[p].length; o++) {
                scale = Math.max(scale, Math.abs(exact[p][o]));
                diff = Math.max(diff, Math.abs(exact[p][o] - quantized[p][o]));
            }
            // int8 input: each entry within half a step of max|h| / 127.
            assertTrue(diff > 0f && diff < 0.02f * scale, "position " + p + ": " + diff + " of " + scale);
        }
    }

    @Test
    void onlyZeroOrEightBits() throws IOException {
        Path dir = tmp.resolve("bad");
        Files.createDirectories(dir);
        for (Path f : Files.list(ModelConverterTest.TEST_MODEL).toList()) {
            Files.copy(f, dir.resolve(f.getFileName()));
        }
        var json = new ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode)
                json.readTree(dir.resolve("config.json").toFile());
        config.put("lm_head_activation_bits", 4);
        json.writeValue(dir.resolve("config.json").toFile(), config);
        Exception e = assertThrows(Exception.class, () -> Model.load(dir).close());
        assertTrue(String.valueOf(e.getMessage()).contains("lm_head_activation_bits"), e.getMessage());
    }
}
