package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.KernelBackend;
import dev.qsparse.runtime.kernel.KeyBlocks;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.kernel.Workspace;

/**
 * Per-sequence mutable state of a forward pass: the KV cache and scratch buffers. Owned by one
 * session and used by one thread at a time; never shared.
 */
public abstract class ForwardState {

    private long nonZeroActivations;
    private long totalActivations;
    private long weightBytesRead;
    private final Workspace workspace;
    /** Null unless a caller measures the feed-forward's sparsity (score --ffn-sparsity). */
    private FeedForwardSparsity feedForwardSparsity;

    /** Per layer, the keys of every cached position in {@link KeyBlocks} layout. */
    private final float[][] keyCache;

    /** Per layer, the values of every cached position, position-major with row stride {@link #kvStride}. */
    private final float[][] valueCache;

    final int kvStride;
    /** Attention-score scratch, one entry per cached position. */
    private float[] scores = new float[0];

    private int capacity;

    /** {@code backends} run every product of this state, on {@code pool}'s threads (null: the calling thread). */
    protected ForwardState(int layers, int kvStride, Backends.Choice backends, WorkerPool pool) {
        this.workspace = new Workspace(backends, pool);
        this.keyCache = new float[layers][0];
        this.valueCache = new float[layers][0];
        this.kvStride = kvStride;
    }

    /** Kernels, threads and accumulator scratch of this state's products. */
    public Workspace workspace() {
        return workspace;
    }

    void recordWeightBytes(long bytes) {
        weightBytesRead += bytes;
    }

    /** Bytes of projection weights the products read since the last reset (for bandwidth accounting). */
    public long weightBytesRead() {
        return weightBytesRead;
    }

    /** Make room in the KV cache for positions [0, positions); grows geometrically. */
    public void ensureCapacity(int positions) {
        if (positions <= capacity) {
            return;
        }
        for (int l = 0; l < keyCache.length; l++) {
            // Whole key blocks: a block is position-block major, so growing keeps every key's offset.
            keyCache[l] = grow(keyCache[l], positions, kvStride);
            valueCache[l] = grow(valueCache[l], positions, kvStride);
        }
        capacity = keyCache[0].length / kvStride;
        if (scores.length < capacity) {
            scores = new float[capacity];
        }
    }

    /** Layer {@code layer}'s key and value of position {@code pos} into the cache (room made by {@link #ensureCapacity}). */
    void storeKeyValue(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        KeyBlocks.store(keyCache[layer], pos, kvStride, k, kOff);
        System.arraycopy(v, vOff, valueCache[layer], pos * kvStride, kvStride);
    }

    /**
     * Layer {@code layer}'s keys and values of positions [first, first + count) into the cache,
     * position first + j's from {@code k[from + j]} and {@code v[from + j]} (each from offset 0;
     * room made by {@link #ensureCapacity}).
     */
    void storeKeyValues(int layer, int first, int count, float[][] k, float[][] v, int from) {
        KeyBlocks.storeRun(keyCache[layer], first, count, kvStride, k, from);
        for (int j = 0; j < count; j++) {
            System.arraycopy(v[from + j], 0, valueCache[layer], (first + j) * kvStride, kvStride);
        }
    }

    /**
     * One query head's causal attention over positions [0, length) of layer {@code layer}'s cache,
     * its key/value head at channels [channel, channel + headDim): out = softmax(q . k_t * scale) . v_t.
     */
    void attendHead(
            int layer,
            float[] q,
            int qOff,
            int channel,
            int headDim,
            int length,
            float scale,
            float[] out,
            int outOff) {
        attendHead(layer, q, qOff, channel, headDim, length, scale, out, outOff, scores);
    }

    /**
     * As above with the caller's score scratch ({@code scores}: at least {@link #capacity()} floats),
     * so that several positions of this sequence can attend at once on different threads: each
     * reads the cache (positions before its own, stored before any of them attends) and writes
     * only its own output and scores.
     */
    void attendHead(
            int layer,
            float[] q,
            int qOff,
            int channel,
            int headDim,
            int length,
            float scale,
            float[] out,
            int outOff,
            float[] scores) {
        KernelBackend k = workspace.backend();
        k.keyScores(q, qOff, keyCache[layer], channel, kvStride, length, headDim, scale, scores);
        k.softmax(scores, 0, length);
        k.weightedSum(scores, length, valueCache[layer], channel, kvStride, out, outOff, headDim);
    }

    /**
     * {@link #attendHead} for four queries of this sequence at once (the same head; query j over
     * positions [0, lengths[j])): each key and value is read once for the four, the results are
     * the same bits as four calls. lengths[3] is the largest.
     */
    void attendHead4(
            int layer,
            float[][] q,
            int qOff,
            int channel,
            int headDim,
            int[] lengths,
            float scale,
            float[][] out,
            int outOff,
            float[][] scores) {
        KernelBackend k = workspace.backend();
        k.keyScores4(q, qOff, keyCache[layer], channel, kvStride, lengths[3], headDim, scale, scores);
        for (int j = 0; j < 4; j++) {
            k.softmax(scores[j], 0, lengths[j]);
        }
        k.weightedSum4(scores, lengths, valueCache[layer], channel, kvStride, out, outOff, headDim);
    }

    /** Positions the KV cache can hold without growing. */
    public int capacity() {
        return capacity;
    }

    void recordActivations(long nonZero, long width) {
        nonZeroActivations += nonZero;
        totalActivations += width;
    }

    /** Fraction of zero entries in the inputs of linear projections since the last reset. */
    public double activationSparsity() {
        return totalActivations == 0 ? 0.0 : 1.0 - (double) nonZeroActivations / totalActivations;
    }

    /**
     * Counts h's zeros per layer into {@code recorder} on every position this state forwards from
     * now on (null stops it). Not cleared by {@link #resetSparsityStats}; architectures without a
     * qsparse feed-forward ignore it.
     */
    public void measureFeedForwardSparsity(FeedForwardSparsity recorder) {
        if (recorder != null && recorder.layers() != keyCache.length) {
            throw new IllegalArgumentException(
                    "recorder has " + recorder.layers() + " layers, the model " + keyCache.length);
        }
        this.feedForwardSparsity = recorder;
    }

    FeedForwardSparsity feedForwardSparsity() {
        return feedForwardSparsity;
    }

    public void resetSparsityStats() {
        nonZeroActivations = 0;
        totalActivations = 0;
        weightBytesRead = 0;
    }

    static float[] grow(float[] cache, int positions, int stride) {
        if ((long) positions * stride <= cache.length) {
            return cache;
        }
        int newPositions = KeyBlocks.roundUp(Math.max(positions, Math.max(16, cache.length / Math.max(1, stride) * 2)));
        return java.util.Arrays.copyOf(cache, newPositions * stride);
    }
}
