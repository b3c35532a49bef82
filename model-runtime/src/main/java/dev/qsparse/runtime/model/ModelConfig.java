package dev.qsparse.runtime.model;

import java.util.OptionalInt;

/** What every architecture's config tells the inference layer. */
public sealed interface ModelConfig permits QSparseConfig, SeedConfig, BertConfig {

    String modelType();

    int vocabSize();

    /** Width of the hidden states that embeddings are pooled from. */
    int hiddenSize();

    int numLayers();

    /** Longest sequence the KV cache is sized for (prompt plus generated tokens). */
    int contextLength();

    OptionalInt bosTokenId();

    OptionalInt eosTokenId();
}
