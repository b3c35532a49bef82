package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.kernel.Kernels;
import java.util.SplittableRandom;

/** Picks the next token from logits: greedy, or temperature with optional top-k and top-p. */
final class Sampler {

    private final GenerationParams params;
    private final SplittableRandom random;
    private final Integer[] order;
    private final float[] probs;

    Sampler(GenerationParams params, int vocabSize) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
        this.order = params.temperature() > 0 ? new Integer[vocabSize] : null;
        this.probs = params.temperature() > 0 ? new float[vocabSize] : null;
    }

    /** The next token; {@link FiniteCheck.NonFiniteException} when the logits (or logits / T) are not finite. */
    int next(float[] logits, int vocabSize) {
        FiniteCheck.requireFinite(logits, vocabSize, "the logits");
        if (params.temperature() <= 0) {
            return Kernels.argmax(logits, vocabSize);
        }
        float invT = (float) (1.0 / params.temperature());
        for (int i = 0; i < vocabSize; i++) {
            probs[i] = logits[i] * invT;
        }
        Kernels.softmax(probs, 0, vocabSize);
        FiniteCheck.requireFinite(probs, vocabSize, "the sampling distribution (logits / temperature overflow)");
        if (params.topK() == 0 && params.topP() >= 1.0) {
            return sampleFrom(vocabSize);
        }
        for (int i = 0; i < vocabSize; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, 0, vocabSize, (a, b) -> Float.compare(probs[b], probs[a]));
        int keep = params.topK() > 0 ? Math.min(params.topK(), vocabSize) : vocabSize;
        double mass = 0;
        int cut = 0;
        while (cut < keep) {
            mass += probs[order[cut]];
            cut++;
            if (mass >= params.topP()) {
                break;
            }
        }
        double u = random.nextDouble() * mass;
        double acc = 0;
        for (int i = 0; i < cut; i++) {
            acc += probs[order[i]];
            if (u < acc) {
                return order[i];
            }
        }
        return order[cut - 1];
    }

    private int sampleFrom(int vocabSize) {
        double u = random.nextDouble();
        double acc = 0;
        for (int i = 0; i < vocabSize; i++) {
            acc += probs[i];
            if (u < acc) {
                return i;
            }
        }
        return Kernels.argmax(probs, vocabSize);
    }
}
