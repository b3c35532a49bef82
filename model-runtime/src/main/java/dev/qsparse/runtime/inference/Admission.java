package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.model.SentenceModules;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.Optional;

/**
 * Turns a request into the {@link Sequence} of its task: its input ids (the tokenizer's prefix or
 * BOS and the literal text, or a chat template around it), cut to the context as its task cuts
 * (see {@link InferenceSession}), or a failure of that request alone, with the reason, when it
 * cannot run (no tokenizer, no token to embed or to score, an empty prompt, a template that does
 * not fit the tokenizer).
 */
final class Admission {

    private final Model model;
    private final ModelConfig config;
    /** Ids put before every text (see Tokens in {@link InferenceSession}). */
    private final int[] textPrefix;
    /** The sentence-transformers modules of an encoder, or null for a decoder. */
    private final SentenceModules encoder;
    /** The modules a decoder embeds by (Qwen3-Embedding), or null: its own rules. */
    private final SentenceModules decoderModules;
    /** The ids the tokenizer's template puts after an embedded text ([SEP], <|endoftext|>). */
    private final int[] textSuffix;

    Admission(Model model) {
        this.model = model;
        this.config = model.config();
        this.textPrefix = textPrefix(model, config);
        this.encoder = config instanceof BertConfig b ? b.modules() : null;
        this.decoderModules = encoder == null ? model.sentenceModules().orElse(null) : null;
        this.textSuffix = model.tokenizer().map(Tokenizer::suffixTokens).orElse(new int[0]);
    }

    /** A request that fails before it runs, with its result. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final transient InferenceResult result;

        Refused(InferenceResult result) {
            super(null, null, false, false);
            this.result = result;
        }
    }

    /** The request as a sequence of its task, on the scheduler's {@code slot}-th state; input cut to the context. */
    Sequence admit(InferenceRequest r, int slot, ForwardState state, long start) throws Refused {
        Tokenizer tokenizer = model.tokenizer().orElse(null);
        if (tokenizer == null) {
            throw new Refused(failure("model " + model.name() + " has no tokenizer.json", 0, false, start));
        }
        if (encoder != null) {
            return admitToEncoder(tokenizer, r, slot, state, start);
        }
        if (decoderModules != null && r.task() == Task.EMBED) {
            return embedByModules(decoderModules, tokenizer, r, slot, state, start);
        }
        int context = config.contextLength();
        int[] tokens;
        try {
            tokens = inputTokens(tokenizer, r);
        } catch (IllegalArgumentException e) {
            throw new Refused(failure(e.getMessage(), 0, false, start));
        }
        boolean truncated = tokens.length > context;
        int n = Math.min(tokens.length, context);
        switch (r.task()) {
            case EMBED -> {
                if (tokens.length - textPrefix.length <= 0) {
                    throw new Refused(failure("empty text has no tokens to embed", tokens.length, false, start));
                }
                Pooling pooling = r.pooling() == null ? Pooling.MEAN : r.pooling();
                return new EmbedSequence(
                        slot, state, tokens, n, truncated, pooling, textPrefix.length, true, config.hiddenSize());
            }
            case SCORE -> {
                if (n < 2) {
                    throw new Refused(failure(
                            "text has " + (n - textPrefix.length) + " token(s); scoring needs a token to predict",
                            n,
                            truncated,
                            start));
                }
                return new ScoreSequence(slot, state, tokens, n, truncated);
            }
            default -> {
                if (tokens.length == 0) {
                    throw new Refused(failure(
                            "empty prompt and nothing to start from (no bos_token_id, no template)", 0, false, start));
                }
                GenerationParams params = r.generation();
                // The continuation keeps the prompt's end: the last context - maxNew tokens.
                int maxNew = Math.min(params.maxNewTokens(), context - 1);
                int budget = context - maxNew;
                boolean cut = tokens.length > budget;
                int[] prompt = cut ? Arrays.copyOfRange(tokens, tokens.length - budget, tokens.length) : tokens;
                int[] stopTokens = params.promptTemplate() == null
                        ? new int[0]
                        : params.promptTemplate().stopTokenIds(tokenizer);
                return new GenerateSequence(
                        slot,
                        state,
                        prompt,
                        cut,
                        maxNew,
                        params,
                        tokenizer,
                        stopTokens,
                        config.eosTokenId().orElse(-1),
                        context,
                        config.vocabSize());
            }
        }
    }

    /**
     * An encoder embeds only. Its input is sentence-transformers': the template around the text,
     * the text cut so that the whole fits {@code max_seq_length} (the tokenizer.json's own
     * truncation, which sentence-transformers overrides, is not applied); every position is pooled
     * by the request's pooling or else the model's, and normalised when the model has a Normalize
     * module.
     */
    private Sequence admitToEncoder(Tokenizer tokenizer, InferenceRequest r, int slot, ForwardState state, long start)
            throws Refused {
        if (r.task() != Task.EMBED) {
            throw new Refused(failure(
                    "model " + model.name() + " is an encoder (model_type " + config.modelType() + "): it embeds"
                            + " text, it cannot " + r.task().name().toLowerCase(java.util.Locale.ROOT),
                    0,
                    false,
                    start));
        }
        return embedByModules(encoder, tokenizer, r, slot, state, start);
    }

    /**
     * sentence-transformers' embedding: the tokenizer's template around the text (a decoder's
     * Qwen3-Embedding template appends {@code <|endoftext|>}, which last-token pooling then reads),
     * the text cut so that the whole fits {@code max_seq_length}, every position pooled.
     */
    private Sequence embedByModules(
            SentenceModules modules, Tokenizer tokenizer, InferenceRequest r, int slot, ForwardState state, long start)
            throws Refused {
        int[] text = tokenizer.encode(r.text());
        int limit = Math.min(config.contextLength(), modules.maxSeqLength());
        int keep = Math.max(0, limit - textPrefix.length - textSuffix.length);
        int n = Math.min(text.length, keep);
        int[] tokens = new int[textPrefix.length + n + textSuffix.length];
        System.arraycopy(textPrefix, 0, tokens, 0, textPrefix.length);
        System.arraycopy(text, 0, tokens, textPrefix.length, n);
        System.arraycopy(textSuffix, 0, tokens, textPrefix.length + n, textSuffix.length);
        if (tokens.length == 0) {
            throw new Refused(failure("empty text has no tokens to embed", 0, false, start));
        }
        Pooling pooling = r.pooling() == null ? modules.pooling() : r.pooling();
        return new EmbedSequence(
                slot,
                state,
                tokens,
                tokens.length,
                text.length > n,
                pooling,
                0,
                modules.normalize(),
                config.hiddenSize());
    }

    /**
     * The request's input ids: BOS, then the text encoded literally, or for a generate request with
     * a prompt template, the template's control tokens (BOS included) around the literal text.
     *
     * @throws IllegalArgumentException if the template does not fit the model's tokenizer
     */
    private int[] inputTokens(Tokenizer tokenizer, InferenceRequest request) {
        PromptTemplate template =
                request.task() == Task.GENERATE ? request.generation().promptTemplate() : null;
        return template == null
                ? withBos(tokenizer.encode(request.text()))
                : template.encode(tokenizer, request.text());
    }

    private static int[] textPrefix(Model model, ModelConfig config) {
        Optional<int[]> fromTokenizer = model.tokenizer().flatMap(Tokenizer::prefixTokens);
        if (fromTokenizer.isPresent()) {
            return fromTokenizer.get();
        }
        return config.bosTokenId().isPresent() ? new int[] {config.bosTokenId().getAsInt()} : new int[0];
    }

    private int[] withBos(int[] tokens) {
        if (textPrefix.length == 0) {
            return tokens;
        }
        int[] out = Arrays.copyOf(textPrefix, textPrefix.length + tokens.length);
        System.arraycopy(tokens, 0, out, textPrefix.length, tokens.length);
        return out;
    }

    private static InferenceResult failure(String reason, int inputTokens, boolean truncated, long start) {
        return new InferenceResult.Failure(
                reason, new InferenceResult.Stats(inputTokens, truncated, 0, System.nanoTime() - start));
    }
}
