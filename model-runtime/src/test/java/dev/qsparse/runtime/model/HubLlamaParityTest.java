package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Llama checkpoints as the Hub serves them (only transformers' config keys, BF16, {@code model.}
 * names, tied and untied, grouped-query attention, a head_dim that is not hidden / heads, the
 * llama3 and linear rope scalings, biases, transformers 5's rope_parameters) against {@link
 * LlamaReference}, an independent float64 forward pass: every position's logits within 1e-4 of
 * that position's largest |logit|, and greedy generation through the tokenizer equal to the
 * reference's argmax tokens. Before hidden_act was read, every case here was off by about the
 * size of the largest logit (the runtime ran its own ReLU²GLU default).
 */
class HubLlamaParityTest {

    static final double RELATIVE_TOLERANCE = 1e-4;
    static final Path DEMO_TOKENIZER = Path.of("../models/qsparse-demo/tokenizer.json");

    @TempDir
    Path tmp;

    /** Llama 3.2's layout in miniature: GQA, explicit head_dim, llama3 rope scaling, rope_theta 500000, untied. */
    static HubLlamaCheckpoint llama32Like() {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(4096, 32, 4, 2, 12, 48, 2, 7);
        ckpt.config.put("rope_theta", 500000.0);
        // With head_dim 12 and theta 5e5 the wavelengths are 6.3, 56, 500, ... : one kept (< 64 / 4),
        // one interpolated, the rest slowed by the factor (> 64 / 1).
        ObjectNode scaling = ckpt.config.putObject("rope_scaling");
        scaling.put("factor", 8.0);
        scaling.put("low_freq_factor", 1.0);
        scaling.put("high_freq_factor", 4.0);
        scaling.put("original_max_position_embeddings", 64);
        scaling.put("rope_type", "llama3");
        return ckpt;
    }

    @Test
    void untiedGroupedQueryLlama3Scaling() throws IOException {
        assertMatchesReference(llama32Like(), "llama3");
    }

    @Test
    void tiedMultiHeadLinearScalingWithLlamaConfigDefaults() throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(4096, 32, 4, 4, 8, 40, 2, 11).tied();
        // Absent keys take LlamaConfig's defaults: silu, rms_norm_eps 1e-6, head_dim hidden / heads.
        ckpt.config.remove("hidden_act");
        ckpt.config.remove("rms_norm_eps");
        ckpt.config.remove("head_dim");
        ckpt.config.putObject("rope_scaling").put("type", "linear").put("factor", 4.0);
        assertMatchesReference(ckpt, "tied-linear");
    }

    @Test
    void biasesAndTransformers5RopeParameters() throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(4096, 32, 4, 2, 8, 48, 2, 13).withBiases();
        ckpt.config.remove("rope_theta");
        ckpt.config
                .putObject("rope_parameters")
                .put("rope_type", "llama3")
                .put("rope_theta", 500000.0)
                .put("factor", 32.0)
                .put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0)
                .put("original_max_position_embeddings", 64);
        assertMatchesReference(ckpt, "biases-rope-parameters");
    }

    @Test
    void squaredReluActivation() throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(4096, 32, 4, 2, 8, 48, 1, 17);
        ckpt.config.put("hidden_act", "relu2");
        assertMatchesReference(ckpt, "relu2");
    }

    private void assertMatchesReference(HubLlamaCheckpoint ckpt, String name) throws IOException {
        assertMatchesReference(ckpt, tmp.resolve(name), name, 24);
    }

    /**
     * Writes {@code ckpt} to {@code dir}, runs {@code length} random tokens through the runtime and
     * through {@link LlamaReference}: every position's logits within 1e-4 of its largest |logit|.
     */
    static void assertMatchesReference(HubLlamaCheckpoint ckpt, Path dir, String name, int length) throws IOException {
        ckpt.write(dir);
        int[] tokens = new Random(name.hashCode()).ints(length, 0, ckpt.vocab()).toArray();
        double[][] expected = new LlamaReference(ckpt.config, ckpt.tensors).logits(tokens);
        try (Model model = Model.load(dir)) {
            float[][] actual = model.newSession().logits(tokens);
            double worst = 0;
            for (int t = 0; t < tokens.length; t++) {
                double largest = 0;
                double diff = 0;
                for (int j = 0; j < expected[t].length; j++) {
                    largest = Math.max(largest, Math.abs(expected[t][j]));
                    diff = Math.max(diff, Math.abs(expected[t][j] - actual[t][j]));
                }
                worst = Math.max(worst, diff / largest);
                assertTrue(
                        diff <= RELATIVE_TOLERANCE * largest,
                        name + " position " + t + ": max |logit diff| " + diff + " > 1e-4 of the largest |logit| "
                                + largest);
            }
            System.out.printf("%s: worst max |logit diff| / max |logit| = %.2e%n", name, worst);
        }
    }

    @Test
    void greedyGenerationThroughTheTokenizerMatchesTheReference() throws IOException {
        HubLlamaCheckpoint ckpt = llama32Like();
        Path dir = tmp.resolve("generate");
        ckpt.write(dir);
        Files.copy(DEMO_TOKENIZER, dir.resolve("tokenizer.json"));
        String prompt = "It is a truth universally acknowledged";
        try (Model model = Model.load(dir);
                InferenceSession session = model.newSession()) {
            int[] text = model.tokenizer().orElseThrow().encode(prompt);
            // The demo tokenizer has no post_processor: the text starts with the config's bos_token_id.
            int[] input = new int[text.length + 1];
            input[0] = 1;
            System.arraycopy(text, 0, input, 1, text.length);
            int[] expected = new LlamaReference(ckpt.config, ckpt.tensors).greedy(input, 12, 2);
            InferenceResult.Generation g =
                    session.generate(prompt, GenerationParams.defaults().withMaxNewTokens(12));
            int[] actual = g.tokens();
            if (expected.length > 0 && expected[expected.length - 1] == 2) {
                expected = java.util.Arrays.copyOf(expected, expected.length - 1); // EOS is not part of the text
            }
            assertArrayEquals(expected, java.util.Arrays.copyOf(actual, Math.min(actual.length, expected.length)));
            assertEquals(expected.length, actual.length, "generated tokens");
        }
    }

    @Test
    void qsparseKeysOnTopKeepTheHubFunction() throws IOException {
        HubLlamaCheckpoint ckpt = llama32Like();
        ckpt.config.put("topk_ratio", 0.5).put("activation_bits", 8);
        ckpt.write(tmp.resolve("sparse"));
        QSparseConfig c = (QSparseConfig) ConfigReader.read(tmp.resolve("sparse"));
        assertEquals(MlpActivation.SWIGLU, c.mlpActivation());
        assertEquals(0.5, c.topkRatioMlp());
        assertEquals(8, c.activationBits());
        assertEquals(RopeScaling.llama3(8, 1, 4, 64), c.ropeScaling());
    }

    // --- what is refused by name --------------------------------------------------------------

    private String refusal(Consumer<HubLlamaCheckpoint> change) throws IOException {
        return refusal(tmp, change);
    }

    /** The load error of a small checkpoint changed by {@code change}, written under {@code tmp}. */
    static String refusal(Path tmp, Consumer<HubLlamaCheckpoint> change) throws IOException {
        HubLlamaCheckpoint ckpt = new HubLlamaCheckpoint(64, 16, 2, 1, 8, 24, 1, 3);
        change.accept(ckpt);
        Path dir = Files.createTempDirectory(tmp, "refused");
        ckpt.write(dir);
        return assertThrows(ModelLoadException.class, () -> Model.load(dir).close())
                .getMessage();
    }

    @Test
    void unsupportedValuesAreRefusedByName() throws IOException {
        assertTrue(refusal(c -> c.config.put("hidden_act", "gelu")).contains("'hidden_act' 'gelu'"));
        assertTrue(refusal(c -> c.config.put("mlp_activation", "relu2glu")).contains("'mlp_activation'"));
        assertTrue(refusal(c -> c.config
                        .putObject("rope_scaling")
                        .put("rope_type", "yarn")
                        .put("factor", 4.0))
                .contains("'rope_scaling.rope_type' 'yarn'"));
        assertTrue(refusal(c -> c.config
                        .putObject("rope_scaling")
                        .put("rope_type", "linear")
                        .put("factor", 2.0)
                        .put("attention_factor", 0.5))
                .contains("'rope_scaling.attention_factor'"));
        assertTrue(refusal(c -> c.config
                        .putObject("rope_scaling")
                        .put("rope_type", "llama3")
                        .put("factor", 8.0))
                .contains("'low_freq_factor'"));
        assertTrue(refusal(c -> c.config.putObject("rope_parameters").put("rope_theta", 500000.0))
                .contains("disagrees with 'rope_theta'"));
        assertTrue(refusal(c -> c.config.put("partial_rotary_factor", 0.5)).contains("'partial_rotary_factor'"));
    }

    @Test
    void biasesFollowTheConfigExactly() throws IOException {
        // Declared but absent: the missing tensor is named.
        assertTrue(refusal(c -> c.config.put("attention_bias", true)).contains("model.layers.0.self_attn.q_proj.bias"));
        // Present but not declared: transformers would ignore it, so the checkpoint is refused.
        String undeclared = refusal(c -> {
            c.withBiases();
            c.config.put("mlp_bias", false);
        });
        assertTrue(undeclared.contains("mlp.gate_proj.bias") && undeclared.contains("declares no bias"), undeclared);
    }
}
