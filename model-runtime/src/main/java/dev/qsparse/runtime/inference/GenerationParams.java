package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.tokenizer.PromptTemplate;
import java.util.List;

/**
 * Decoding settings of one generate request.
 *
 * @param maxNewTokens tokens to generate at most (>= 1)
 * @param temperature  0 for greedy decoding, otherwise the softmax temperature in
 *                     [{@value #MIN_TEMPERATURE}, {@value #MAX_TEMPERATURE}]. <b>Floor:</b> a
 *                     temperature in (0, {@value #MIN_TEMPERATURE}) is <em>rejected</em>
 *                     ({@link IllegalArgumentException}), not silently rounded: logits divided by
 *                     such a temperature overflow float (1e-300 gives infinities and a NaN
 *                     distribution), and a caller who wants the most likely token asks for 0
 *                     (greedy). Non-finite values are rejected too
 * @param topK         sample only among the K most likely tokens; 0 = no limit
 * @param topP         nucleus sampling mass in (0, 1]; 1 = no limit
 * @param seed         random seed: the same seed, prompt and model always give the same text, so
 *                     a replayed stream event produces an identical result
 * @param stopStrings  generation ends when the generated text contains one of these; it is cut
 *                     before the stop string
 * @param stopAtEos    end at the model's end-of-sequence token (and at the template's stop tokens)
 * @param promptTemplate chat-style prompt around the text, or null for the bare text: its special
 *                     tokens become control ids while the text stays literal (see {@link PromptTemplate})
 */
public record GenerationParams(
        int maxNewTokens,
        double temperature,
        int topK,
        double topP,
        long seed,
        List<String> stopStrings,
        boolean stopAtEos,
        PromptTemplate promptTemplate) {

    public static final int DEFAULT_MAX_NEW_TOKENS = 32;
    public static final long DEFAULT_SEED = 42L;
    /** Smallest non-zero temperature accepted; below it, use 0 (greedy). */
    public static final double MIN_TEMPERATURE = 1e-4;
    /** Largest temperature accepted. */
    public static final double MAX_TEMPERATURE = 10.0;

    public GenerationParams {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be >= 1, got " + maxNewTokens);
        }
        if (!validTemperature(temperature)) {
            throw new IllegalArgumentException("temperature must be 0 (greedy) or in [" + MIN_TEMPERATURE + ", "
                    + MAX_TEMPERATURE + "], got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** Settings without a prompt template: the text is the whole prompt. */
    public GenerationParams(
            int maxNewTokens,
            double temperature,
            int topK,
            double topP,
            long seed,
            List<String> stopStrings,
            boolean stopAtEos) {
        this(maxNewTokens, temperature, topK, topP, seed, stopStrings, stopAtEos, null);
    }

    /** Whether {@code t} is an accepted temperature: 0, or in [{@value #MIN_TEMPERATURE}, {@value #MAX_TEMPERATURE}]. */
    public static boolean validTemperature(double t) {
        return t == 0 || (t >= MIN_TEMPERATURE && t <= MAX_TEMPERATURE);
    }

    /** Greedy decoding of up to 32 tokens, stopping at EOS. */
    public static GenerationParams defaults() {
        return new GenerationParams(DEFAULT_MAX_NEW_TOKENS, 0.0, 0, 1.0, DEFAULT_SEED, List.of(), true);
    }

    public GenerationParams withMaxNewTokens(int n) {
        return new GenerationParams(n, temperature, topK, topP, seed, stopStrings, stopAtEos, promptTemplate);
    }

    public GenerationParams withTemperature(double t) {
        return new GenerationParams(maxNewTokens, t, topK, topP, seed, stopStrings, stopAtEos, promptTemplate);
    }

    public GenerationParams withTopK(int k) {
        return new GenerationParams(maxNewTokens, temperature, k, topP, seed, stopStrings, stopAtEos, promptTemplate);
    }

    public GenerationParams withTopP(double p) {
        return new GenerationParams(maxNewTokens, temperature, topK, p, seed, stopStrings, stopAtEos, promptTemplate);
    }

    public GenerationParams withSeed(long s) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, s, stopStrings, stopAtEos, promptTemplate);
    }

    public GenerationParams withStopStrings(List<String> stops) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, seed, stops, stopAtEos, promptTemplate);
    }

    public GenerationParams withStopAtEos(boolean stop) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, seed, stopStrings, stop, promptTemplate);
    }

    public GenerationParams withPromptTemplate(PromptTemplate template) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, seed, stopStrings, stopAtEos, template);
    }
}
