package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;

/**
 * One sequence run through a {@link DecoderModel} position after position, from 0: for tools,
 * benchmarks and tests that step a model directly (sessions schedule many sequences instead).
 */
public abstract class SingleSequence {

    /** On the model's reference path: the JVM's Java kernels, one thread ({@link DecoderModel#newState()}). */
    public static SingleSequence of(DecoderModel<?> model) {
        return start(model, null, null);
    }

    /** On {@code backends}, products shared with {@code pool}'s threads (null: one thread). */
    public static SingleSequence of(DecoderModel<?> model, Backends.Choice backends, WorkerPool pool) {
        return start(model, backends, pool);
    }

    private static <S extends ForwardState> SingleSequence start(
            DecoderModel<S> model, Backends.Choice backends, WorkerPool pool) {
        return new Of<>(model, backends == null ? model.newState() : model.newState(backends, pool));
    }

    private SingleSequence() {}

    /** The next position to run. */
    public abstract int position();

    /** The sequence's state (KV cache, statistics, workspace). */
    public abstract ForwardState state();

    /** Starts again at position 0: the positions run next overwrite the cache (benchmarks repeat a sequence). */
    public abstract void rewind();

    /** The final hidden state of the last position run (a live buffer, overwritten by the next step). */
    public abstract float[] hidden();

    /** Runs {@code token} at the next position; returns its final hidden state ({@link #hidden()}). */
    public abstract float[] step(int token);

    /**
     * Runs {@code tokens[offset .. offset + count)} at the next positions, in passes of the model's
     * pass size; {@code hiddenOut[i]} (when not null) receives the i-th one's final hidden state.
     */
    public abstract void steps(int[] tokens, int offset, int count, float[][] hiddenOut);

    /** Next-token logits from the last position's hidden state. */
    public abstract void logits(float[] out);

    /** Logits of {@code count} hidden states in one product, on this sequence's workspace. */
    public abstract void logits(float[][] hidden, int count, float[][] out);

    private static final class Of<S extends ForwardState> extends SingleSequence {
        private final DecoderModel<S> model;
        private final S state;
        private final Pass<S> pass;
        private final float[] last;
        private final float[][] one = new float[1][];
        private final float[][] oneOut = new float[1][];
        private int position;

        Of(DecoderModel<S> model, S state) {
            this.model = model;
            this.state = state;
            this.pass = new Pass<>(model.passSize());
            this.last = new float[model.config().hiddenSize()];
        }

        @Override
        public int position() {
            return position;
        }

        @Override
        public ForwardState state() {
            return state;
        }

        @Override
        public float[] hidden() {
            return last;
        }

        @Override
        public void rewind() {
            position = 0;
        }

        @Override
        public float[] step(int token) {
            pass.clear();
            pass.add(state, token, position++, last);
            model.forward(pass);
            return last;
        }

        @Override
        public void steps(int[] tokens, int offset, int count, float[][] hiddenOut) {
            for (int done = 0; done < count; ) {
                int n = Math.min(pass.capacity(), count - done);
                pass.clear();
                for (int i = 0; i < n; i++) {
                    boolean lastOfAll = done + i == count - 1;
                    float[] out = hiddenOut != null ? hiddenOut[done + i] : lastOfAll ? last : null;
                    pass.add(state, tokens[offset + done + i], position++, out);
                }
                model.forward(pass);
                done += n;
            }
            if (count > 0 && hiddenOut != null) {
                System.arraycopy(hiddenOut[count - 1], 0, last, 0, last.length);
            }
        }

        @Override
        public void logits(float[] out) {
            one[0] = last;
            oneOut[0] = out;
            model.logits(state, one, 1, oneOut);
        }

        @Override
        public void logits(float[][] hidden, int count, float[][] out) {
            model.logits(state, hidden, count, out);
        }
    }
}
