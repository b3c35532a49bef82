package dev.qsparse.runtime.inference;

/**
 * The outcome of one request. Every variant carries the statistics the operator reports: how
 * many input tokens were used, whether the input was cut to fit the context, the achieved
 * activation sparsity (fraction of zero inputs over all linear projections) and the time spent.
 */
public sealed interface InferenceResult {

    Stats stats();

    /** Common statistics of a request. */
    record Stats(int inputTokens, boolean inputTruncated, double activationSparsity, long nanos) {}

    /**
     * Generated continuation.
     *
     * @param finishReason "eos", "stop" (a stop string), "length" (max new tokens) or "context" (the
     *                     context window is full)
     */
    record Generation(String text, int[] tokens, String finishReason, Stats stats) implements InferenceResult {}

    /** L2-normalised pooled hidden state. */
    record Embedding(float[] vector, Pooling pooling, Stats stats) implements InferenceResult {}

    /**
     * Log-likelihood of the text under the model.
     *
     * @param logprob      natural-log probability summed over the scored tokens
     * @param meanLogprob  {@code logprob / scoredTokens}
     * @param perplexity   {@code exp(-meanLogprob)}
     * @param scoredTokens tokens whose probability was taken (all tokens after a BOS, or all but
     *                     the first when the model has no BOS)
     */
    record Score(double logprob, double meanLogprob, double perplexity, int scoredTokens, Stats stats)
            implements InferenceResult {}

    /** The request could not be served (empty text, nothing to score, ...); the reason says why. */
    record Failure(String reason, Stats stats) implements InferenceResult {}
}
