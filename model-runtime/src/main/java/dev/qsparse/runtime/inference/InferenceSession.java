package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Runs micro-batches of generate / embed / score requests over one loaded {@link Model}.
 *
 * <p><b>Threads.</b> A session owns scratch buffers and a KV cache, so it is <em>not</em>
 * thread-safe: use one session per thread (one per Flink task). The {@link Model} it reads is
 * immutable and shared by any number of sessions.
 *
 * <p><b>Tokens.</b> Before every text go the tokens the tokenizer's {@code post_processor} puts
 * there (Llama 3: {@code <|begin_of_text|>}; Qwen: none), as Hugging Face's tokenizer does; a
 * tokenizer.json without a {@code post_processor} (this project's own) gets the config's
 * {@code bos_token_id}, when it has one. Text is always encoded literally: an added/special token
 * written in it (e.g. {@code <|eot_id|>}) is plain text, never a control token. A generate
 * request's {@link PromptTemplate} (chat format) is the whole prompt format instead: its control
 * tokens (BOS included) around the literal text, and its stop tokens end the generation.
 *
 * <p><b>Inputs longer than the context window</b> ({@code max_position_embeddings} tokens) are
 * cut, never rejected, and the result's {@code inputTruncated} says so:
 * <ul>
 *   <li>generate keeps the <em>last</em> {@code context - maxNewTokens} prompt tokens (the text
 *       nearest to the continuation), and {@code maxNewTokens} is capped at {@code context - 1};
 *   <li>embed and score use the <em>first</em> {@code context} tokens.
 * </ul>
 *
 * <p><b>Bad requests</b> (empty text with no BOS, a single token to score) give a
 * {@link InferenceResult.Failure} with the reason for that item; the rest of the batch is served.
 *
 * <p><b>Micro-batches of positions.</b> Every request of a micro-batch becomes a {@link Sequence}
 * (embed, score and generate alike), and one {@link PassScheduler} runs them together: each pass
 * holds up to {@link DecoderModel#passSize()} positions from any of them (prompt chunks and decode
 * steps), so each weight is read from memory once per pass for all of them; every result is bit
 * for bit the one the request gets alone.
 *
 * <p><b>Kernel threads.</b> {@code threads} (default 1, one Flink task per slot) is the number of
 * threads that share each matrix product; a session with more than one owns a small pool of
 * daemon threads (never the common ForkJoinPool), released by {@link #close()}.
 */
public final class InferenceSession implements AutoCloseable {

    private final Model model;
    private final ModelConfig config;
    /** The first sequence's state (the only one for a single request). */
    private final ForwardState state;

    private final WorkerPool pool;
    private final PassScheduler<?> scheduler;
    /** Ids put before every text (see Tokens above). */
    private final int[] textPrefix;

    public InferenceSession(Model model) {
        this(model, 1);
    }

    /** A session whose products use {@code threads} threads (1 = the calling thread only). */
    public InferenceSession(Model model, int threads) {
        this(model, threads, Backends.chosen());
    }

    /** A session on {@code backends} instead of the JVM's choice (tests and benchmarks compare paths). */
    public InferenceSession(Model model, int threads, Backends.Choice backends) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.model = model;
        this.config = model.config();
        this.textPrefix = textPrefix(model, config);
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        this.scheduler = scheduler(model.network(), backends, pool);
        this.state = scheduler.state(0);
    }

    private static <S extends ForwardState> PassScheduler<S> scheduler(
            DecoderModel<S> network, Backends.Choice backends, WorkerPool pool) {
        return new PassScheduler<>(network, backends, pool);
    }

    /** Threads that share each product. */
    public int threads() {
        return pool == null ? 1 : pool.threads();
    }

    /** Name of the kernel backend the products run on ("vector-512", "vector-256", "scalar"). */
    public String kernelBackend() {
        return state.workspace().backend().name();
    }

    /** Bytes of projection weights read by the last request or logits call (bandwidth accounting). */
    public long lastWeightBytesRead() {
        return state.weightBytesRead();
    }

    /** The forward state (KV cache, scratch) this session runs on; for benchmarks and tests. */
    public ForwardState state() {
        return state;
    }

    /** Stops the session's kernel threads, if it has any. */
    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
    }

    public Model model() {
        return model;
    }

    /**
     * Serves a micro-batch, one result per request in the same order. All of its requests run
     * together ({@link PassScheduler}): their positions share each forward pass, so each weight is
     * read once per pass for all of them; generations decode together (continuous batching), each
     * with its own KV cache, position, sampler and stop rule, a finished sequence leaving while the
     * rest go on. Every result is bit for bit the one {@link #run(InferenceRequest)} gives for
     * that request alone. A bad request fails alone ({@link InferenceResult.Failure}), and no
     * NaN or infinity leaves as a result ({@link FiniteCheck}).
     *
     * @throws dev.qsparse.runtime.safetensors.ModelFilesChangedException a weight file is now shorter
     *     than what the model maps (truncated or rewritten in place): checked before every batch
     */
    public List<InferenceResult> run(List<InferenceRequest> batch) {
        model.checkpoint().checkIntact();
        long start = System.nanoTime();
        InferenceResult[] out = new InferenceResult[batch.size()];
        Sequence[] sequences = new Sequence[batch.size()];
        List<Sequence> admitted = new ArrayList<>();
        Tokenizer tokenizer = model.tokenizer().orElse(null);
        for (int i = 0; i < batch.size(); i++) {
            if (tokenizer == null) {
                out[i] = failure("model " + model.name() + " has no tokenizer.json", 0, false, start);
                continue;
            }
            try {
                sequences[i] = admit(batch.get(i), tokenizer, admitted.size(), start);
            } catch (Refused r) {
                out[i] = r.result;
            }
            if (sequences[i] != null) {
                sequences[i].state.resetSparsityStats();
                admitted.add(sequences[i]);
            }
        }
        scheduler.run(admitted);
        for (int i = 0; i < out.length; i++) {
            if (sequences[i] != null) {
                out[i] = FiniteCheck.result(sequences[i].result(start));
            }
        }
        return Arrays.asList(out);
    }

    /** A request that fails before it runs, with its result. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final transient InferenceResult result;

        Refused(InferenceResult result) {
            super(null, null, false, false);
            this.result = result;
        }
    }

    /** The request as a sequence of its task, on the {@code slot}-th state; input cut to the context. */
    private Sequence admit(InferenceRequest r, Tokenizer tokenizer, int slot, long start) throws Refused {
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
                return new EmbedSequence(
                        slot,
                        scheduler.state(slot),
                        tokens,
                        n,
                        truncated,
                        r.pooling(),
                        textPrefix.length,
                        config.hiddenSize());
            }
            case SCORE -> {
                if (n < 2) {
                    throw new Refused(failure(
                            "text has " + (n - textPrefix.length) + " token(s); scoring needs a token to predict",
                            n,
                            truncated,
                            start));
                }
                return new ScoreSequence(slot, scheduler.state(slot), tokens, n, truncated);
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
                        scheduler.state(slot),
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

    /** Serves one request ({@link #run(List)} with a batch of one). */
    public InferenceResult run(InferenceRequest request) {
        return run(List.of(request)).get(0);
    }

    public InferenceResult.Generation generate(String prompt, GenerationParams params) {
        return (InferenceResult.Generation) orThrow(run(InferenceRequest.generate(prompt, params)));
    }

    public InferenceResult.Embedding embed(String text, Pooling pooling) {
        return (InferenceResult.Embedding) orThrow(run(InferenceRequest.embed(text, pooling)));
    }

    public InferenceResult.Score score(String text) {
        return (InferenceResult.Score) orThrow(run(InferenceRequest.score(text)));
    }

    private static InferenceResult orThrow(InferenceResult r) {
        if (r instanceof InferenceResult.Failure f) {
            throw new IllegalArgumentException(f.reason());
        }
        return r;
    }

    /** Logits for every position of a token sequence (no BOS added): [positions][vocab]. */
    public float[][] logits(int[] tokens) {
        if (tokens.length > config.contextLength()) {
            throw new IllegalArgumentException(
                    tokens.length + " tokens exceed the context of " + config.contextLength());
        }
        return rows(tokens, true);
    }

    /** Final hidden states for every position (no BOS added): [positions][hidden]. */
    public float[][] hiddenStates(int[] tokens) {
        return rows(tokens, false);
    }

    private float[][] rows(int[] tokens, boolean logits) {
        model.checkpoint().checkIntact();
        state.resetSparsityStats();
        RowsSequence rows = new RowsSequence(state, tokens, logits);
        scheduler.run(List.of(rows));
        return rows.rows;
    }

    /** Achieved activation sparsity of the last request or logits call. */
    public double lastActivationSparsity() {
        return state.activationSparsity();
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

    private InferenceResult failure(String reason, int inputTokens, boolean truncated, long start) {
        return new InferenceResult.Failure(
                reason, new InferenceResult.Stats(inputTokens, truncated, 0, System.nanoTime() - start));
    }
}
