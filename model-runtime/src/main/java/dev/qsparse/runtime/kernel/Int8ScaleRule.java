package dev.qsparse.runtime.kernel;

/**
 * How the per-token int8 activation scale guards against an all-zero vector. The two rules give
 * different scales for every vector (not only tiny ones), so rounding decisions differ: a
 * checkpoint must be run with the rule it was trained with.
 */
public enum Int8ScaleRule {
    /** Q-Sparse (this project's training): {@code s = 127 / (max|x| + 1e-5)}. */
    EPS_ADDED,
    /** Hugging Face transformers' BitNet: {@code s = 127 / max(max|x|, 1e-5)}. */
    EPS_FLOOR;

    /** The scale for a vector whose largest magnitude is {@code absMax}. */
    public float scale(float absMax) {
        return this == EPS_ADDED
                ? 127f / (absMax + Sparsifier.QUANT_EPS)
                : 127f / Math.max(absMax, Sparsifier.QUANT_EPS);
    }
}
