package dev.qsparse.runtime.model;

import java.util.ArrayList;
import java.util.List;

/**
 * One forward pass of a {@link DecoderModel}: up to its {@link DecoderModel#passSize()} slots,
 * slot i being token {@code token(i)} at position {@code position(i)} of the sequence whose state is
 * {@code state(i)}. Slots of one sequence come in position order, each continuing where the state
 * left off; slots of different sequences mix freely. The products of all slots share one pass over
 * the weights, run on the first slot's workspace. A reusable buffer: {@link #clear()} and fill again.
 *
 * @param <S> the model's state type
 */
public final class Pass<S extends ForwardState> {

    private final int capacity;
    private final List<S> states;
    private final int[] tokens;
    private final int[] positions;
    private final float[][] hidden;
    private int size;

    public Pass(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("a pass holds at least one slot, got " + capacity);
        }
        this.capacity = capacity;
        this.states = new ArrayList<>(capacity);
        this.tokens = new int[capacity];
        this.positions = new int[capacity];
        this.hidden = new float[capacity][];
    }

    /**
     * Adds a slot. {@code hiddenOut} receives the slot's final hidden state (hidden size floats), or
     * is null when nobody reads it.
     */
    public void add(S state, int token, int position, float[] hiddenOut) {
        if (size == capacity) {
            throw new IllegalStateException("the pass is full (" + capacity + " slots)");
        }
        states.add(state);
        tokens[size] = token;
        positions[size] = position;
        hidden[size] = hiddenOut;
        size++;
    }

    public void clear() {
        states.clear();
        java.util.Arrays.fill(hidden, 0, size, null);
        size = 0;
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return capacity;
    }

    public S state(int slot) {
        return states.get(slot);
    }

    public int token(int slot) {
        return tokens[slot];
    }

    public int position(int slot) {
        return positions[slot];
    }

    /** Where slot i's final hidden state goes, or null. */
    public float[] hiddenOut(int slot) {
        return hidden[slot];
    }
}
