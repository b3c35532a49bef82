package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Random-weight {@code qsparse} model directories of any shape, for benchmarks: the speed of a
 * forward pass does not depend on what the weights have learned. Written as float32, dense
 * (top-K ratio 1, float activations): benchmarks change the config keys and convert.
 */
public final class RandomModels {

    private RandomModels() {}

    /** Shape of a random model. */
    public record Shape(int vocab, int hidden, int heads, int layers, int intermediate, int context) {

        /** The seed README's example: vocab 30000, d_model 768, 12 heads, 12 layers, d_ff 3072. */
        public static Shape seedReadme() {
            return new Shape(30000, 768, 12, 12, 3072, 2048);
        }
    }

    /** Writes config.json and model.safetensors (untied lm head, weights uniform in +-0.05, norms 1). */
    public static void write(Path dir, Shape s, long seed) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.put("model_type", "qsparse");
        c.put("vocab_size", s.vocab());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.heads());
        c.put("max_position_embeddings", s.context());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", false);
        c.put("topk_ratio", 1.0);
        c.put("activation_bits", 0);
        c.put("topk_rescale", "none");
        c.put("weight_quant", "none");
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", "pt");
        long[] state = {seed * 0x9E3779B97F4A7C15L + 1};
        int d = s.hidden();
        int f = s.intermediate();
        random(w, "model.embed_tokens.weight", state, s.vocab(), d);
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            ones(w, p + "input_layernorm.weight", d);
            random(w, p + "self_attn.q_proj.weight", state, d, d);
            random(w, p + "self_attn.k_proj.weight", state, d, d);
            random(w, p + "self_attn.v_proj.weight", state, d, d);
            random(w, p + "self_attn.o_proj.weight", state, d, d);
            ones(w, p + "post_attention_layernorm.weight", d);
            random(w, p + "mlp.gate_proj.weight", state, f, d);
            random(w, p + "mlp.up_proj.weight", state, f, d);
            random(w, p + "mlp.down_proj.weight", state, d, f);
        }
        ones(w, "model.norm.weight", d);
        random(w, "lm_head.weight", state, s.vocab(), d);
        w.write(dir.resolve("model.safetensors"));
        json.writeValue(dir.resolve(ConfigReader.FILE).toFile(), c);
    }

    private static void random(SafetensorsWriter w, String name, long[] state, int rows, int cols) {
        long n = (long) rows * cols;
        w.add(name, "F32", new long[] {rows, cols}, n * 4, () -> {
            ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n * 4)).order(ByteOrder.LITTLE_ENDIAN);
            long x = state[0];
            for (long i = 0; i < n; i++) {
                // xorshift64*: uniform in [-0.05, 0.05)
                x ^= x >>> 12;
                x ^= x << 25;
                x ^= x >>> 27;
                long r = x * 0x2545F4914F6CDD1DL;
                b.putFloat((float) (((r >>> 40) * 0x1p-24) - 0.5) * 0.1f);
            }
            state[0] = x;
            return b.flip();
        });
    }

    private static void ones(SafetensorsWriter w, String name, int n) {
        w.add(name, "F32", new long[] {n}, 4L * n, () -> {
            ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                b.putFloat(1f);
            }
            return b.flip();
        });
    }
}
