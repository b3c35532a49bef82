package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Int8ScaleRule;
import dev.qsparse.runtime.kernel.Sparsifier;
import dev.qsparse.runtime.kernel.TopKRescale;
import java.util.OptionalInt;

/**
 * A BERT-family sentence encoder ({@code model_type} {@code bert}: all-MiniLM-L6-v2,
 * bge-small-en-v1.5, e5-small-v2): config.json read as transformers' {@code BertConfig} reads it,
 * the sentence-transformers modules beside it ({@link SentenceModules}), and the Q-Sparse keys that
 * apply to an encoder (top-K ratios and {@link TopKCentres}, {@code activation_bits}, {@code activation_outlier_threshold},
 * {@code weight_quant}).
 */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int numLayers,
        int numHeads,
        int intermediateSize,
        int maxPositionEmbeddings,
        int typeVocabSize,
        float layerNormEps,
        SentenceModules modules,
        LayerTopK topK,
        TopKCentres topKCentres,
        int activationBits,
        float activationOutlierThreshold,
        WeightQuant weightQuant)
        implements ModelConfig {

    public BertConfig {
        if (vocabSize <= 0 || hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0) {
            throw new IllegalArgumentException("vocab_size, hidden_size, num_hidden_layers, num_attention_heads and"
                    + " intermediate_size must be positive");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
        if (typeVocabSize < 1 || maxPositionEmbeddings < 1) {
            throw new IllegalArgumentException("type_vocab_size and max_position_embeddings must be positive");
        }
        if (modules.maxSeqLength() > maxPositionEmbeddings) {
            throw new IllegalArgumentException("max_seq_length " + modules.maxSeqLength()
                    + " exceeds max_position_embeddings " + maxPositionEmbeddings);
        }
        if (topK.layers() != numLayers) {
            throw new IllegalArgumentException(
                    "top-K ratios for " + topK.layers() + " layers, the model has " + numLayers);
        }
        if (topKCentres != null) {
            topKCentres.check(numLayers, hiddenSize, intermediateSize);
        }
        if (activationBits != 0 && activationBits != 8) {
            throw new IllegalArgumentException("activation_bits must be 0 or 8");
        }
        if (activationOutlierThreshold != 0f && activationBits != 8) {
            throw new IllegalArgumentException(
                    "activation_outlier_threshold applies to int8 activations only:" + " it needs activation_bits 8");
        }
        if (weightQuant == WeightQuant.TERNARY) {
            throw new IllegalArgumentException("weight_quant ternary is not supported for model_type bert");
        }
    }

    @Override
    public String modelType() {
        return "bert";
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** The longest input, [CLS] and [SEP] included: sentence-transformers' {@code max_seq_length}. */
    @Override
    public int contextLength() {
        return modules.maxSeqLength();
    }

    @Override
    public OptionalInt bosTokenId() {
        return OptionalInt.empty();
    }

    @Override
    public OptionalInt eosTokenId() {
        return OptionalInt.empty();
    }

    /** The same model with other kept fractions and activation bits (what calibration tries). */
    public BertConfig withTopK(LayerTopK other, int bits) {
        return withSparsity(other, topKCentres, bits, bits == 8 ? activationOutlierThreshold : 0f);
    }

    /** The same model with other top-K centres (null: top-K drops the smallest inputs). */
    public BertConfig withTopKCentres(TopKCentres centres) {
        return withSparsity(topK, centres, activationBits, activationOutlierThreshold);
    }

    private BertConfig withSparsity(LayerTopK fractions, TopKCentres centres, int bits, float outlierThreshold) {
        return new BertConfig(
                vocabSize,
                hiddenSize,
                numLayers,
                numHeads,
                intermediateSize,
                maxPositionEmbeddings,
                typeVocabSize,
                layerNormEps,
                modules,
                fractions,
                centres,
                bits,
                outlierThreshold,
                weightQuant);
    }

    /** The sparsifier of {@code g}'s input in {@code layer}: its top-K and the activation bits. */
    Sparsifier sparsifier(int layer, LayerTopK.Group g) {
        return new Sparsifier(
                topK.ratio(layer, g),
                activationBits,
                TopKRescale.NONE,
                0,
                0,
                Int8ScaleRule.EPS_ADDED,
                activationOutlierThreshold);
    }
}
