package dev.qsparse.runtime.inference;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Kernels;
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
 */
public final class InferenceSession {

    private final Model model;
    private final DecoderModel network;
    private final ModelConfig config;
    private final ForwardState state;
    private final float[] logits;

    public InferenceSession(Model model) {
        this.model = model;
        this.network = model.network();
        this.config = network.config();
        this.state = network.newState();
        this.logits = new float[config.vocabSize()];
    }

    public Model model() {
        return model;
    }

    /** Serves a micro-batch, one result per request in the same order. */
    public List<InferenceResult> run(List<InferenceRequest> batch) {
        List<InferenceResult> out = new ArrayList<>(batch.size());
        for (InferenceRequest request : batch) {
            out.add(run(request));
        }
        return out;
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
        return switch (request.task()) {
            case GENERATE -> generate(tokens, request.generation(), start);
            case EMBED -> embed(tokens, request.pooling(), start);
            case SCORE -> score(tokens, start);
        };
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
        for (int pos = 0; pos < tokens.length; pos++) {
            network.forward(state, tokens[pos], pos);
            network.logits(state, logits);
            out[pos] = logits.clone();
        }
        return out;
    }

    /** Final hidden states for every position (no BOS added): [positions][hidden]. */
    public float[][] hiddenStates(int[] tokens) {
        float[][] out = new float[tokens.length][];
        state.resetSparsityStats();
        for (int pos = 0; pos < tokens.length; pos++) {
            network.forward(state, tokens[pos], pos);
            out[pos] = state.hidden.clone();
        }
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
        int pos = 0;
        for (int token : prompt) {
            network.forward(state, token, pos++);
        }
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
        for (int pos = 0; pos < n; pos++) {
            network.forward(state, tokens[pos], pos);
            if (pos >= textStart) {
                Kernels.add(sum, state.hidden, d);
            }
        }
        float[] vector = pooling == Pooling.LAST ? state.hidden.clone() : sum;
        double norm = 0;
        for (float v : vector) {
            norm += (double) v * v;
        }
        float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < d; i++) {
            vector[i] *= inv;
        }
        return new InferenceResult.Embedding(vector, pooling, stats(n, truncated, start));
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
        for (int pos = 0; pos < n - 1; pos++) {
            network.forward(state, tokens[pos], pos);
            network.logits(state, logits);
            sum += logits[tokens[pos + 1]] - Kernels.logSumExp(logits, vocab);
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
