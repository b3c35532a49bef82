package dev.qsparse.runtime.model;

import java.util.OptionalInt;

/** Constructor arguments of the original PyTorch {@code QSparseModel} ({@code qsparse_seed}). */
public record SeedConfig(
        int vocabSize,
        int dModel,
        int nhead,
        int numLayers,
        int dimFeedforward,
        double kRatio,
        boolean quantized,
        int contextLength,
        OptionalInt bosTokenId,
        OptionalInt eosTokenId)
        implements ModelConfig {

    public SeedConfig {
        if (vocabSize <= 0 || dModel <= 0 || nhead <= 0 || numLayers <= 0 || dimFeedforward <= 0) {
            throw new IllegalArgumentException(
                    "vocab_size, d_model, nhead, num_layers, dim_feedforward must be positive");
        }
        if (dModel % nhead != 0) {
            throw new IllegalArgumentException("d_model " + dModel + " is not divisible by nhead " + nhead);
        }
        if (!(kRatio > 0 && kRatio <= 1)) {
            throw new IllegalArgumentException("k_ratio must be in (0, 1], got " + kRatio);
        }
    }

    @Override
    public String modelType() {
        return "qsparse_seed";
    }

    @Override
    public int hiddenSize() {
        return dModel;
    }

    /** K = int(k_ratio * d_model), as the seed computes it. */
    public int keptCount() {
        return Math.max(1, Math.min(dModel, (int) (kRatio * dModel)));
    }
}
