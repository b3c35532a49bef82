package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.model.ForwardState;

/** Raw ids (nothing added) whose every hidden row, or every logits row, is kept: for tests, tools and the CLI. */
final class RowsSequence extends Sequence {

    private final boolean logits;
    final float[][] rows;

    RowsSequence(ForwardState state, int[] tokens, boolean logits) {
        super(0, state, tokens, tokens.length);
        this.logits = logits;
        this.rows = new float[tokens.length][];
    }

    @Override
    boolean wantsLogits(int pos) {
        return logits;
    }

    @Override
    void accept(int pos, float[] hidden, float[] logitsRow) {
        rows[pos] = (logits ? logitsRow : hidden).clone();
    }

    @Override
    InferenceResult result(long startNanos) {
        throw new UnsupportedOperationException("raw rows have no request result");
    }
}
