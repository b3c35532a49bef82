package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.DenseBatchBackends;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.ModelConfig;
import dev.qsparse.runtime.tokenizer.Tokenizer;
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
 * <p><b>Tokens.</b> When the config has a {@code bos_token_id}, it is put before every text.
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
 * <p><b>Micro-batches of positions.</b> A prompt, a text to embed and a text to score run through
 * the network {@link #PREFILL_CHUNK} positions at a time ({@link DecoderModel#forwardBatch}), so
 * each weight is read from memory once per chunk rather than once per token; the results are bit
 * for bit those of the token-by-token path.
 *
 * <p><b>Kernel threads.</b> {@code threads} (default 1, one Flink task per slot) is the number of
 * threads that share each matrix product; a session with more than one owns a small pool of
 * daemon threads (never the common ForkJoinPool), released by {@link #close()}.
 */
public final class InferenceSession implements AutoCloseable {

    /** Positions per batched forward step of a prompt, text or scored sequence: the model's one chunk size. */
    public static final int PREFILL_CHUNK = DecoderModel.MAX_SLOTS;

    private final Model model;
    private final DecoderModel network;
    private final ModelConfig config;
    private final ForwardState state;
    private final float[] logits;
    private final WorkerPool pool;
    private float[][] chunkHidden = new float[0][];
    private float[][] chunkLogits = new float[0][];

    public InferenceSession(Model model) {
        this(model, 1);
    }

    /** A session whose products use {@code threads} threads (1 = the calling thread only). */
    public InferenceSession(Model model, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.model = model;
        this.network = model.network();
        this.config = network.config();
        this.state = network.newState();
        this.logits = new float[config.vocabSize()];
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        state.useThreads(pool);
        // An optional dense batch backend (backend-nd4j) serves F32 micro-batches where it measures faster.
        DenseBatchBackends.find().ifPresent(dense -> state.workspace().useDenseBatch(dense, true));
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

    private float[][] hiddenRows(int n) {
        if (chunkHidden.length < n) {
            chunkHidden = new float[n][config.hiddenSize()];
        }
        return chunkHidden;
    }

    private float[][] logitRows(int n) {
        if (chunkLogits.length < n) {
            chunkLogits = new float[n][config.vocabSize()];
        }
        return chunkLogits;
    }

    public Model model() {
        return model;
    }

    /**
     * Serves a micro-batch, one result per request in the same order. Embed and score requests of
     * the batch run together: their positions share each forward pass (up to
     * {@link #PREFILL_CHUNK} positions from several texts), so each weight is read once per pass
     * for all of them; every result is bit for bit what {@link #run(InferenceRequest)} gives
     * for that request alone. Generate requests run one after the other.
     */
    public List<InferenceResult> run(List<InferenceRequest> batch) {
        List<InferenceResult> out = new ArrayList<>(java.util.Collections.nCopies(batch.size(), null));
        List<Integer> together = new ArrayList<>();
        if (batch.size() > 1 && model.tokenizer().isPresent()) {
            for (int i = 0; i < batch.size(); i++) {
                Task task = batch.get(i).task();
                if (task == Task.EMBED || task == Task.SCORE) {
                    together.add(i);
                }
            }
        }
        if (together.size() > 1) {
            serveTogether(batch, together, out);
        }
        for (int i = 0; i < batch.size(); i++) {
            if (out.get(i) == null) {
                out.set(i, run(batch.get(i)));
            }
        }
        out.replaceAll(FiniteCheck::result); // no NaN/Inf leaves as a result (FiniteCheck)
        return out;
    }

    /** One embed or score request of a shared micro-batch. */
    private static final class Pending {
        final int index;
        final InferenceRequest request;
        final int[] tokens;
        final int n;
        final int steps;
        final boolean truncated;
        ForwardState state;
        int next;
        float[] sum;
        double logprob;

        Pending(int index, InferenceRequest request, int[] tokens, int n, int steps, boolean truncated) {
            this.index = index;
            this.request = request;
            this.tokens = tokens;
            this.n = n;
            this.steps = steps;
            this.truncated = truncated;
        }
    }

    private final List<ForwardState> extraStates = new ArrayList<>();

    private ForwardState extraState(int i) {
        while (extraStates.size() <= i) {
            ForwardState s = network.newState();
            s.useThreads(pool);
            DenseBatchBackends.find().ifPresent(dense -> s.workspace().useDenseBatch(dense, true));
            extraStates.add(s);
        }
        return extraStates.get(i);
    }

    private void serveTogether(List<InferenceRequest> batch, List<Integer> indices, List<InferenceResult> out) {
        long start = System.nanoTime();
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        int context = config.contextLength();
        int textStart = textStart();
        List<Pending> pending = new ArrayList<>();
        for (int i : indices) {
            InferenceRequest r = batch.get(i);
            int[] tokens = withBos(tokenizer.encode(r.text()));
            boolean truncated = tokens.length > context;
            int n = Math.min(tokens.length, context);
            if (r.task() == Task.EMBED) {
                if (tokens.length - textStart <= 0) {
                    out.set(i, new InferenceResult.Failure("empty text has no tokens to embed",
                            new InferenceResult.Stats(tokens.length, false, 0, System.nanoTime() - start)));
                    continue;
                }
                pending.add(new Pending(i, r, tokens, n, n, truncated));
            } else {
                if (n < 2) {
                    out.set(i, new InferenceResult.Failure("text has " + (n - textStart)
                            + " token(s); scoring needs a token to predict",
                            new InferenceResult.Stats(n, truncated, 0, System.nanoTime() - start)));
                    continue;
                }
                pending.add(new Pending(i, r, tokens, n, n - 1, truncated));
            }
        }
        int d = config.hiddenSize();
        int vocab = config.vocabSize();
        for (int k = 0; k < pending.size(); k++) {
            Pending p = pending.get(k);
            p.state = k == 0 ? state : extraState(k - 1);
            p.state.resetSparsityStats();
            p.sum = new float[d];
        }
        ForwardState[] owners = new ForwardState[PREFILL_CHUNK];
        Pending[] slotOf = new Pending[PREFILL_CHUNK];
        int[] tokens = new int[PREFILL_CHUNK];
        int[] positions = new int[PREFILL_CHUNK];
        float[][] hidden = hiddenRows(PREFILL_CHUNK);
        float[][] scoreHidden = new float[PREFILL_CHUNK][];
        float[][] rows = logitRows(PREFILL_CHUNK);
        List<Pending> active = new ArrayList<>(pending);
        while (!active.isEmpty()) {
            int quota = Math.max(1, PREFILL_CHUNK / active.size());
            int count = 0;
            for (Pending p : active) {
                int take = Math.min(quota, Math.min(p.steps - p.next, PREFILL_CHUNK - count));
                for (int t = 0; t < take; t++) {
                    owners[count] = p.state;
                    slotOf[count] = p;
                    tokens[count] = p.tokens[p.next + t];
                    positions[count] = p.next + t;
                    count++;
                }
                if (count == PREFILL_CHUNK) {
                    break;
                }
            }
            network.forwardSlots(owners, tokens, positions, count, hidden);
            int scored = 0;
            for (int i = 0; i < count; i++) {
                if (slotOf[i].request.task() == Task.SCORE) {
                    scoreHidden[scored++] = hidden[i];
                }
            }
            if (scored > 0) {
                network.logitsBatch(state, scoreHidden, scored, rows);
            }
            int s = 0;
            for (int i = 0; i < count; i++) {
                Pending p = slotOf[i];
                int pos = positions[i];
                if (p.request.task() == Task.SCORE) {
                    float[] row = rows[s++];
                    p.logprob += row[p.tokens[pos + 1]] - Kernels.logSumExp(row, vocab);
                } else if (pos >= textStart) {
                    Kernels.add(p.sum, hidden[i], d);
                }
                p.next = Math.max(p.next, pos + 1);
            }
            active.removeIf(p -> p.next >= p.steps);
        }
        for (Pending p : pending) {
            InferenceResult.Stats stats = new InferenceResult.Stats(p.n, p.truncated, p.state.activationSparsity(),
                    System.nanoTime() - start);
            if (p.request.task() == Task.EMBED) {
                float[] vector = p.request.pooling() == Pooling.LAST ? p.state.hidden.clone() : p.sum;
                out.set(p.index, new InferenceResult.Embedding(normalize(vector), p.request.pooling(), stats));
            } else {
                int scored = p.n - 1;
                double mean = p.logprob / scored;
                out.set(p.index, new InferenceResult.Score(p.logprob, mean, Math.exp(-mean), scored, stats));
            }
        }
    }

    private static float[] normalize(float[] vector) {
        double norm = 0;
        for (float v : vector) {
            norm += (double) v * v;
        }
        float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < vector.length; i++) {
            vector[i] *= inv;
        }
        return vector;
    }

    public InferenceResult run(InferenceRequest request) {
        long start = System.nanoTime();
        state.resetSparsityStats();
        Tokenizer tokenizer = model.tokenizer().orElse(null);
        if (tokenizer == null) {
            return new InferenceResult.Failure("model " + model.name() + " has no tokenizer.json",
                    new InferenceResult.Stats(0, false, 0, System.nanoTime() - start));
        }
        int[] tokens = withBos(tokenizer.encode(request.text()));
        return FiniteCheck.guard(() -> switch (request.task()) {
            case GENERATE -> generate(tokens, request.generation(), start);
            case EMBED -> embed(tokens, request.pooling(), start);
            case SCORE -> score(tokens, start);
        }, tokens.length, state::activationSparsity, start);
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
            throw new IllegalArgumentException(tokens.length + " tokens exceed the context of "
                    + config.contextLength());
        }
        float[][] out = new float[tokens.length][];
        state.resetSparsityStats();
        for (int pos = 0; pos < tokens.length; pos += PREFILL_CHUNK) {
            int n = Math.min(PREFILL_CHUNK, tokens.length - pos);
            float[][] hidden = hiddenRows(n);
            float[][] rows = logitRows(n);
            network.forwardBatch(state, tokens, pos, n, pos, hidden);
            network.logitsBatch(state, hidden, n, rows);
            for (int i = 0; i < n; i++) {
                out[pos + i] = Arrays.copyOf(rows[i], config.vocabSize());
            }
        }
        return out;
    }

    /** Final hidden states for every position (no BOS added): [positions][hidden]. */
    public float[][] hiddenStates(int[] tokens) {
        float[][] out = new float[tokens.length][config.hiddenSize()];
        state.resetSparsityStats();
        network.forwardBatch(state, tokens, 0, tokens.length, 0, out);
        return out;
    }

    /** Achieved activation sparsity of the last request or logits call. */
    public double lastActivationSparsity() {
        return state.activationSparsity();
    }

    private int[] withBos(int[] tokens) {
        if (config.bosTokenId().isEmpty()) {
            return tokens;
        }
        int[] out = new int[tokens.length + 1];
        out[0] = config.bosTokenId().getAsInt();
        System.arraycopy(tokens, 0, out, 1, tokens.length);
        return out;
    }

    private int textStart() {
        return config.bosTokenId().isPresent() ? 1 : 0;
    }

    private InferenceResult generate(int[] prompt, GenerationParams params, long start) {
        int context = config.contextLength();
        if (prompt.length == 0) {
            return failure("empty prompt and the model has no bos_token_id to start from", 0, false, start);
        }
        int maxNew = Math.min(params.maxNewTokens(), context - 1);
        int budget = context - maxNew;
        boolean truncated = prompt.length > budget;
        if (truncated) {
            prompt = Arrays.copyOfRange(prompt, prompt.length - budget, prompt.length);
        }
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        int vocab = config.vocabSize();
        int eos = config.eosTokenId().orElse(-1);
        network.forwardBatch(state, prompt, 0, prompt.length, 0, null);
        int pos = prompt.length;
        network.logits(state, logits);
        Sampler sampler = new Sampler(params, vocab);
        int[] generated = new int[maxNew];
        int count = 0;
        String finish = "length";
        String text = "";
        while (count < maxNew) {
            int next = sampler.next(logits, vocab);
            if (params.stopAtEos() && next == eos) {
                finish = "eos";
                break;
            }
            generated[count++] = next;
            if (!params.stopStrings().isEmpty()) {
                text = tokenizer.decode(generated, 0, count);
                int cut = firstStop(text, params.stopStrings());
                if (cut >= 0) {
                    text = text.substring(0, cut);
                    finish = "stop";
                    break;
                }
            }
            if (count == maxNew) {
                break;
            }
            if (pos >= context) {
                finish = "context";
                break;
            }
            network.forward(state, next, pos++);
            network.logits(state, logits);
        }
        int[] tokens = Arrays.copyOf(generated, count);
        if (!finish.equals("stop")) {
            text = tokenizer.decode(tokens);
        }
        return new InferenceResult.Generation(text, tokens, finish,
                stats(prompt.length, truncated, start));
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

    private InferenceResult embed(int[] tokens, Pooling pooling, long start) {
        int textStart = textStart();
        if (tokens.length - textStart <= 0) {
            return failure("empty text has no tokens to embed", tokens.length, false, start);
        }
        boolean truncated = tokens.length > config.contextLength();
        int n = Math.min(tokens.length, config.contextLength());
        int d = config.hiddenSize();
        float[] sum = new float[d];
        for (int pos = 0; pos < n; pos += PREFILL_CHUNK) {
            int m = Math.min(PREFILL_CHUNK, n - pos);
            float[][] hidden = hiddenRows(m);
            network.forwardBatch(state, tokens, pos, m, pos, hidden);
            for (int i = 0; i < m; i++) {
                if (pos + i >= textStart) {
                    Kernels.add(sum, hidden[i], d);
                }
            }
        }
        float[] vector = pooling == Pooling.LAST ? state.hidden.clone() : sum;
        return new InferenceResult.Embedding(normalize(vector), pooling, stats(n, truncated, start));
    }

    private InferenceResult score(int[] tokens, long start) {
        boolean truncated = tokens.length > config.contextLength();
        int n = Math.min(tokens.length, config.contextLength());
        if (n < 2) {
            return failure("text has " + (n - textStart()) + " token(s); scoring needs a token to predict",
                    n, truncated, start);
        }
        int vocab = config.vocabSize();
        double sum = 0;
        for (int pos = 0; pos < n - 1; pos += PREFILL_CHUNK) {
            int m = Math.min(PREFILL_CHUNK, n - 1 - pos);
            float[][] hidden = hiddenRows(m);
            float[][] rows = logitRows(m);
            network.forwardBatch(state, tokens, pos, m, pos, hidden);
            network.logitsBatch(state, hidden, m, rows);
            for (int i = 0; i < m; i++) {
                sum += rows[i][tokens[pos + i + 1]] - Kernels.logSumExp(rows[i], vocab);
            }
        }
        int scored = n - 1;
        double mean = sum / scored;
        return new InferenceResult.Score(sum, mean, Math.exp(-mean), scored, stats(n, truncated, start));
    }

    private InferenceResult.Stats stats(int inputTokens, boolean truncated, long start) {
        return new InferenceResult.Stats(inputTokens, truncated, state.activationSparsity(), System.nanoTime() - start);
    }

    private InferenceResult failure(String reason, int inputTokens, boolean truncated, long start) {
        return new InferenceResult.Failure(reason, stats(inputTokens, truncated, start));
    }
}
