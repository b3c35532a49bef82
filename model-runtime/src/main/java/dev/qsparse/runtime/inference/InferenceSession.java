package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.BatchBackends;
import dev.qsparse.runtime.kernel.DenseBatchBackends;
import dev.qsparse.runtime.kernel.Kernels;
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
 * <p><b>Micro-batches of positions.</b> A prompt, a text to embed and a text to score run through
 * the network {@link DecoderModel#passSize()} positions at a time ({@link DecoderModel#forwardBatch}), so
 * each weight is read from memory once per chunk rather than once per token; the results are bit
 * for bit those of the token-by-token path.
 *
 * <p><b>Kernel threads.</b> {@code threads} (default 1, one Flink task per slot) is the number of
 * threads that share each matrix product; a session with more than one owns a small pool of
 * daemon threads (never the common ForkJoinPool), released by {@link #close()}.
 */
public final class InferenceSession implements AutoCloseable {

    /** Positions per batched forward step of a prompt, text or scored sequence: the model's pass size. */
    private final int chunk;

    private final Model model;
    private final DecoderModel network;
    private final ModelConfig config;
    private final ForwardState state;
    private final float[] logits;
    private final WorkerPool pool;
    /** Ids put before every text (see Tokens above). */
    private final int[] textPrefix;

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
        this.chunk = network.passSize();
        this.state = network.newState();
        this.logits = new float[config.vocabSize()];
        this.textPrefix = textPrefix(model, config);
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        state.useThreads(pool);
        useOptionalBackends(state);
    }

    /**
     * Optional backends found on the class path: backend-nd4j serves F32 micro-batches where it
     * measures faster; backend-native serves int8/ternary micro-batches (exact, same results).
     */
    private static void useOptionalBackends(ForwardState s) {
        DenseBatchBackends.find().ifPresent(dense -> s.workspace().useDenseBatch(dense, true));
        BatchBackends.find().ifPresent(integer -> s.workspace().useBatchBackend(integer));
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
     * {@link DecoderModel#passSize()} positions from several texts), so each weight is read once per pass
     * for all of them; every result is bit for bit what {@link #run(InferenceRequest)} gives
     * for that request alone. Generate requests decode together (continuous batching): one
     * forward pass per step for every sequence still running, each with its own KV cache,
     * position, sampler and stop rule; a finished sequence leaves and the rest go on. Their
     * prompts are prefilled together the same way. Each generation is bit for bit the one the
     * request gets alone.
     *
     * @throws dev.qsparse.runtime.safetensors.ModelFilesChangedException a weight file is now shorter
     *     than what the model maps (truncated or rewritten in place): checked before every batch
     */
    public List<InferenceResult> run(List<InferenceRequest> batch) {
        model.checkpoint().checkIntact();
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
        List<Integer> generations = new ArrayList<>();
        if (model.tokenizer().isPresent()) {
            for (int i = 0; i < batch.size(); i++) {
                if (out.get(i) == null && batch.get(i).task() == Task.GENERATE) {
                    generations.add(i);
                }
            }
        }
        if (!generations.isEmpty()) {
            serveGenerations(batch, generations, out);
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
            useOptionalBackends(s);
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
                    out.set(
                            i,
                            new InferenceResult.Failure(
                                    "empty text has no tokens to embed",
                                    new InferenceResult.Stats(tokens.length, false, 0, System.nanoTime() - start)));
                    continue;
                }
                pending.add(new Pending(i, r, tokens, n, n, truncated));
            } else {
                if (n < 2) {
                    out.set(
                            i,
                            new InferenceResult.Failure(
                                    "text has " + (n - textStart) + " token(s); scoring needs a token to predict",
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
        ForwardState[] owners = new ForwardState[chunk];
        Pending[] slotOf = new Pending[chunk];
        int[] tokens = new int[chunk];
        int[] positions = new int[chunk];
        float[][] hidden = hiddenRows(chunk);
        float[][] scoreHidden = new float[chunk][];
        float[][] rows = logitRows(chunk);
        List<Pending> active = new ArrayList<>(pending);
        while (!active.isEmpty()) {
            int quota = Math.max(1, chunk / active.size());
            int count = 0;
            for (Pending p : active) {
                int take = Math.min(quota, Math.min(p.steps - p.next, chunk - count));
                for (int t = 0; t < take; t++) {
                    owners[count] = p.state;
                    slotOf[count] = p;
                    tokens[count] = p.tokens[p.next + t];
                    positions[count] = p.next + t;
                    count++;
                }
                if (count == chunk) {
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
            InferenceResult.Stats stats = new InferenceResult.Stats(
                    p.n, p.truncated, p.state.activationSparsity(), System.nanoTime() - start);
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
        model.checkpoint().checkIntact();
        long start = System.nanoTime();
        state.resetSparsityStats();
        Tokenizer tokenizer = model.tokenizer().orElse(null);
        if (tokenizer == null) {
            return new InferenceResult.Failure(
                    "model " + model.name() + " has no tokenizer.json",
                    new InferenceResult.Stats(0, false, 0, System.nanoTime() - start));
        }
        int[] tokens;
        try {
            tokens = inputTokens(tokenizer, request);
        } catch (IllegalArgumentException e) {
            return failure(e.getMessage(), 0, false, start);
        }
        return FiniteCheck.guard(
                () -> switch (request.task()) {
                    case GENERATE ->
                        generateAll(List.of(new Generation(0, request, tokens)), start)
                                .get(0);
                    case EMBED -> embed(tokens, request.pooling(), start);
                    case SCORE -> score(tokens, start);
                },
                tokens.length,
                state::activationSparsity,
                start);
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
        model.checkpoint().checkIntact();
        float[][] out = new float[tokens.length][];
        state.resetSparsityStats();
        for (int pos = 0; pos < tokens.length; pos += chunk) {
            int n = Math.min(chunk, tokens.length - pos);
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
        model.checkpoint().checkIntact();
        float[][] out = new float[tokens.length][config.hiddenSize()];
        state.resetSparsityStats();
        network.forwardBatch(state, tokens, 0, tokens.length, 0, out);
        return out;
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

    private int textStart() {
        return textPrefix.length;
    }

    /** One generate request being served: its sequence state, sampler and output so far. */
    private static final class Generation {
        final int index;
        final InferenceRequest request;
        int[] prompt;
        boolean truncated;
        int maxNew;
        ForwardState state;
        Sampler sampler;
        int[] stopTokens;
        float[] logits;
        int[] generated;
        int count;
        int pos;
        String finish;
        String text = "";
        InferenceResult result;

        Generation(int index, InferenceRequest request, int[] prompt) {
            this.index = index;
            this.request = request;
            this.prompt = prompt;
        }
    }

    private void serveGenerations(List<InferenceRequest> batch, List<Integer> indices, List<InferenceResult> out) {
        long start = System.nanoTime();
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        List<Generation> gens = new ArrayList<>();
        for (int i : indices) {
            InferenceRequest r = batch.get(i);
            try {
                gens.add(new Generation(i, r, inputTokens(tokenizer, r)));
            } catch (IllegalArgumentException e) {
                out.set(i, failure(e.getMessage(), 0, false, start));
            }
        }
        if (gens.isEmpty()) {
            return;
        }
        List<InferenceResult> results = generateAll(gens, start);
        for (int k = 0; k < gens.size(); k++) {
            out.set(gens.get(k).index, results.get(k));
        }
    }

    /**
     * The generation engine, for one request or many: prompts prefilled together in passes of
     * {@link DecoderModel#passSize()} positions, then one {@link DecoderModel#forwardSlots} pass per step
     * for all running sequences and one batched lm-head product for their logits. Every product
     * gives each row what it gives that row alone, so a request's tokens do not depend on its
     * companions.
     */
    private List<InferenceResult> generateAll(List<Generation> gens, long start) {
        int context = config.contextLength();
        int vocab = config.vocabSize();
        List<Generation> live = new ArrayList<>();
        for (Generation g : gens) {
            if (g.prompt.length == 0) {
                g.result = new InferenceResult.Failure(
                        "empty prompt and nothing to start from (no bos_token_id, no template)",
                        new InferenceResult.Stats(0, false, 0, System.nanoTime() - start));
                continue;
            }
            GenerationParams params = g.request.generation();
            g.maxNew = Math.min(params.maxNewTokens(), context - 1);
            int budget = context - g.maxNew;
            g.truncated = g.prompt.length > budget;
            if (g.truncated) {
                g.prompt = Arrays.copyOfRange(g.prompt, g.prompt.length - budget, g.prompt.length);
            }
            g.state = live.isEmpty() ? state : extraState(live.size() - 1);
            g.state.resetSparsityStats();
            g.sampler = new Sampler(params, vocab);
            g.stopTokens = params.promptTemplate() == null
                    ? new int[0]
                    : params.promptTemplate().stopTokenIds(model.tokenizer().orElseThrow());
            g.logits = new float[vocab];
            g.generated = new int[g.maxNew];
            g.pos = g.prompt.length;
            g.finish = "length";
            live.add(g);
        }
        prefill(live);
        logitsOf(live);
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        int eos = config.eosTokenId().orElse(-1);
        while (!live.isEmpty()) {
            List<Generation> next = new ArrayList<>(live.size());
            int[] tokens = new int[live.size()];
            for (Generation g : live) {
                int token;
                try {
                    token = step(g, tokenizer, eos, context);
                } catch (FiniteCheck.NonFiniteException e) {
                    // This sequence's logits went NaN/Inf: it fails alone, its companions go on.
                    g.result = new InferenceResult.Failure(
                            e.getMessage(),
                            new InferenceResult.Stats(
                                    g.prompt.length,
                                    g.truncated,
                                    g.state.activationSparsity(),
                                    System.nanoTime() - start));
                    token = -1;
                }
                if (token >= 0) {
                    tokens[next.size()] = token;
                    next.add(g);
                }
            }
            if (next.isEmpty()) {
                break;
            }
            int n = next.size();
            ForwardState[] owners = new ForwardState[n];
            int[] positions = new int[n];
            for (int i = 0; i < n; i++) {
                Generation g = next.get(i);
                owners[i] = g.state;
                positions[i] = g.pos++;
            }
            network.forwardSlots(owners, tokens, positions, n, null);
            logitsOf(next);
            live = next;
        }
        List<InferenceResult> results = new ArrayList<>(gens.size());
        for (Generation g : gens) {
            if (g.result == null) {
                int[] tokens = Arrays.copyOf(g.generated, g.count);
                String text = g.finish.equals("stop") ? g.text : tokenizer.decode(tokens);
                g.result = new InferenceResult.Generation(
                        text,
                        tokens,
                        g.finish,
                        new InferenceResult.Stats(
                                g.prompt.length, g.truncated, g.state.activationSparsity(), System.nanoTime() - start));
            }
            results.add(g.result);
        }
        return results;
    }

    /**
     * Samples the next token of {@code g} from its logits and applies its stop rules: returns the
     * token to feed at {@code g.pos}, or -1 when the sequence is finished ({@code g.finish} says why).
     */
    private static int step(Generation g, Tokenizer tokenizer, int eos, int context) {
        GenerationParams params = g.request.generation();
        // Only ids the tokenizer can decode: a model's vocabulary may be padded past its tokenizer's
        // (rows no text maps to), and an id there would fail the request at decoding.
        int next = g.sampler.next(g.logits, Math.min(g.logits.length, tokenizer.vocabSize()));
        if (params.stopAtEos() && (next == eos || contains(g.stopTokens, next))) {
            g.finish = "eos";
            return -1;
        }
        g.generated[g.count++] = next;
        if (!params.stopStrings().isEmpty()) {
            g.text = tokenizer.decode(g.generated, 0, g.count);
            int cut = firstStop(g.text, params.stopStrings());
            if (cut >= 0) {
                g.text = g.text.substring(0, cut);
                g.finish = "stop";
                return -1;
            }
        }
        if (g.count == g.maxNew) {
            return -1;
        }
        if (g.pos >= context) {
            g.finish = "context";
            return -1;
        }
        return next;
    }

    private static boolean contains(int[] ids, int id) {
        for (int v : ids) {
            if (v == id) {
                return true;
            }
        }
        return false;
    }

    /** Runs every prompt through the network, positions of several prompts sharing each pass. */
    private void prefill(List<Generation> gens) {
        int total = 0;
        for (Generation g : gens) {
            total += g.prompt.length;
        }
        ForwardState[] owners = new ForwardState[total];
        int[] tokens = new int[total];
        int[] positions = new int[total];
        int slot = 0;
        // Round-robin over the prompts so that a pass mixes sequences; each keeps position order.
        int[] next = new int[gens.size()];
        while (slot < total) {
            for (int k = 0; k < gens.size(); k++) {
                Generation g = gens.get(k);
                if (next[k] < g.prompt.length) {
                    owners[slot] = g.state;
                    tokens[slot] = g.prompt[next[k]];
                    positions[slot] = next[k]++;
                    slot++;
                }
            }
        }
        network.forwardSlots(owners, tokens, positions, total, null);
    }

    /** Next-token logits of every sequence in {@code gens} from its state's last hidden state, in one lm-head product. */
    private void logitsOf(List<Generation> gens) {
        int n = gens.size();
        if (n == 1) {
            network.logits(gens.get(0).state, gens.get(0).logits);
            return;
        }
        float[][] hidden = new float[n][];
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            hidden[i] = gens.get(i).state.hidden;
            rows[i] = gens.get(i).logits;
        }
        network.logitsBatch(state, hidden, n, rows);
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
        for (int pos = 0; pos < n; pos += chunk) {
            int m = Math.min(chunk, n - pos);
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
            return failure(
                    "text has " + (n - textStart()) + " token(s); scoring needs a token to predict",
                    n,
                    truncated,
                    start);
        }
        int vocab = config.vocabSize();
        double sum = 0;
        for (int pos = 0; pos < n - 1; pos += chunk) {
            int m = Math.min(chunk, n - 1 - pos);
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
