package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.Pass;
import java.util.ArrayList;
import java.util.List;

/**
 * The one packing loop: every pass takes up to the model's pass size of positions from the
 * sequences still running, whatever their task (prefill chunks and decode steps alike, each
 * sequence's positions in order), runs the network once over them, computes logits for the rows
 * that want them in one lm-head product, hands every row to its sequence, and retires the
 * finished ones. Decode steps go first, so a long prompt never holds a generation back; prompt
 * chunks fill the rest of each pass, the sequence served first turning round. Every product gives a row what it
 * gives that row alone, so a sequence's results do not depend on its companions.
 *
 * <p>The scheduler owns the sequence states: the i-th sequence of a micro-batch runs on
 * {@link #state(int) state(i)} (made on first use, kept for the next micro-batches).
 *
 * @param <S> the model's state type
 */
final class PassScheduler<S extends ForwardState> {

    private final DecoderModel<S> network;
    private final Backends.Choice backends;
    private final WorkerPool pool;
    private final List<S> states = new ArrayList<>();
    private final int passSize;
    /** An encoder's sequences go whole into a pass (see {@link DecoderModel#bidirectional()}). */
    private final boolean whole;

    private final int vocab;

    private final Pass<S> pass;
    private final Sequence[] slotOf;
    private final float[][] hidden;
    private final float[][] wanted;
    private final int[] logitsRow;
    private float[][] logits = new float[0][];
    private int turn;

    PassScheduler(DecoderModel<S> network, Backends.Choice backends, WorkerPool pool) {
        this.network = network;
        this.backends = backends;
        this.pool = pool;
        this.passSize = network.passSize();
        this.whole = network.bidirectional();
        this.vocab = network.config().vocabSize();
        // A whole sequence longer than the budget still fits one pass.
        int capacity = whole ? Math.max(passSize, network.config().contextLength()) : passSize;
        pass = new Pass<>(capacity);
        slotOf = new Sequence[capacity];
        hidden = new float[capacity][network.config().hiddenSize()];
        wanted = new float[capacity][];
        logitsRow = new int[capacity];
    }

    /** The state of the i-th sequence of a micro-batch, made on first use (state(0) also runs the lm-head products). */
    S state(int i) {
        while (states.size() <= i) {
            states.add(network.newState(backends, pool));
        }
        return states.get(i);
    }

    /** Runs every sequence to its end. */
    void run(List<? extends Sequence> sequences) {
        List<Sequence> active = new ArrayList<>(sequences);
        active.removeIf(Sequence::finished);
        while (!active.isEmpty()) {
            int count = pack(active);
            network.forward(pass);
            int m = 0;
            for (int i = 0; i < count; i++) {
                logitsRow[i] = slotOf[i].wantsLogits(pass.position(i)) ? m : -1;
                if (logitsRow[i] >= 0) {
                    wanted[m++] = hidden[i];
                }
            }
            if (m > 0) {
                network.logits(state(0), wanted, m, logitRows(m));
            }
            for (int i = 0; i < count; i++) {
                slotOf[i].accept(pass.position(i), hidden[i], logitsRow[i] >= 0 ? logits[logitsRow[i]] : null);
                slotOf[i] = null;
            }
            pass.clear();
            active.removeIf(Sequence::finished);
        }
    }

    /**
     * Fills the slots of one pass; returns how many. Decode steps first (every sequence with one
     * position ready gets it, each pass), then prompt chunks (generations' first), each as long as
     * the pass has room, the sequence served first turning round: passes run full, and a prompt's positions stay
     * consecutive (four of one sequence attend together).
     */
    private int pack(List<Sequence> active) {
        if (whole) {
            return packWhole(active);
        }
        int n = active.size();
        int first = turn++ % n;
        int count = 0;
        for (int k = 0; k < n && count < passSize; k++) {
            Sequence s = active.get((first + k) % n);
            if (s.ready() == 1) {
                count = add(s, 1, count);
            }
        }
        // Generations' prompts before the rest: they then start decoding together, and every decode
        // step's lm-head product serves all of them at once.
        for (boolean generations : new boolean[] {true, false}) {
            for (int k = 0; k < n && count < passSize; k++) {
                Sequence s = active.get((first + k) % n);
                if (s.ready() > 1 && s.decodes() == generations) {
                    count = add(s, Math.min(s.ready(), passSize - count), count);
                }
            }
        }
        return count;
    }

    /**
     * An encoder's pass: whole sequences while they fit the token budget, the sequence served first
     * turning round; one longer than the budget goes alone.
     */
    private int packWhole(List<Sequence> active) {
        int n = active.size();
        int first = turn++ % n;
        int count = 0;
        for (int k = 0; k < n && count < passSize; k++) {
            Sequence s = active.get((first + k) % n);
            if (count == 0 || s.ready() <= passSize - count) {
                count = add(s, s.ready(), count);
            }
        }
        return count;
    }

    /** Adds {@code take} positions of {@code s} from slot {@code count}; returns the new count. */
    private int add(Sequence s, int take, int count) {
        S state = state(s.slot);
        for (int t = 0; t < take; t++) {
            pass.add(state, s.tokens[s.fed], s.fed, hidden[count]);
            slotOf[count++] = s;
            s.fed++;
        }
        return count;
    }

    private float[][] logitRows(int m) {
        if (logits.length < m) {
            float[][] grown = java.util.Arrays.copyOf(logits, m);
            for (int i = logits.length; i < m; i++) {
                grown[i] = new float[vocab];
            }
            logits = grown;
        }
        return logits;
    }
}
