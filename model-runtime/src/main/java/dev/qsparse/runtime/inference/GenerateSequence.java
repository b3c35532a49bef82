package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * A generate request: its prompt is fed, then each sampled token is fed in turn until a stop rule
 * ends it (end of sequence or a template's stop token, a stop string, the token budget, the
 * context). Its logits are asked for at the last fed position only.
 */
final class GenerateSequence extends Sequence {

    private final GenerationParams params;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final int[] stopTokens;
    private final int eos;
    private final int context;
    private final int promptLength;
    private final boolean truncated;
    private final int maxNew;
    private int count;
    private boolean done;
    private String finish = "length";
    private String text = "";
    private String failure;

    /**
     * @param prompt the prompt, already cut to fit {@code context - maxNew} positions
     * @param stopTokens ids that end the generation like EOS (a chat template's end of turn)
     */
    GenerateSequence(
            int slot,
            ForwardState state,
            int[] prompt,
            boolean truncated,
            int maxNew,
            GenerationParams params,
            Tokenizer tokenizer,
            int[] stopTokens,
            int eos,
            int context,
            int vocab) {
        super(slot, state, Arrays.copyOf(prompt, prompt.length + maxNew), prompt.length);
        this.params = params;
        this.tokenizer = tokenizer;
        this.sampler = new Sampler(params, vocab);
        this.stopTokens = stopTokens;
        this.eos = eos;
        this.context = context;
        this.promptLength = prompt.length;
        this.truncated = truncated;
        this.maxNew = maxNew;
    }

    @Override
    boolean finished() {
        return done;
    }

    @Override
    boolean decodes() {
        return true;
    }

    @Override
    boolean wantsLogits(int pos) {
        return pos == known - 1;
    }

    @Override
    void accept(int pos, float[] hidden, float[] logits) {
        if (logits == null) {
            return;
        }
        int next;
        try {
            // Only ids the tokenizer can decode: a model's vocabulary may be padded past its
            // tokenizer's (rows no text maps to), and an id there would fail the request at decoding.
            next = sampler.next(logits, Math.min(logits.length, tokenizer.vocabSize()));
        } catch (FiniteCheck.NonFiniteException e) {
            // This sequence's logits went NaN/Inf: it fails alone, its companions go on.
            failure = e.getMessage();
            done = true;
            return;
        }
        if (params.stopAtEos() && (next == eos || contains(stopTokens, next))) {
            finish = "eos";
            done = true;
            return;
        }
        tokens[promptLength + count++] = next;
        if (!params.stopStrings().isEmpty()) {
            text = tokenizer.decode(tokens, promptLength, promptLength + count);
            int cut = firstStop(text, params.stopStrings());
            if (cut >= 0) {
                text = text.substring(0, cut);
                finish = "stop";
                done = true;
                return;
            }
        }
        if (count == maxNew) {
            done = true;
        } else if (known >= context) {
            finish = "context";
            done = true;
        } else {
            known++; // the sampled token is fed next, at position known - 1
        }
    }

    @Override
    InferenceResult result(long startNanos) {
        InferenceResult.Stats stats = stats(promptLength, truncated, startNanos);
        if (failure != null) {
            return new InferenceResult.Failure(failure, stats);
        }
        int[] generated = Arrays.copyOfRange(tokens, promptLength, promptLength + count);
        String out = finish.equals("stop") ? text : tokenizer.decode(generated);
        return new InferenceResult.Generation(out, generated, finish, stats);
    }

    private static boolean contains(int[] ids, int id) {
        for (int v : ids) {
            if (v == id) {
                return true;
            }
        }
        return false;
    }

    private static int firstStop(String text, List<String> stops) {
        int best = -1;
        for (String s : stops) {
            int i = text.indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }
}
