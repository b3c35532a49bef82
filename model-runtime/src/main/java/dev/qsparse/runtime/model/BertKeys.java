package dev.qsparse.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.nio.file.Path;

/**
 * config.json of {@code model_type} {@code bert}, read as transformers' {@code BertConfig} reads it,
 * with its defaults for absent keys (BERT-base: hidden 768, 12 layers, 12 heads, 3072, 512
 * positions, 2 token types, {@code layer_norm_eps} 1e-12, vocabulary 30522). Values that would make
 * transformers compute something else than what {@link BertEncoder} computes are refused by name:
 * {@code hidden_act} other than {@code gelu} (erf), {@code position_embedding_type} other than
 * {@code absolute}, {@code is_decoder} true (causal attention).
 */
final class BertKeys {

    private BertKeys() {}

    static BertConfig read(JsonNode c, Path dir) throws ModelLoadException {
        String act = ConfigReader.string(c, "hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw new IllegalArgumentException("'hidden_act' '" + act + "' is not supported for model_type bert"
                    + " (supported: gelu, the exact erf form)");
        }
        String positions = ConfigReader.string(c, "position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new IllegalArgumentException("'position_embedding_type' '" + positions
                    + "' is not supported for model_type bert (supported: absolute)");
        }
        if (ConfigReader.bool(c, "is_decoder", false)) {
            throw new IllegalArgumentException(
                    "'is_decoder' true (causal attention) is not supported for model_type bert: an encoder attends"
                            + " both ways");
        }
        int hidden = ConfigReader.optionalInt(c, "hidden_size", 768, 1, ConfigReader.MAX_HIDDEN);
        int heads = ConfigReader.optionalInt(c, "num_attention_heads", 12, 1, ConfigReader.MAX_HEADS);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("'hidden_size' " + hidden + " is not a multiple of"
                    + " 'num_attention_heads' " + heads + (c.has("num_attention_heads") ? "" : " (the default)"));
        }
        int maxPositions = ConfigReader.optionalInt(c, "max_position_embeddings", 512, 1, ConfigReader.MAX_CONTEXT);
        double ratio = ConfigReader.ratio(c, "topk_ratio", 1.0);
        int layers = ConfigReader.optionalInt(c, "num_hidden_layers", 12, 1, ConfigReader.MAX_LAYERS);
        int intermediate = ConfigReader.optionalInt(c, "intermediate_size", 3072, 1, ConfigReader.MAX_INTERMEDIATE);
        return new BertConfig(
                ConfigReader.optionalInt(c, "vocab_size", 30522, 1, ConfigReader.MAX_VOCAB),
                hidden,
                layers,
                heads,
                intermediate,
                maxPositions,
                ConfigReader.optionalInt(c, "type_vocab_size", 2, 1, ConfigReader.MAX_VOCAB),
                (float) ConfigReader.positive(c, "layer_norm_eps", 1e-12, 1.0),
                SentenceModules.read(dir, hidden, maxPositions),
                LayerTopK.read(
                        c,
                        layers,
                        ConfigReader.ratio(c, "topk_ratio_attn", ratio),
                        ConfigReader.ratio(c, "topk_ratio_attn_out", ratio),
                        ConfigReader.ratio(c, "topk_ratio_mlp", ratio),
                        ConfigReader.ratio(c, "topk_ratio_mlp_out", ratio)),
                TopKCentres.read(c, dir, layers, hidden, intermediate),
                ConfigReader.bits(c, "activation_bits", 0),
                outlierThreshold(c),
                weightQuant(c));
    }

    /**
     * {@code activation_outlier_threshold}: 0 (absent) or a multiple of a projection input's RMS in
     * [1, 1000] above which an input stays float beside the int8 ones (our key; docs/model-format.md).
     */
    static float outlierThreshold(JsonNode c) {
        String key = "activation_outlier_threshold";
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return 0f;
        }
        double d = v.isNumber() ? v.doubleValue() : Double.NaN;
        if (!(d == 0 || (d >= 1 && d <= Sparsifier.MAX_OUTLIER_THRESHOLD))) {
            throw new IllegalArgumentException("'" + key + "' must be 0 or a number in [1, "
                    + (int) Sparsifier.MAX_OUTLIER_THRESHOLD + "], got " + v);
        }
        return (float) d;
    }

    /** Int8 or float projections; BitNet's ternary weights were never trained for these encoders. */
    private static WeightQuant weightQuant(JsonNode c) {
        WeightQuant q = WeightQuant.fromConfig(ConfigReader.string(c, "weight_quant", "none"));
        if (q == WeightQuant.TERNARY) {
            throw new IllegalArgumentException(
                    "'weight_quant' ternary is not supported for model_type bert (supported: none, int8)");
        }
        return q;
    }
}
