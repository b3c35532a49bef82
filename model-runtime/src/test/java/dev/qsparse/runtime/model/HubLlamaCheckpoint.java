package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A random Llama checkpoint as the Hugging Face Hub serves one: config.json with only
 * transformers' keys (no Q-Sparse key), BF16 tensors named {@code model.*} in {@code [out, in]}
 * order. The weights are kept as the doubles the BF16 values decode to, for {@link LlamaReference}.
 */
final class HubLlamaCheckpoint {

    final ObjectNode config;
    /** Tensor name to its values (row-major, as stored), exactly the BF16 values written. */
    final Map<String, double[]> tensors = new LinkedHashMap<>();

    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Random random;

    /**
     * @param heads query heads; {@code kvHeads} key/value heads; {@code headDim} may differ from hidden / heads
     */
    HubLlamaCheckpoint(
            int vocab, int hidden, int heads, int kvHeads, int headDim, int intermediate, int layers, long seed) {
        random = new Random(seed);
        config = new ObjectMapper().createObjectNode();
        config.putArray("architectures").add("LlamaForCausalLM");
        config.put("model_type", "llama");
        config.put("vocab_size", vocab);
        config.put("hidden_size", hidden);
        config.put("intermediate_size", intermediate);
        config.put("num_hidden_layers", layers);
        config.put("num_attention_heads", heads);
        config.put("num_key_value_heads", kvHeads);
        config.put("head_dim", headDim);
        config.put("hidden_act", "silu");
        config.put("max_position_embeddings", 131072);
        config.put("rms_norm_eps", 1e-5);
        config.put("rope_theta", 10000.0);
        config.put("tie_word_embeddings", false);
        config.put("attention_bias", false);
        config.put("mlp_bias", false);
        config.put("bos_token_id", 1);
        config.put("eos_token_id", 2);
        config.put("torch_dtype", "bfloat16");
        matrix("model.embed_tokens.weight", vocab, hidden, 1.0);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            norm(p + "input_layernorm.weight", hidden);
            matrix(p + "self_attn.q_proj.weight", heads * headDim, hidden, 0.3);
            matrix(p + "self_attn.k_proj.weight", kvHeads * headDim, hidden, 0.3);
            matrix(p + "self_attn.v_proj.weight", kvHeads * headDim, hidden, 0.3);
            matrix(p + "self_attn.o_proj.weight", hidden, heads * headDim, 0.3);
            norm(p + "post_attention_layernorm.weight", hidden);
            matrix(p + "mlp.gate_proj.weight", intermediate, hidden, 0.3);
            matrix(p + "mlp.up_proj.weight", intermediate, hidden, 0.3);
            matrix(p + "mlp.down_proj.weight", hidden, intermediate, 0.3);
        }
        norm("model.norm.weight", hidden);
        matrix("lm_head.weight", vocab, hidden, 0.3);
    }

    /** Ties the lm head to the embeddings (lm_head.weight is then not written). */
    HubLlamaCheckpoint tied() {
        config.put("tie_word_embeddings", true);
        tensors.remove("lm_head.weight");
        shapes.remove("lm_head.weight");
        return this;
    }

    /** Adds the biases attention_bias and mlp_bias declare, and declares them. */
    HubLlamaCheckpoint withBiases() {
        config.put("attention_bias", true);
        config.put("mlp_bias", true);
        int layers = config.get("num_hidden_layers").intValue();
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            for (String proj : new String[] {
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "mlp.gate_proj",
                "mlp.up_proj",
                "mlp.down_proj"
            }) {
                vector(p + proj + ".bias", shapes.get(p + proj + ".weight")[0], 0.2);
            }
        }
        return this;
    }

    /**
     * Turns this into a Qwen3 checkpoint: model_type qwen3, per-head q_norm / k_norm weights (around
     * 1), no Llama-only keys (Qwen3 has no mlp_bias; its attention_bias stays as set).
     */
    HubLlamaCheckpoint qwen3() {
        config.put("model_type", "qwen3");
        config.putArray("architectures").removeAll().add("Qwen3ForCausalLM");
        config.remove("mlp_bias");
        config.remove("bos_token_id");
        config.put("eos_token_id", 2);
        int layers = config.get("num_hidden_layers").intValue();
        int headDim = config.get("head_dim").intValue();
        for (int l = 0; l < layers; l++) {
            norm("model.layers." + l + ".self_attn.q_norm.weight", headDim);
            norm("model.layers." + l + ".self_attn.k_norm.weight", headDim);
        }
        return this;
    }

    /** Turns this into a Qwen2 checkpoint: model_type qwen2, q/k/v biases (always, in Qwen2), no bias keys. */
    HubLlamaCheckpoint qwen2() {
        config.put("model_type", "qwen2");
        config.putArray("architectures").removeAll().add("Qwen2ForCausalLM");
        config.remove("attention_bias");
        config.remove("mlp_bias");
        config.remove("bos_token_id");
        int layers = config.get("num_hidden_layers").intValue();
        for (int l = 0; l < layers; l++) {
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj"}) {
                String p = "model.layers." + l + ".self_attn." + proj;
                vector(p + ".bias", shapes.get(p + ".weight")[0], 0.2);
            }
        }
        return this;
    }

    /**
     * Turns a Qwen3 checkpoint into microsoft/bitnet-embedding-0.6b's layout: every projection's
     * BitLinear input norm ({@code P.norm.weight}, [in], around 1), as Microsoft's
     * utils/convert-bitnet-embedding-to-gguf.py names them.
     */
    HubLlamaCheckpoint bitNetEmbedding() {
        int layers = config.get("num_hidden_layers").intValue();
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            for (String proj : new String[] {
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "mlp.gate_proj",
                "mlp.up_proj",
                "mlp.down_proj"
            }) {
                norm(p + proj + ".norm.weight", (int) shapes.get(p + proj + ".weight")[1]);
            }
        }
        return this;
    }

    /** The base model's names, as sentence-transformers saves Qwen3Model: no {@code model.} prefix. */
    HubLlamaCheckpoint baseModel() {
        Map<String, double[]> t = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        for (String name : tensors.keySet()) {
            String renamed = name.startsWith("model.") ? name.substring("model.".length()) : name;
            t.put(renamed, tensors.get(name));
            s.put(renamed, shapes.get(name));
        }
        tensors.clear();
        tensors.putAll(t);
        shapes.clear();
        shapes.putAll(s);
        return this;
    }

    int vocab() {
        return config.get("vocab_size").intValue();
    }

    void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", "pt");
        for (Map.Entry<String, double[]> e : tensors.entrySet()) {
            double[] values = e.getValue();
            w.add(e.getKey(), "BF16", shapes.get(e.getKey()), 2L * values.length, () -> {
                ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
                for (double v : values) {
                    b.putShort((short) (Float.floatToRawIntBits((float) v) >>> 16));
                }
                return b.flip();
            });
        }
        w.write(dir.resolve("model.safetensors"));
        new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(dir.resolve("config.json").toFile(), config);
    }

    private void matrix(String name, int rows, int cols, double range) {
        put(name, new long[] {rows, cols}, (long) rows * cols, 0, range);
    }

    private void vector(String name, long n, double range) {
        put(name, new long[] {n}, n, 0, range);
    }

    /** Norm weights around 1, so that a norm applied wrongly shows. */
    private void norm(String name, int n) {
        put(name, new long[] {n}, n, 1, 0.5);
    }

    private void put(String name, long[] shape, long n, double center, double range) {
        double[] v = new double[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = bf16(center + (random.nextDouble() * 2 - 1) * range);
        }
        tensors.put(name, v);
        shapes.put(name, shape);
    }

    /** The value a float32 truncated to its top 16 bits (BF16) holds. */
    private static double bf16(double x) {
        return Float.intBitsToFloat(Float.floatToRawIntBits((float) x) & 0xFFFF0000);
    }
}
