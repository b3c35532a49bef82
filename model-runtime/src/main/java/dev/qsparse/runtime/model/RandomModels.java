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
 * (top-K ratio 1, float activations): benchmarks change the config keys and convert. {@link
 * #writeBitNet} writes a Hugging Face BitNet checkpoint instead, in the published packed format.
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

    /** Shape of a random Hugging Face BitNet model. */
    public record BitNetShape(
            int vocab, int hidden, int heads, int kvHeads, int layers, int intermediate, int context) {

        /** BitNet b1.58 2B4T: vocab 128256, hidden 2560, 30 layers, 20 query / 5 kv heads, ff 6912. */
        public static BitNetShape bitnet2B4T() {
            return new BitNetShape(128256, 2560, 20, 5, 30, 6912, 4096);
        }
    }

    /**
     * Writes config.json and model.safetensors of a BitNet checkpoint as published (model_type
     * bitnet, BitLinear offline): U8 packed projections with random codes (half zeros) and a BF16
     * {@code weight_scale}, BF16 embeddings (uniform in +-0.05) tied to the lm head, BF16 norms of 1.
     */
    public static void writeBitNet(Path dir, BitNetShape s, long seed) throws IOException {
        if (s.hidden() % s.heads() != 0 || s.heads() % s.kvHeads() != 0) {
            throw new IllegalArgumentException("heads must divide hidden and kv heads must divide heads: " + s);
        }
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add("BitNetForCausalLM");
        c.put("model_type", "bitnet");
        c.put("vocab_size", s.vocab());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("max_position_embeddings", s.context());
        c.put("hidden_act", "relu2");
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 500000.0);
        c.put("tie_word_embeddings", true);
        c.put("torch_dtype", "bfloat16");
        ObjectNode q = c.putObject("quantization_config");
        q.put("quant_method", "bitnet");
        q.put("linear_class", "bitlinear");
        q.put("quantization_mode", "offline");
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", "pt");
        long[] state = {seed * 0x9E3779B97F4A7C15L + 1};
        int d = s.hidden();
        int f = s.intermediate();
        int kv = d / s.heads() * s.kvHeads();
        randomBf16(w, "model.embed_tokens.weight", state, s.vocab(), d);
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            onesBf16(w, p + "input_layernorm.weight", d);
            packed(w, p + "self_attn.q_proj", state, d, d);
            packed(w, p + "self_attn.k_proj", state, kv, d);
            packed(w, p + "self_attn.v_proj", state, kv, d);
            onesBf16(w, p + "self_attn.attn_sub_norm.weight", d);
            packed(w, p + "self_attn.o_proj", state, d, d);
            onesBf16(w, p + "post_attention_layernorm.weight", d);
            packed(w, p + "mlp.gate_proj", state, f, d);
            packed(w, p + "mlp.up_proj", state, f, d);
            onesBf16(w, p + "mlp.ffn_sub_norm.weight", f);
            packed(w, p + "mlp.down_proj", state, d, f);
        }
        onesBf16(w, "model.norm.weight", d);
        w.write(dir.resolve("model.safetensors"));
        json.writeValue(dir.resolve(ConfigReader.FILE).toFile(), c);
    }

    /** Shape of a random Qwen3 model (head_dim independent of hidden / heads, as in Qwen3). */
    public record Qwen3Shape(int vocab, int hidden, int heads, int kvHeads, int headDim, int layers, int intermediate) {

        /** Qwen3-0.6B, Qwen3-Embedding-0.6B and bitnet-embedding-0.6b: 1024 wide, 28 layers, 16/8 heads of 128. */
        public static Qwen3Shape qwen3_0_6B() {
            return new Qwen3Shape(151669, 1024, 16, 8, 128, 28, 3072);
        }
    }

    /**
     * Writes a Qwen3-Embedding-style directory with random BF16 weights (uniform in +-0.05, norms 1,
     * tied embeddings), Qwen3's published config keys (rope_theta 1e6, rms_norm_eps 1e-6) and the
     * sentence-transformers files (last-token pooling, normalised). With {@code bitLinear}, every
     * projection also has its input RMSNorm ({@code *_proj.norm.weight}), as
     * microsoft/bitnet-embedding-0.6b is laid out: its weights are the latent values the loader
     * ternarises, its activations int8. No tokenizer: the caller adds one whose ids fit {@code vocab}.
     */
    public static void writeQwen3(Path dir, Qwen3Shape s, long seed, boolean bitLinear) throws IOException {
        if (s.heads() % s.kvHeads() != 0) {
            throw new IllegalArgumentException("kv heads must divide heads: " + s);
        }
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add("Qwen3ForCausalLM");
        c.put("model_type", "qwen3");
        c.put("vocab_size", s.vocab());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.headDim());
        c.put("hidden_act", "silu");
        c.put("max_position_embeddings", 32768);
        c.put("rms_norm_eps", 1e-6);
        c.put("rope_theta", 1000000.0);
        c.put("tie_word_embeddings", true);
        c.put("attention_bias", false);
        c.put("use_sliding_window", false);
        c.putNull("sliding_window");
        c.put("max_window_layers", s.layers());
        c.put("eos_token_id", 2);
        c.put("torch_dtype", "bfloat16");
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", "pt");
        long[] state = {seed * 0x9E3779B97F4A7C15L + 1};
        int d = s.hidden();
        int f = s.intermediate();
        int q = s.heads() * s.headDim();
        int kv = s.kvHeads() * s.headDim();
        randomBf16(w, "model.embed_tokens.weight", state, s.vocab(), d);
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            onesBf16(w, p + "input_layernorm.weight", d);
            projection(w, p + "self_attn.q_proj", state, q, d, bitLinear);
            projection(w, p + "self_attn.k_proj", state, kv, d, bitLinear);
            projection(w, p + "self_attn.v_proj", state, kv, d, bitLinear);
            onesBf16(w, p + "self_attn.q_norm.weight", s.headDim());
            onesBf16(w, p + "self_attn.k_norm.weight", s.headDim());
            projection(w, p + "self_attn.o_proj", state, d, q, bitLinear);
            onesBf16(w, p + "post_attention_layernorm.weight", d);
            projection(w, p + "mlp.gate_proj", state, f, d, bitLinear);
            projection(w, p + "mlp.up_proj", state, f, d, bitLinear);
            projection(w, p + "mlp.down_proj", state, d, f, bitLinear);
        }
        onesBf16(w, "model.norm.weight", d);
        w.write(dir.resolve("model.safetensors"));
        json.writeValue(dir.resolve(ConfigReader.FILE).toFile(), c);
        writeSentenceModules(dir, d);
    }

    /**
     * The sentence-transformers files of a Qwen3-Embedding-style directory: modules.json (Transformer,
     * Pooling, Normalize), 1_Pooling with last-token pooling over {@code hidden} dimensions, an empty
     * 2_Normalize, sentence_bert_config.json.
     */
    public static void writeSentenceModules(Path dir, int hidden) throws IOException {
        Files.writeString(
                dir.resolve("modules.json"),
                "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
                        + " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\":"
                        + " \"sentence_transformers.models.Pooling\"}, {\"idx\": 2, \"name\": \"2\", \"path\":"
                        + " \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]");
        Files.createDirectories(dir.resolve("1_Pooling"));
        Files.createDirectories(dir.resolve("2_Normalize"));
        Files.writeString(
                dir.resolve("1_Pooling/config.json"),
                "{\"word_embedding_dimension\": " + hidden + ", \"pooling_mode_cls_token\": false,"
                        + " \"pooling_mode_mean_tokens\": false, \"pooling_mode_max_tokens\": false,"
                        + " \"pooling_mode_mean_sqrt_len_tokens\": false, \"pooling_mode_weightedmean_tokens\": false,"
                        + " \"pooling_mode_lasttoken\": true, \"include_prompt\": true}");
        Files.writeString(
                dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 32768, \"do_lower_case\": false}");
    }

    /** A projection's BF16 weights, and with {@code bitLinear} its input RMSNorm weights (ones). */
    private static void projection(SafetensorsWriter w, String p, long[] state, int rows, int cols, boolean bitLinear) {
        randomBf16(w, p + ".weight", state, rows, cols);
        if (bitLinear) {
            onesBf16(w, p + ".norm.weight", cols);
        }
    }

    private static long next(long x) {
        x ^= x >>> 12;
        x ^= x << 25;
        x ^= x >>> 27;
        return x;
    }

    /** P.weight (U8 [rows/4, cols], codes 0..2, a drawn 3 becomes 1) and P.weight_scale (BF16 [1]). */
    private static void packed(SafetensorsWriter w, String p, long[] state, int rows, int cols) {
        long n = (long) rows / 4 * cols;
        w.add(p + ".weight", "U8", new long[] {rows / 4, cols}, n, () -> {
            ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n)).order(ByteOrder.LITTLE_ENDIAN);
            long x = state[0];
            long i = 0;
            for (; i + 8 <= n; i += 8) {
                x = next(x);
                long r = x * 0x2545F4914F6CDD1DL;
                long threes = r & (r >>> 1) & 0x5555555555555555L;
                b.putLong(r & ~(threes << 1));
            }
            for (; i < n; i++) {
                b.put((byte) 0x55);
            }
            state[0] = x;
            return b.flip();
        });
        w.add(
                p + ".weight_scale",
                "BF16",
                new long[] {1},
                2,
                () -> bf16(ByteBuffer.allocate(2), 40f).flip());
    }

    private static ByteBuffer bf16(ByteBuffer b, float v) {
        return b.order(ByteOrder.LITTLE_ENDIAN).putShort((short) (Float.floatToRawIntBits(v) >>> 16));
    }

    private static void randomBf16(SafetensorsWriter w, String name, long[] state, int rows, int cols) {
        long n = (long) rows * cols;
        w.add(name, "BF16", new long[] {rows, cols}, n * 2, () -> {
            ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n * 2)).order(ByteOrder.LITTLE_ENDIAN);
            long x = state[0];
            for (long i = 0; i < n; i++) {
                x = next(x);
                long r = x * 0x2545F4914F6CDD1DL;
                bf16(b, (float) (((r >>> 40) * 0x1p-24) - 0.5) * 0.1f);
            }
            state[0] = x;
            return b.flip();
        });
    }

    private static void onesBf16(SafetensorsWriter w, String name, int n) {
        w.add(name, "BF16", new long[] {n}, 2L * n, () -> {
            ByteBuffer b = ByteBuffer.allocate(2 * n);
            for (int i = 0; i < n; i++) {
                bf16(b, 1f);
            }
            return b.flip();
        });
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
