package dev.qsparse.runtime.tokenizer;

import java.util.Arrays;

/** Open-addressing map from a pair of token ids to (merge rank, merged id). Immutable once built. */
final class MergeTable {
    private final long[] keys;
    private final int[] ranks; // -1 = empty slot
    private final int[] merged;
    private final int mask;
    private final int size;

    private MergeTable(int capacity) {
        keys = new long[capacity];
        ranks = new int[capacity];
        merged = new int[capacity];
        Arrays.fill(ranks, -1);
        mask = capacity - 1;
        size = 0;
    }

    private MergeTable(long[] keys, int[] ranks, int[] merged, int size) {
        this.keys = keys;
        this.ranks = ranks;
        this.merged = merged;
        this.mask = keys.length - 1;
        this.size = size;
    }

    /** Builds the table; {@code left[r], right[r] -> result[r]} has rank {@code r}. The first of duplicate pairs wins. */
    static MergeTable build(int[] left, int[] right, int[] result) {
        int n = left.length;
        int capacity = Integer.highestOneBit(Math.max(4, n * 2 + 1)) << 1;
        MergeTable t = new MergeTable(capacity);
        int size = 0;
        for (int r = 0; r < n; r++) {
            long key = key(left[r], right[r]);
            int slot = t.slotOf(key);
            if (t.ranks[slot] < 0) {
                t.keys[slot] = key;
                t.ranks[slot] = r;
                t.merged[slot] = result[r];
                size++;
            }
        }
        return new MergeTable(t.keys, t.ranks, t.merged, size);
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private int slotOf(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        int slot = (int) (h ^ (h >>> 29)) & mask;
        while (ranks[slot] >= 0 && keys[slot] != key) {
            slot = (slot + 1) & mask;
        }
        return slot;
    }

    /** The slot of pair (a, b), or -1 when there is no such merge. */
    int find(int a, int b) {
        int slot = slotOf(key(a, b));
        return ranks[slot] >= 0 ? slot : -1;
    }

    int rankAt(int slot) {
        return ranks[slot];
    }

    int mergedAt(int slot) {
        return merged[slot];
    }

    int size() {
        return size;
    }
}
