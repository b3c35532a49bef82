package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import java.util.ArrayList;
import java.util.List;

/**
 * The one packing loop: every pass takes up to the model's pass size of positions from the
 * sequences still running, whatever their task (prefill chunks and decode steps alike, each
 * sequence's positions in order), runs the network once over them, computes logits for the rows
 * that want them in one lm-head product, hands every row to its sequence, and retires the
 * finished ones. Each sequence gets an even share of a pass, and the sequence served first turns
 * round, so no sequence waits behind the others for long. Every product gives a row what it
 * gives that row alone, so a sequence's results do not depend on its companions.
 */
final class PassScheduler {

    private final DecoderModel network;
    private final int passSize;
    private final int vocab;
    /** The state whose workspace runs the lm-head products. */
    private final ForwardState lead;

    private final ForwardState[] owners;
    private final Sequence[] slotOf;
    private final int[] tokens;
    private final int[] positions;
    private final float[][] hidden;
    private final float[][] wanted;
    private final int[] logitsRow;
    private float[][] logits = new float[0][];
    private int turn;

    PassScheduler(DecoderModel network, ForwardState lead) {
        this.network = network;
        this.lead = lead;
        this.passSize = network.passSize();
        this.vocab = network.config().vocabSize();
        owners = new ForwardState[passSize];
        slotOf = new Sequence[passSize];
        tokens = new int[passSize];
        positions = new int[passSize];
        hidden = new float[passSize][network.config().hiddenSize()];
        wanted = new float[passSize][];
        logitsRow = new int[passSize];
    }

    /** Runs every sequence to its end. */
    void run(List<? extends Sequence> sequences) {
        List<Sequence> active = new ArrayList<>(sequences);
        active.removeIf(Sequence::finished);
        while (!active.isEmpty()) {
            int count = pack(active);
            network.forwardSlots(owners, tokens, positions, count, hidden);
            int m = 0;
            for (int i = 0; i < count; i++) {
                logitsRow[i] = slotOf[i].wantsLogits(positions[i]) ? m : -1;
                if (logitsRow[i] >= 0) {
                    wanted[m++] = hidden[i];
                }
            }
            if (m > 0) {
                network.logitsBatch(lead, wanted, m, logitRows(m));
            }
            for (int i = 0; i < count; i++) {
                slotOf[i].accept(positions[i], hidden[i], logitsRow[i] >= 0 ? logits[logitsRow[i]] : null);
                slotOf[i] = null;
                owners[i] = null;
            }
            active.removeIf(Sequence::finished);
        }
    }

    /** Fills the slots of one pass; returns how many. */
    private int pack(List<Sequence> active) {
        int quota = Math.max(1, passSize / active.size());
        int count = 0;
        int first = turn++ % active.size();
        for (int k = 0; k < active.size() && count < passSize; k++) {
            Sequence s = active.get((first + k) % active.size());
            int take = Math.min(quota, Math.min(s.ready(), passSize - count));
            for (int t = 0; t < take; t++) {
                owners[count] = s.state;
                slotOf[count] = s;
                tokens[count] = s.tokens[s.fed];
                positions[count] = s.fed++;
                count++;
            }
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
