package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.DenseBatchBackend;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.SingleSequence;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * Decode (batch 1, KV cache, greedy, logits every token) and prefill (one micro-batched forward
 * pass over a prompt) of one model directory, timed in-process after a warm-up. A bench keeps its
 * model loaded so that several variants can be timed in interleaved rounds (each round times every
 * variant once), which keeps a changing machine load from favouring one variant.
 */
public final class DecodeBench implements AutoCloseable {

    /** One variant's figures (medians over the rounds). */
    public record Result(
            double decodeTokensPerSecond,
            double prefillTokensPerSecond,
            double prefillDenseTokensPerSecond,
            long weightBytesPerToken,
            String backend,
            String weightFormat,
            double embedEventsPerSecond) {}

    private final Model model;
    private final InferenceSession session;
    private final DecoderModel<?> net;
    private final SingleSequence state;
    /** The same network with every float32 micro-batch on the dense backend, or null. */
    private final SingleSequence denseState;

    private final WorkerPool pool;
    private final int[] prompt;
    private final int[] prefill;
    private final int decodeTokens;
    private final float[] logits;
    private final DenseBatchBackend dense;
    private final double[] decodeRuns;
    private final double[] prefillRuns;
    private final double[] denseRuns;
    private final double[] embedRuns;
    private final List<InferenceRequest> embedBatch;
    private int rounds;
    private long bytesPerToken;

    public DecodeBench(
            Path dir,
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int maxRounds,
            DenseBatchBackend dense)
            throws IOException {
        this(dir, threads, promptTokens, decodeTokens, prefillTokens, maxRounds, dense, null);
    }

    /** {@code embedTexts}: one micro-batch of embed requests timed per round (null = none). */
    public DecodeBench(
            Path dir,
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int maxRounds,
            DenseBatchBackend dense,
            List<String> embedTexts)
            throws IOException {
        this.model = Model.load(dir);
        Backends.Choice chosen = Backends.chosen();
        Backends.Choice noDense = withoutDense(chosen);
        this.session = new InferenceSession(model, threads, noDense);
        this.net = model.network();
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        this.state = SingleSequence.of(net, noDense, pool);
        int vocab = model.config().vocabSize();
        Random random = new Random(7);
        this.prompt = random.ints(promptTokens, 0, vocab).toArray();
        this.prefill = random.ints(prefillTokens, 0, vocab).toArray();
        this.decodeTokens = decodeTokens;
        this.logits = new float[vocab];
        this.dense = dense != null && net.weightFormat().startsWith("F32") ? dense : null;
        this.denseState = this.dense == null
                ? null
                : SingleSequence.of(
                        net,
                        new Backends.Choice(chosen.kernels(), Optional.empty(), Optional.of(this.dense), true),
                        pool);
        this.decodeRuns = new double[maxRounds];
        this.prefillRuns = new double[maxRounds];
        this.denseRuns = new double[maxRounds];
        this.embedRuns = new double[maxRounds];
        this.embedBatch = embedTexts == null || model.tokenizer().isEmpty()
                ? null
                : embedTexts.stream()
                        .map(t -> InferenceRequest.embed(t, Pooling.MEAN))
                        .toList();
    }

    /**
     * Warm-up decode steps before the timed rounds: this many, or fewer once {@link
     * #DECODE_WARM_UP_NANOS} have passed (but two rounds' worth always). The JIT compiles a decode
     * step's per-product methods only after thousands of calls: with 2 x 8 warm-up steps, a 32-token
     * decode of the small BitNet shape timed 150-183 tok/s, a 256-token one 220-237.
     */
    static final int DECODE_WARM_UP_STEPS = 512;

    /** The warm-up's time limit: a large model's step makes more calls (2B4T's 210 products). */
    static final long DECODE_WARM_UP_NANOS = 3_000_000_000L;

    /** Compiles every path: warm-up decodes (see {@link #DECODE_WARM_UP_STEPS}), two prefills. */
    public void warmUp() {
        int chunk = Math.max(4, decodeTokens);
        long deadline = System.nanoTime() + DECODE_WARM_UP_NANOS;
        for (int done = 0; done < DECODE_WARM_UP_STEPS; done += chunk) {
            if (done >= 2 * chunk && System.nanoTime() > deadline) {
                break;
            }
            decode(chunk, new long[1]);
        }
        for (int i = 0; i < 2; i++) {
            prefill();
            if (dense != null) {
                prefillDense();
            }
            if (embedBatch != null) {
                embed();
            }
        }
    }

    /** One timed decode and prefill (and dense-backend prefill where it applies). */
    public void round() {
        long[] bytes = new long[1];
        decodeRuns[rounds] = decode(decodeTokens, bytes);
        bytesPerToken = bytes[0] / decodeTokens;
        prefillRuns[rounds] = prefill();
        denseRuns[rounds] = dense == null ? Double.NaN : prefillDense();
        embedRuns[rounds] = embedBatch == null ? Double.NaN : embed();
        rounds++;
    }

    public Result result() {
        return new Result(
                median(decodeRuns, rounds),
                median(prefillRuns, rounds),
                median(denseRuns, rounds),
                bytesPerToken,
                session.kernelBackend(),
                net.weightFormat(),
                median(embedRuns, rounds));
    }

    /** Warm-up plus {@code reps} rounds of one model alone. */
    public static Result run(
            Path dir,
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int reps,
            DenseBatchBackend dense)
            throws IOException {
        try (DecodeBench b = new DecodeBench(dir, threads, promptTokens, decodeTokens, prefillTokens, reps, dense)) {
            b.warmUp();
            for (int r = 0; r < reps; r++) {
                b.round();
            }
            return b.result();
        }
    }

    /** Tokens per second of {@code tokens} greedy decode steps after the prompt; bytes[0] = weight bytes read. */
    private double decode(int tokens, long[] bytes) {
        state.rewind();
        state.steps(prompt, 0, prompt.length, null);
        state.logits(logits);
        state.state().resetSparsityStats();
        long nanos = greedySteps(state, logits, tokens);
        bytes[0] = state.state().weightBytesRead();
        return tokens / (nanos / 1e9);
    }

    /** The chosen kernels and batch backend without a dense batch backend: what the bench's decode runs. */
    static Backends.Choice withoutDense(Backends.Choice chosen) {
        return new Backends.Choice(chosen.kernels(), chosen.batch(), Optional.empty(), false);
    }

    /** Nanoseconds of {@code tokens} greedy steps from the state's current logits (already in {@code logits}). */
    static long greedySteps(SingleSequence state, float[] logits, int tokens) {
        long t0 = System.nanoTime();
        for (int i = 0; i < tokens; i++) {
            state.step(Kernels.argmax(logits, logits.length));
            state.logits(logits);
        }
        return System.nanoTime() - t0;
    }

    /** Nanoseconds of one micro-batched forward pass over {@code ids} from an empty cache, plus the last logits. */
    static long prefillNanos(SingleSequence state, int[] ids, float[] logits) {
        long t0 = System.nanoTime();
        state.rewind();
        state.steps(ids, 0, ids.length, null);
        state.logits(logits);
        return System.nanoTime() - t0;
    }

    /** Tokens per second of one micro-batched forward pass over the prefill tokens (plus the last logits). */
    private double prefill() {
        return prefill(state);
    }

    private double prefill(SingleSequence state) {
        return prefill.length / (prefillNanos(state, prefill, logits) / 1e9);
    }

    /** Events per second of one {@code InferenceSession.run(List)} over the embed batch. */
    private double embed() {
        long t0 = System.nanoTime();
        List<InferenceResult> results = session.run(embedBatch);
        long nanos = System.nanoTime() - t0;
        for (InferenceResult r : results) {
            if (!(r instanceof InferenceResult.Embedding)) {
                throw new IllegalStateException("embed request failed in the bench: " + r);
            }
        }
        return embedBatch.size() / (nanos / 1e9);
    }

    private double prefillDense() {
        try {
            return prefill(denseState);
        } catch (RuntimeException | LinkageError e) {
            System.err.println("bench: " + dense.name() + " prefill failed: " + e);
            return Double.NaN;
        }
    }

    static double median(double[] v, int n) {
        if (n == 0) {
            return Double.NaN;
        }
        double[] s = Arrays.copyOf(v, n);
        Arrays.sort(s);
        return s[n / 2];
    }

    @Override
    public void close() {
        session.close();
        if (pool != null) {
            pool.close();
        }
        model.close();
    }
}
