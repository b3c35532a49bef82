package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Qwen3-Embedding-0.6B and microsoft/bitnet-embedding-0.6b as published, on synthetic checkpoints
 * in their layouts (BF16, base-model names without {@code model.} or with it, the
 * sentence-transformers files: modules.json, 1_Pooling with last-token pooling, 2_Normalize,
 * sentence_bert_config.json; a tokenizer.json whose template appends {@code <|endoftext|>}), against
 * the independent PyTorch reference {@code training/qsparse/qwen3_embedding.py} (skipped where
 * Debian's python3-torch is missing). Each embedding goes through the runtime's own embed path.
 */
class Qwen3EmbeddingParityTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path REFERENCE = Path.of("../training/qsparse/qwen3_embedding.py");
    private static final Path TOKENIZER = Path.of("src/test/resources/tokenizer/tokenizer.json");
    /** The fixture tokenizer's <|endoftext|>. */
    private static final int END_OF_TEXT = 0;

    private static final List<String> TEXTS = List.of(
            "It is a truth universally acknowledged",
            "Instruct: Given a web search query, retrieve relevant passages\nQuery:what is a sparse model?",
            "a",
            "The quick brown fox jumps over the lazy dog, twice.");

    @TempDir
    Path tmp;

    /** Writes the checkpoint and the sentence-transformers files of Qwen3-Embedding's directory. */
    static Path embeddingDirectory(HubLlamaCheckpoint ckpt, Path dir) throws IOException {
        ckpt.write(dir);
        int hidden = ckpt.config.get("hidden_size").intValue();
        RandomModels.writeSentenceModules(dir, hidden);
        ObjectNode tokenizer = (ObjectNode) JSON.readTree(TOKENIZER.toFile());
        tokenizer.set("post_processor", endOfTextTemplate("<|endoftext|>", END_OF_TEXT));
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizer);
        return dir;
    }

    /** The post_processor Qwen3-Embedding's tokenizer.json carries: {@code $A <|endoftext|>}. */
    static JsonNode endOfTextTemplate(String token, int id) throws IOException {
        return JSON.readTree("{\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\","
                + " \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"" + token + "\", \"type_id\": 0}}],"
                + " \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\","
                + " \"type_id\": 1}}, {\"SpecialToken\": {\"id\": \"" + token + "\", \"type_id\": 1}}],"
                + " \"special_tokens\": {\"" + token + "\": {\"id\": \"" + token + "\", \"ids\": [" + id + "],"
                + " \"tokens\": [\"" + token + "\"]}}}");
    }

    /** The published configs: rope_theta 1e6, rms_norm_eps 1e-6, tied, BF16. */
    static HubLlamaCheckpoint qwen3(int hidden, int heads, int kvHeads, int headDim, int layers, long seed) {
        HubLlamaCheckpoint c = new HubLlamaCheckpoint(1000, hidden, heads, kvHeads, headDim, 48, layers, seed).qwen3();
        c.config.put("rope_theta", 1000000.0);
        c.config.put("rms_norm_eps", 1e-6);
        c.config.put("max_position_embeddings", 32768);
        c.config.put("use_sliding_window", false);
        c.config.putNull("sliding_window");
        c.config.put("max_window_layers", layers);
        c.config.put("attention_dropout", 0.0);
        c.config.put("initializer_range", 0.02);
        c.config.put("use_cache", true);
        c.config.put("transformers_version", "4.51.3");
        return c;
    }

    static void assumeTorch() throws Exception {
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import torch")
                .redirectErrorStream(true)
                .start();
        boolean ok = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        Assumptions.assumeTrue(ok, "Debian's python3-torch is not installed: no PyTorch reference");
    }

    /** The reference's embeddings of each id list. */
    static float[][] reference(Path dir, List<int[]> inputs, boolean floatActivations) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", REFERENCE.toString(), dir.toString()));
        for (int[] ids : inputs) {
            cmd.add("--tokens");
            cmd.add(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        }
        if (floatActivations) {
            cmd.add("--float-activations");
        }
        Process p = new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "reference timed out");
        assertEquals(0, p.exitValue(), "reference failed: " + out);
        JsonNode rows = JSON.readTree(out).get("embeddings");
        float[][] r = new float[rows.size()][];
        for (int i = 0; i < r.length; i++) {
            r[i] = new float[rows.get(i).size()];
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = (float) rows.get(i).get(j).doubleValue();
            }
        }
        return r;
    }

    /** Max |a - b| over max |b|, over all rows. */
    static double relativeDiff(float[][] a, float[][] b) {
        double diff = 0;
        double max = 0;
        for (int i = 0; i < b.length; i++) {
            assertEquals(b[i].length, a[i].length);
            for (int j = 0; j < b[i].length; j++) {
                diff = Math.max(diff, Math.abs(a[i][j] - b[i][j]));
                max = Math.max(max, Math.abs(b[i][j]));
            }
        }
        return diff / max;
    }

    /** Our embeddings of TEXTS (the model's own pooling), with the ids each ran on. */
    static float[][] embed(Path dir, List<int[]> idsOut) throws IOException {
        try (Model model = Model.load(dir)) {
            Tokenizer tok = model.tokenizer().orElseThrow();
            InferenceSession session = model.newSession();
            float[][] out = new float[TEXTS.size()][];
            for (int i = 0; i < TEXTS.size(); i++) {
                int[] text = tok.encode(TEXTS.get(i));
                int[] ids = Arrays.copyOf(text, text.length + 1);
                ids[text.length] = END_OF_TEXT;
                idsOut.add(ids);
                InferenceResult.Embedding e = session.embed(TEXTS.get(i), null);
                assertEquals(Pooling.LAST, e.pooling());
                // The template's <|endoftext|> ran after the text: the last token pooled.
                assertEquals(ids.length, e.stats().inputTokens());
                out[i] = e.vector();
            }
            return out;
        }
    }

    private double parity(HubLlamaCheckpoint ckpt, String name, boolean floatActivations) throws Exception {
        assumeTorch();
        Path dir = embeddingDirectory(ckpt, tmp.resolve(name));
        List<int[]> ids = new ArrayList<>();
        float[][] ours = embed(dir, ids);
        double d = relativeDiff(ours, reference(dir, ids, false));
        System.out.printf("%s: max |ours - reference| / max |reference| = %.3g%n", name, d);
        if (floatActivations) {
            double band = relativeDiff(reference(dir, ids, true), reference(dir, ids, false));
            System.out.printf("%s: reference float activations vs int8 = %.3g%n", name, band);
        }
        return d;
    }

    @Test
    void qwen3EmbeddingTiedBaseModelWithWideHeads() throws Exception {
        // head_dim 16 with hidden 32 and 4 heads (as 0.6B: 128 vs 1024 / 16), GQA 2:1, no model. prefix.
        double d = parity(qwen3(32, 4, 2, 16, 2, 31).tied().baseModel(), "tied-base", false);
        assertTrue(d <= 1e-4, "max diff " + d);
    }

    @Test
    void qwen3EmbeddingUntiedCausalLmLayoutGqa4() throws Exception {
        double d = parity(qwen3(48, 8, 2, 8, 3, 33), "untied-causal", false);
        assertTrue(d <= 1e-4, "max diff " + d);
    }

    @Test
    void qwen3EmbeddingMultiHeadAttention() throws Exception {
        double d = parity(qwen3(32, 2, 2, 24, 2, 35).tied().baseModel(), "mha", false);
        assertTrue(d <= 1e-4, "max diff " + d);
    }

    @Test
    void bitNetEmbeddingShallowIsTheInt8RecipeExactly() throws Exception {
        // One and two layers: every int8 and ternary rounding the reference makes, we make.
        for (int layers = 1; layers <= 2; layers++) {
            double d = parity(
                    qwen3(32, 4, 2, 16, layers, 40 + layers)
                            .tied()
                            .bitNetEmbedding()
                            .baseModel(),
                    "bitnet-" + layers,
                    true);
            assertTrue(d <= 1e-5, layers + " layers: max diff " + d + " (a flipped rounding)");
        }
    }

    @Test
    void bitNetEmbeddingDeeperStaysWithinTheReferencesOwnInt8Band() throws Exception {
        assumeTorch();
        Path dir = embeddingDirectory(
                qwen3(32, 4, 2, 16, 6, 47).tied().bitNetEmbedding().baseModel(), tmp.resolve("bitnet-6"));
        List<int[]> ids = new ArrayList<>();
        float[][] ours = embed(dir, ids);
        float[][] int8 = reference(dir, ids, false);
        double d = relativeDiff(ours, int8);
        double band = relativeDiff(reference(dir, ids, true), int8);
        System.out.printf("bitnet-6: ours vs reference int8 %.3g, reference float vs int8 activations %.3g%n", d, band);
        assertTrue(d <= band, "ours " + d + " vs the reference's float-vs-int8 band " + band);
    }

    @Test
    void bitNetEmbeddingConfigIsBitLinearAndConvertsToTheTwoBitForm() throws Exception {
        Path dir = embeddingDirectory(
                qwen3(32, 4, 2, 16, 2, 51).tied().bitNetEmbedding().baseModel(), tmp.resolve("bitnet"));
        QSparseConfig c = (QSparseConfig) ConfigReader.read(dir);
        assertTrue(c.projectionNorms());
        assertEquals(8, c.activationBits());
        assertEquals(WeightQuant.TERNARY, c.weightQuant());
        assertEquals(QuantRules.BITNET_BITLINEAR, c.quantRules());
        Path out = tmp.resolve("bitnet-ternary");
        ModelConverter.Result r = ModelConverter.convert(dir, out, ModelConverter.Target.TERNARY, false);
        assertEquals(14, r.quantizedTensors());
        assertTrue(Files.isRegularFile(out.resolve("1_Pooling/config.json")));
        assertTrue(Files.isDirectory(out.resolve("2_Normalize")), "every module folder, even one without files");
        try (Model converted = Model.load(out)) {
            assertTrue(converted.checkpoint().contains("layers.1.mlp.down_proj.tweight"));
            assertFalse(converted.checkpoint().contains("layers.1.mlp.down_proj.weight"));
            assertTrue(converted.checkpoint().contains("layers.1.mlp.down_proj.norm.weight"));
        }
        List<int[]> ids = new ArrayList<>();
        float[][] original = embed(dir, ids);
        float[][] fromConverted = embed(out, new ArrayList<>());
        for (int i = 0; i < original.length; i++) {
            assertArrayEquals(original[i], fromConverted[i], "text " + i + ": the 2-bit form is the same function");
        }
    }

    @Test
    void aPlainQwen3DirectoryKeepsTodaysEmbedding() throws Exception {
        Path dir = tmp.resolve("plain");
        qwen3(32, 4, 2, 16, 1, 53).tied().write(dir);
        Files.copy(TOKENIZER, dir.resolve("tokenizer.json"));
        try (Model model = Model.load(dir)) {
            assertTrue(model.sentenceModules().isEmpty());
            InferenceResult.Embedding e = model.newSession().embed(TEXTS.get(0), null);
            assertEquals(Pooling.MEAN, e.pooling());
            // No template suffix, no BOS (Qwen3 has no bos_token_id): the text's own tokens only.
            assertEquals(
                    model.tokenizer().orElseThrow().encode(TEXTS.get(0)).length,
                    e.stats().inputTokens());
        }
    }

    /**
     * The real Qwen3 tokenizer.json (npm, see model-runtime/pom.xml) has a ByteLevel post_processor:
     * nothing after the text. With Qwen3-Embedding's template it appends {@code <|endoftext|>},
     * id 151643, the id Microsoft's converter forces for bitnet-embedding-0.6b.
     */
    @Test
    void theRealQwen3TokenizerWithTheEmbeddingTemplateAppendsEndOfText() throws Exception {
        String dir = System.getProperty("qsparse.hfTokenizers");
        Assumptions.assumeTrue(dir != null, "run through Maven for the npm tokenizers");
        Path file = Path.of(dir, "tokenizer-qwen3", "models", "tokenizer.json");
        // Absent only under -Dqsparse.skipHfTokenizers=true (otherwise the build's npm ci fails first).
        Assumptions.assumeTrue(Files.isRegularFile(file), "no npm tokenizers (-Dqsparse.skipHfTokenizers=true)");
        ObjectNode json = (ObjectNode) JSON.readTree(file.toFile());
        assertEquals("ByteLevel", json.get("post_processor").get("type").asText());
        assertArrayEquals(new int[0], Tokenizer.load(file).suffixTokens());
        json.set("post_processor", endOfTextTemplate("<|endoftext|>", 151643));
        Path edited = tmp.resolve("tokenizer.json");
        JSON.writeValue(edited.toFile(), json);
        Tokenizer t = Tokenizer.load(edited);
        assertArrayEquals(new int[] {151643}, t.suffixTokens());
        assertEquals("<|endoftext|>", t.decode(t.suffixTokens()));
        assertTrue(t.prefixTokens().orElseThrow().length == 0, "nothing before the text");
    }

    private String refusal(HubLlamaCheckpoint ckpt, String name) throws IOException {
        Path dir = embeddingDirectory(ckpt, tmp.resolve(name));
        return assertThrows(ModelLoadException.class, () -> Model.load(dir).close())
                .getMessage();
    }

    @Test
    void whatTheBitNetLayoutDoesNotHaveIsRefusedByName() throws IOException {
        HubLlamaCheckpoint missing = qwen3(32, 4, 2, 16, 1, 55).tied().bitNetEmbedding();
        missing.tensors.remove("model.layers.0.mlp.down_proj.norm.weight");
        assertTrue(refusal(missing, "missing").contains("model.layers.0.mlp.down_proj.norm.weight"));
        HubLlamaCheckpoint float32 = qwen3(32, 4, 2, 16, 1, 56).tied().bitNetEmbedding();
        float32.config.put("activation_bits", 0);
        assertTrue(refusal(float32, "float").contains("'activation_bits'"));
        HubLlamaCheckpoint quantized = qwen3(32, 4, 2, 16, 1, 57).tied().bitNetEmbedding();
        quantized.config.putObject("quantization_config").put("quant_method", "gptq");
        assertTrue(refusal(quantized, "gptq").contains("'quantization_config'"));
        // A projection norm in a Llama checkpoint: nothing there would apply it.
        HubLlamaCheckpoint llama = qwen3(32, 4, 2, 16, 1, 58).tied().bitNetEmbedding();
        llama.config.put("model_type", "llama");
        llama.tensors.keySet().removeIf(n -> n.contains("q_norm") || n.contains("k_norm"));
        assertTrue(refusal(llama, "llama").contains("_proj.norm.weight"));
        HubLlamaCheckpoint gemma = qwen3(32, 4, 2, 16, 1, 59).tied();
        gemma.config.put("model_type", "gemma3_text");
        assertTrue(refusal(gemma, "gemma").contains("'gemma3_text'"));
    }
}
