package dev.qsparse.runtime.model;

/**
 * How the rotary frequencies are derived from {@code rope_theta}: Hugging Face's {@code
 * rope_scaling} (or, in transformers 5, {@code rope_parameters}) types {@code default}, {@code
 * linear} and {@code llama3}. Any other type is refused when config.json is read.
 *
 * @param type which rule
 * @param factor the scaling factor (1 for {@link Type#DEFAULT})
 * @param lowFreqFactor llama3 only: wavelengths above {@code originalContext / lowFreqFactor} are divided by factor
 * @param highFreqFactor llama3 only: wavelengths below {@code originalContext / highFreqFactor} are kept
 * @param originalContext llama3 only: {@code original_max_position_embeddings}
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {

    public enum Type {
        DEFAULT,
        LINEAR,
        LLAMA3
    }

    /** Plain RoPE: the frequencies as {@code rope_theta} gives them. */
    public static final RopeScaling NONE = new RopeScaling(Type.DEFAULT, 1, 0, 0, 0);

    public static RopeScaling linear(double factor) {
        return new RopeScaling(Type.LINEAR, factor, 0, 0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {
        return new RopeScaling(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalContext);
    }

    public RopeScaling {
        if (type == null || !(factor >= 1) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("rope scaling factor must be a finite number >= 1, got " + factor);
        }
        if (type == Type.LLAMA3
                && !(lowFreqFactor > 0
                        && highFreqFactor > lowFreqFactor
                        && Double.isFinite(highFreqFactor)
                        && originalContext > 0)) {
            throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and"
                    + " original_max_position_embeddings > 0");
        }
    }

    /**
     * The inverse frequencies of one head of {@code headDim}: {@code 1 / theta^(2i / headDim)} as
     * torch computes it in float32, then rescaled by this rule.
     */
    public float[] inverseFrequencies(int headDim, double theta) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / headDim;
            inv[i] = scale(1f / (float) Math.pow(theta, exponent));
        }
        return inv;
    }

    private float scale(float inv) {
        return switch (type) {
            case DEFAULT -> inv;
            case LINEAR -> (float) (inv / factor);
            case LLAMA3 -> llama3(inv);
        };
    }

    /**
     * Llama 3.1's rule: long wavelengths (past the original context / low_freq_factor) are slowed by
     * {@code factor}, short ones (below original context / high_freq_factor) kept, and the band
     * between interpolated linearly in {@code originalContext / wavelength}.
     */
    private float llama3(float inv) {
        double wavelength = 2 * Math.PI / inv;
        double lowFreqWavelength = originalContext / lowFreqFactor;
        double highFreqWavelength = originalContext / highFreqFactor;
        if (wavelength > lowFreqWavelength) {
            return (float) (inv / factor);
        }
        if (wavelength < highFreqWavelength) {
            return inv;
        }
        double smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (float) ((1 - smooth) * inv / factor + smooth * inv);
    }
}
