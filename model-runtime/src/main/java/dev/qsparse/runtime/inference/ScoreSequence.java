package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.model.ForwardState;

/** A score request: the log-probability of every token after the first, given those before it. */
final class ScoreSequence extends Sequence {

    private final int length;
    private final boolean truncated;
    private double logprob;

    /** Scores {@code tokens[1 .. n)}: positions {@code 0 .. n-2} are fed, each predicting the next. */
    ScoreSequence(int slot, ForwardState state, int[] tokens, int n, boolean truncated) {
        super(slot, state, tokens, n - 1);
        this.length = n;
        this.truncated = truncated;
    }

    @Override
    boolean wantsLogits(int pos) {
        return true;
    }

    @Override
    void accept(int pos, float[] hidden, float[] logits) {
        logprob += logits[tokens[pos + 1]] - Kernels.logSumExp(logits, logits.length);
    }

    @Override
    InferenceResult result(long startNanos) {
        int scored = length - 1;
        double mean = logprob / scored;
        return new InferenceResult.Score(logprob, mean, Math.exp(-mean), scored, stats(length, truncated, startNanos));
    }
}
