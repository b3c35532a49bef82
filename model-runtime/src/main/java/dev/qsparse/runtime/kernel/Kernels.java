package dev.qsparse.runtime.kernel;

/**
 * Scalar kernels of the forward pass: short loops that read like the math. They are the
 * reference every faster kernel is tested against.
 */
public final class Kernels {

    private Kernels() {}

    /** out = x / sqrt(mean(x^2) + eps) * weight. {@code out} may be {@code x}. */
    public static void rmsNorm(float[] out, float[] x, float[] weight, float eps, int n) {
        float sumSq = 0f;
        for (int i = 0; i < n; i++) {
            sumSq += x[i] * x[i];
        }
        float inv = (float) (1.0 / Math.sqrt(sumSq / n + eps));
        for (int i = 0; i < n; i++) {
            out[i] = x[i] * inv * weight[i];
        }
    }

    /** {@link #rmsNorm} in place on x[off, off + n) (one attention head), the same operations. */
    public static void rmsNorm(float[] x, int off, float[] weight, float eps, int n) {
        float sumSq = 0f;
        for (int i = 0; i < n; i++) {
            sumSq += x[off + i] * x[off + i];
        }
        float inv = (float) (1.0 / Math.sqrt(sumSq / n + eps));
        for (int i = 0; i < n; i++) {
            x[off + i] = x[off + i] * inv * weight[i];
        }
    }

    /** out = (x - mean) / sqrt(var + eps) * weight + bias, biased variance as torch uses. */
    public static void layerNorm(float[] out, float[] x, float[] weight, float[] bias, float eps, int n) {
        float mean = 0f;
        for (int i = 0; i < n; i++) {
            mean += x[i];
        }
        mean /= n;
        float var = 0f;
        for (int i = 0; i < n; i++) {
            float d = x[i] - mean;
            var += d * d;
        }
        var /= n;
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        for (int i = 0; i < n; i++) {
            out[i] = (x[i] - mean) * inv * weight[i] + bias[i];
        }
    }

    /** In-place softmax over x[off .. off+len). */
    public static void softmax(float[] x, int off, int len) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = off; i < off + len; i++) {
            max = Math.max(max, x[i]);
        }
        float sum = 0f;
        for (int i = off; i < off + len; i++) {
            float e = (float) Math.exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = off; i < off + len; i++) {
            x[i] *= inv;
        }
    }

    /** log(sum(exp(x))) over x[0..n), stable. */
    public static double logSumExp(float[] x, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[i] - max);
        }
        return max + Math.log(sum);
    }

    /**
     * Rotary embedding of one head in the rotate-half convention: the pairs are (i, i + hd/2).
     * {@code cos}/{@code sin} hold hd/2 values for this position.
     */
    public static void ropeRotateHalf(float[] v, int off, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float a = v[off + i];
            float b = v[off + i + half];
            v[off + i] = a * cos[i] - b * sin[i];
            v[off + i + half] = b * cos[i] + a * sin[i];
        }
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * Causal attention of one query head over {@code length} cached positions:
     * out = softmax(q·k_t * scale) · v_t. Keys are in {@link KeyBlocks} layout and values
     * position-major, both with {@code stride} channels per position; this head's channels start at
     * {@code kvOff}. The plain-math reference of the model's attention.
     */
    public static void attendHead(
            float[] q,
            int qOff,
            float[] keys,
            float[] values,
            int kvOff,
            int stride,
            int headDim,
            int length,
            float scale,
            float[] scores,
            float[] out,
            int outOff) {
        for (int t = 0; t < length; t++) {
            float sum = 0f;
            for (int i = 0; i < headDim; i++) {
                sum += q[qOff + i] * keys[KeyBlocks.index(t, kvOff + i, stride)];
            }
            scores[t] = sum * scale;
        }
        softmax(scores, 0, length);
        for (int i = 0; i < headDim; i++) {
            out[outOff + i] = 0f;
        }
        for (int t = 0; t < length; t++) {
            float p = scores[t];
            int base = t * stride + kvOff;
            for (int i = 0; i < headDim; i++) {
                out[outOff + i] += p * values[base + i];
            }
        }
    }

    public static int argmax(float[] x, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    public static void add(float[] acc, float[] x, int n) {
        for (int i = 0; i < n; i++) {
            acc[i] += x[i];
        }
    }

    public static void addBias(float[] out, float[] bias) {
        if (bias != null) {
            for (int i = 0; i < bias.length; i++) {
                out[i] += bias[i];
            }
        }
    }
}
