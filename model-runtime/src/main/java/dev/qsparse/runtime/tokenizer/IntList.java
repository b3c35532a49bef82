package dev.qsparse.runtime.tokenizer;

import java.util.Arrays;

/** A growable list of ints (token ids) without boxing. */
final class IntList {
    private int[] data;
    private int size;

    IntList(int capacity) {
        data = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (size == data.length) {
            data = Arrays.copyOf(data, data.length * 2);
        }
        data[size++] = v;
    }

    int size() {
        return size;
    }

    /** Drops everything from {@code newSize} on. */
    void truncate(int newSize) {
        size = Math.min(size, newSize);
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
