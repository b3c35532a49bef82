package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.TopKRescale;
import java.util.OptionalInt;

/**
 * Hyper-parameters of the {@code qsparse} architecture, read from config.json with the Hugging
 * Face Llama/BitNet key names plus the Q-Sparse keys (see docs/model-format.md).
 *
 * <p>{@code projectionNorms}: every projection has its own input RMSNorm (BitNet embedding
 * models, {@link ProjectionNorms}).
 */
public record QSparseConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKeyValueHeads,
        int headDim,
        int contextLength,
        float rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        OptionalInt bosTokenId,
        OptionalInt eosTokenId,
        double topkRatioAttn,
        double topkRatioAttnOut,
        double topkRatioMlp,
        double topkRatioMlpOut,
        int activationBits,
        TopKRescale topkRescale,
        WeightQuant weightQuant,
        WeightQuant lmHeadQuant,
        int topkBlockKeep,
        int topkBlockSize,
        QuantRules quantRules,
        MlpActivation mlpActivation,
        int lmHeadActivationBits,
        RopeScaling ropeScaling,
        LinearBiases biases,
        boolean headNorms,
        boolean projectionNorms)
        implements ModelConfig {

    public QSparseConfig {
        require(vocabSize > 0, "vocab_size must be positive");
        require(hiddenSize > 0, "hidden_size must be positive");
        require(intermediateSize > 0, "intermediate_size must be positive");
        require(numLayers > 0, "num_hidden_layers must be positive");
        require(numHeads > 0, "num_attention_heads must be positive");
        require(
                numKeyValueHeads > 0 && numHeads % numKeyValueHeads == 0,
                "num_key_value_heads must divide num_attention_heads");
        require(headDim > 0 && headDim % 2 == 0, "head_dim must be positive and even (rotary pairs)");
        require(contextLength > 0, "max_position_embeddings must be positive");
        for (double r : new double[] {topkRatioAttn, topkRatioAttnOut, topkRatioMlp, topkRatioMlpOut}) {
            require(r > 0 && r <= 1, "top-K ratios must be in (0, 1], got " + r);
        }
        require(activationBits == 0 || activationBits == 8, "activation_bits must be 0 or 8");
        require(lmHeadActivationBits == 0 || lmHeadActivationBits == 8, "lm_head_activation_bits must be 0 or 8");
        require(
                lmHeadQuant == WeightQuant.NONE || lmHeadQuant == WeightQuant.INT8,
                "lm_head_quant must be none or int8");
        require(
                topkBlockSize == 0 ? topkBlockKeep == 0 : topkBlockKeep >= 1 && topkBlockKeep <= topkBlockSize,
                "topk_block must be [N, M] with 1 <= N <= M");
        require(quantRules != null, "quantization rules must be given");
        require(mlpActivation != null, "mlp_activation must be given");
        require(ropeScaling != null, "rope scaling must be given");
        require(biases != null, "biases must be given");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    @Override
    public String modelType() {
        return quantRules.isBitNet() ? "bitnet" : "qsparse";
    }

    private Sparsifier sparsifier(double ratio) {
        return new Sparsifier(
                ratio, activationBits, topkRescale, topkBlockKeep, topkBlockSize, quantRules.activationScale());
    }

    public Sparsifier attnInput() {
        return sparsifier(topkRatioAttn);
    }

    public Sparsifier attnOutput() {
        return sparsifier(topkRatioAttnOut);
    }

    public Sparsifier mlpInput() {
        return sparsifier(topkRatioMlp);
    }

    public Sparsifier mlpOutput() {
        return sparsifier(topkRatioMlpOut);
    }

    /**
     * The lm head's input: {@code null} when it is used as it is (float), else every entry kept and
     * quantized per token to int8 by the model's activation rule, so that an int8 lm head runs as an
     * integer product (what dynamic int8 quantization does to every linear layer).
     */
    public Sparsifier lmHeadInput() {
        return lmHeadActivationBits == 0
                ? null
                : new Sparsifier(1.0, lmHeadActivationBits, TopKRescale.NONE, 0, 0, quantRules.activationScale());
    }
}
