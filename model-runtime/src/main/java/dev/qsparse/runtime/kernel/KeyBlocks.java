package dev.qsparse.runtime.kernel;

/**
 * The attention key cache's layout: positions in blocks of {@link #POSITIONS}, each block
 * channel-major, so that the keys of one block's positions for one channel are contiguous. A
 * query's scores then run with the positions across vector lanes: per channel one broadcast of the
 * query and one fused multiply-add per block, no horizontal sum per position (which is what a
 * position-major dot product pays).
 *
 * <p>Key (position p, channel c) of a cache with {@code kvStride} channels per position is at
 * {@link #index}. A cache holds a whole number of blocks.
 */
public final class KeyBlocks {

    /** Positions per block: one 512-bit vector of floats. */
    public static final int POSITIONS = 16;

    private KeyBlocks() {}

    /** Offset of key (position, channel) in a cache of {@code kvStride} channels per position. */
    public static int index(int position, int channel, int kvStride) {
        return (position / POSITIONS) * POSITIONS * kvStride + channel * POSITIONS + position % POSITIONS;
    }

    /** Positions rounded up to whole blocks. */
    public static int roundUp(int positions) {
        return (positions + POSITIONS - 1) / POSITIONS * POSITIONS;
    }

    /** Stores one position's {@code kvStride} keys from {@code src[srcOff..]}. */
    public static void store(float[] cache, int position, int kvStride, float[] src, int srcOff) {
        int base = index(position, 0, kvStride);
        for (int c = 0; c < kvStride; c++) {
            cache[base + c * POSITIONS] = src[srcOff + c];
        }
    }
}
