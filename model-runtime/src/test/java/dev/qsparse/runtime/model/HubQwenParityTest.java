package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Qwen2 and Qwen3 checkpoints in the Hub's layout (only transformers' keys, BF16) against {@link
 * LlamaReference}'s independent float64 pass, which reads the Qwen rules itself: Qwen3's per-head
 * RMSNorm of q and k before the rotation and its head_dim independent of hidden / heads, Qwen2's
 * q/k/v biases. Logits within 1e-4 of each position's largest |logit|.
 */
class HubQwenParityTest {

    @TempDir
    Path tmp;

    private void assertMatchesReference(HubLlamaCheckpoint ckpt, String name) throws IOException {
        HubLlamaParityTest.assertMatchesReference(ckpt, tmp.resolve(name), name, 20);
    }

    @Test
    void qwen3TiedWithPerHeadNormsAndAWideHeadDim() throws IOException {
        // head_dim 16 with hidden 32 and 4 heads: q_proj is 64 x 32, wider than the model.
        HubLlamaCheckpoint ckpt =
                new HubLlamaCheckpoint(512, 32, 4, 2, 16, 48, 2, 21).tied().qwen3();
        ckpt.config.put("rope_theta", 1000000.0);
        assertMatchesReference(ckpt, "qwen3");
    }

    @Test
    void qwen3WithAttentionBiases() throws IOException {
        HubLlamaCheckpoint ckpt =
                new HubLlamaCheckpoint(512, 32, 4, 2, 8, 48, 1, 23).withBiases().qwen3();
        // withBiases put feed-forward biases too, which Qwen3 has none of: drop them.
        ckpt.tensors.keySet().removeIf(n -> n.contains("mlp.") && n.endsWith(".bias"));
        assertMatchesReference(ckpt, "qwen3-bias");
    }

    @Test
    void qwen2WithItsQkvBiases() throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(512, 32, 4, 2, 8, 48, 2, 25).qwen2();
        assertMatchesReference(ckpt, "qwen2");
    }

    @Test
    void qwenDefaultsAreQwensOwn() throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(512, 256, 2, 2, 128, 48, 1, 27).qwen3();
        ckpt.config.remove("head_dim"); // Qwen3Config: 128, not hidden / heads = 128 either way here
        ckpt.config.remove("max_position_embeddings");
        ckpt.config.remove("rms_norm_eps");
        ckpt.write(tmp.resolve("defaults"));
        QSparseConfig c = (QSparseConfig) ConfigReader.read(tmp.resolve("defaults"));
        assertEquals(128, c.headDim());
        assertEquals(32768, c.contextLength());
        assertEquals(1e-6f, c.rmsNormEps());
        assertTrue(c.headNorms());
        assertEquals(LinearBiases.declared(false, false, false), c.biases());
    }

    private String refusal(Consumer<HubLlamaCheckpoint> change) throws IOException {
        return HubLlamaParityTest.refusal(tmp, change);
    }

    @Test
    void whatQwenDoesNotHaveOrWeDoNotImplementIsRefusedByName() throws IOException {
        assertTrue(
                refusal(c -> c.qwen3().config.put("use_sliding_window", true)).contains("'use_sliding_window'"));
        assertTrue(refusal(c -> c.qwen2().config.putArray("layer_types").add("sliding_attention"))
                .contains("'layer_types'"));
        // Per-head norms in a Llama checkpoint: transformers would not use them.
        assertTrue(refusal(c -> c.qwen3().config.put("model_type", "llama")).contains("q_norm.weight"));
        // Qwen3 without its norms: the missing tensor is named.
        assertTrue(refusal(c -> {
                    c.qwen3();
                    c.tensors.keySet().removeIf(n -> n.contains("k_norm"));
                })
                .contains("k_norm.weight"));
        // Qwen2 always has q/k/v biases.
        assertTrue(refusal(c -> {
                    c.qwen2();
                    c.tensors.keySet().removeIf(n -> n.endsWith("v_proj.bias"));
                })
                .contains("v_proj.bias"));
    }
}
