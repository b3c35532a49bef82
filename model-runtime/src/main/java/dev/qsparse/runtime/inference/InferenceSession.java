package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

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
    /** Tokenization, truncation and the per-request checks: each request to a sequence. */
    private final Admission admission;

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
        this.admission = new Admission(model);
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
        for (int i = 0; i < batch.size(); i++) {
            int slot = admitted.size();
            try {
                sequences[i] = admission.admit(batch.get(i), slot, scheduler.state(slot), start);
            } catch (Admission.Refused r) {
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
}
