package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.kernel.TopKRescale;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/** Reads config.json into the config record of its {@code model_type}. */
public final class ConfigReader {

    public static final String FILE = "config.json";
    static final int DEFAULT_CONTEXT = 2048;

    private ConfigReader() {
    }

    public static ModelConfig read(Path modelDir) throws ModelLoadException {
        Path file = modelDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw ModelLoadException.forFile(file, "file not found");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw ModelLoadException.forFile(file, "not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw ModelLoadException.forFile(file, "not a JSON object");
        }
        String type = root.path("model_type").asText("");
        try {
            String layout = root.path("weight_layout").asText(WEIGHT_LAYOUT);
            if (!layout.equals(WEIGHT_LAYOUT)) {
                throw new IllegalArgumentException("unsupported weight_layout '" + layout + "' (this runtime reads "
                        + WEIGHT_LAYOUT + ")");
            }
            return switch (type) {
                case "qsparse", "bitnet", "llama" -> readQSparse(root);
                case "qsparse_seed" -> readSeed(root);
                default -> throw new IllegalArgumentException("unsupported model_type '" + type
                        + "' (expected qsparse or qsparse_seed)");
            };
        } catch (IllegalArgumentException e) {
            throw ModelLoadException.forFile(file, e.getMessage());
        }
    }

    static QSparseConfig readQSparse(JsonNode c) {
        int hidden = requiredInt(c, "hidden_size");
        int heads = requiredInt(c, "num_attention_heads");
        double ratio = c.path("topk_ratio").asDouble(1.0);
        int activationBits = c.path("activation_bits").isNull() ? 0 : c.path("activation_bits").asInt(0);
        return new QSparseConfig(
                requiredInt(c, "vocab_size"),
                hidden,
                requiredInt(c, "intermediate_size"),
                requiredInt(c, "num_hidden_layers"),
                heads,
                c.path("num_key_value_heads").asInt(heads),
                c.path("head_dim").asInt(hidden / heads),
                c.path("max_position_embeddings").asInt(DEFAULT_CONTEXT),
                (float) c.path("rms_norm_eps").asDouble(1e-5),
                c.path("rope_theta").asDouble(10000.0),
                c.path("tie_word_embeddings").asBoolean(false),
                optionalInt(c, "bos_token_id"),
                optionalInt(c, "eos_token_id"),
                c.path("topk_ratio_attn").asDouble(ratio),
                c.path("topk_ratio_attn_out").asDouble(ratio),
                c.path("topk_ratio_mlp").asDouble(ratio),
                c.path("topk_ratio_mlp_out").asDouble(ratio),
                activationBits,
                TopKRescale.fromConfig(c.path("topk_rescale").asText("none")),
                WeightQuant.fromConfig(c.path("weight_quant").asText("none")),
                WeightQuant.fromConfig(c.path("lm_head_quant").asText("none")),
                topkBlock(c, 0),
                topkBlock(c, 1));
    }

    /** Value of the weight_layout key that converted models carry (see docs/model-format.md). */
    public static final String WEIGHT_LAYOUT = "input_major_64";

    private static int topkBlock(JsonNode c, int i) {
        JsonNode b = c.get("topk_block");
        if (b == null || b.isNull()) {
            return 0;
        }
        if (!b.isArray() || b.size() != 2 || !b.get(0).canConvertToInt() || !b.get(1).canConvertToInt()) {
            throw new IllegalArgumentException("topk_block must be [N, M], got " + b);
        }
        return b.get(i).asInt();
    }

    static SeedConfig readSeed(JsonNode c) {
        return new SeedConfig(
                requiredInt(c, "vocab_size"),
                requiredInt(c, "d_model"),
                requiredInt(c, "nhead"),
                requiredInt(c, "num_layers"),
                requiredInt(c, "dim_feedforward"),
                c.path("k_ratio").asDouble(0.5),
                c.path("quantized").asBoolean(false),
                c.path("max_position_embeddings").asInt(DEFAULT_CONTEXT),
                optionalInt(c, "bos_token_id"),
                optionalInt(c, "eos_token_id"));
    }

    private static int requiredInt(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new IllegalArgumentException("missing or non-integer '" + key + "'");
        }
        return v.asInt();
    }

    private static OptionalInt optionalInt(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt()) {
            // Some configs list several EOS ids; the first is the one generation stops on.
            if (v != null && v.isArray() && v.size() > 0 && v.get(0).canConvertToInt()) {
                return OptionalInt.of(v.get(0).asInt());
            }
            return OptionalInt.empty();
        }
        return OptionalInt.of(v.asInt());
    }
}
