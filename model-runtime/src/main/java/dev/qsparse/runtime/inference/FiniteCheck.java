package dev.qsparse.runtime.inference;

import java.util.function.Supplier;

/**
 * Non-finite numbers never leave the runtime as results. A model whose weights hold NaN or
 * infinity (a corrupt or badly converted checkpoint), or whose activations overflow, produces
 * NaN/Inf logits and hidden states; without this check they would come out as {@code NaN}
 * embeddings and scores, and a greedy generation over all-NaN logits would pick token 0 (often
 * EOS) and report an empty text with finish reason {@code eos}.
 *
 * <ul>
 *   <li>{@link #result} turns an embedding with a non-finite component, or a score whose log
 *       probability, mean or perplexity is not finite, into an {@link InferenceResult.Failure}
 *       saying which number and why;
 *   <li>{@link #requireFinite} (used by the sampler on every step's logits) throws
 *       {@link NonFiniteException}, which {@link #guard} turns into a failure of that request.
 * </ul>
 * Each check is one pass over a vector the step already produced (vocabulary or hidden size),
 * small next to the matrix products that made it.
 */
public final class FiniteCheck {

    private FiniteCheck() {}

    /** A forward pass produced NaN or infinity where a result needs a finite number. */
    public static final class NonFiniteException extends ArithmeticException {
        private static final long serialVersionUID = 1L;

        NonFiniteException(String message) {
            super(message);
        }
    }

    /** Index of the first NaN or infinite value among {@code v[0..n)}, or -1 when all are finite. */
    public static int firstNonFinite(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(v[i])) {
                return i;
            }
        }
        return -1;
    }

    /** Throws {@link NonFiniteException} naming {@code what} when {@code v[0..n)} holds NaN or infinity. */
    static void requireFinite(float[] v, int n, String what) {
        int i = firstNonFinite(v, n);
        if (i >= 0) {
            throw new NonFiniteException("the model produced a non-finite number (" + v[i] + ") in " + what
                    + " at index " + i + "; its weights may hold NaN or infinity");
        }
    }

    /** {@code r}, or a {@link InferenceResult.Failure} (same stats) when it carries a non-finite number. */
    static InferenceResult result(InferenceResult r) {
        if (r instanceof InferenceResult.Embedding e) {
            int i = firstNonFinite(e.vector(), e.vector().length);
            if (i >= 0) {
                return new InferenceResult.Failure(
                        "the model produced a non-finite embedding (" + e.vector()[i] + " at dimension " + i
                                + "); its weights may hold NaN or infinity",
                        e.stats());
            }
        } else if (r instanceof InferenceResult.Score s) {
            if (!Double.isFinite(s.logprob()) || !Double.isFinite(s.meanLogprob())) {
                return new InferenceResult.Failure(
                        "the model produced a non-finite score (logprob " + s.logprob()
                                + "); its weights may hold NaN or infinity",
                        s.stats());
            }
            if (!Double.isFinite(s.perplexity())) {
                return new InferenceResult.Failure(
                        "the perplexity overflows (mean logprob " + s.meanLogprob() + " gives exp(" + (-s.meanLogprob())
                                + ") = " + s.perplexity() + ")",
                        s.stats());
            }
        }
        return r;
    }

    /**
     * Runs one request: its result checked by {@link #result}, or, when the forward pass hit a
     * non-finite number on the way ({@link NonFiniteException}), a failure with that reason.
     */
    static InferenceResult guard(
            Supplier<InferenceResult> request, int inputTokens, Supplier<Double> sparsity, long startNanos) {
        try {
            return result(request.get());
        } catch (NonFiniteException e) {
            return new InferenceResult.Failure(
                    e.getMessage(),
                    new InferenceResult.Stats(inputTokens, false, sparsity.get(), System.nanoTime() - startNanos));
        }
    }
}
