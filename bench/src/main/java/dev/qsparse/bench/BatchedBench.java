package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;

/**
 * The batched engine's workloads on one model, straight on the network (random token ids, so any
 * model directory works, with or without a tokenizer):
 * <ul>
 *   <li><b>prefill</b>: one sequence of {@code prefill} tokens, {@link DecoderModel#MAX_SLOTS} positions a pass;
 *   <li><b>embed</b>: {@code events} sequences of {@code eventTokens} tokens, their positions packed
 *       across sequences into shared passes (what {@code InferenceSession.run(List)} does for a
 *       micro-batch of embed events), in events/s;
 *   <li><b>decode x1</b> and <b>decode xN</b>: greedy decode (logits every token) of one sequence,
 *       and of N sequences at once with one forward pass and one lm-head product per step
 *       (continuous batching), in generated tokens/s over all sequences.
 * </ul>
 * Run: {@code java --add-modules jdk.incubator.vector -cp <bench jar + libs> dev.qsparse.bench.BatchedBench
 * [--threads N] [--reps R] [--concurrent N] MODEL_DIR...}; the models are interleaved round by round
 * and the median of the rounds is printed as one markdown table.
 */
public final class BatchedBench {

    record Row(String model, double prefill, double embedEvents, double decode1, double decodeN) {}

    private final Model model;
    private final DecoderModel net;
    private final WorkerPool pool;
    private final int vocab;
    private final Random random = new Random(11);

    BatchedBench(Path dir, int threads) throws IOException {
        this.model = Model.load(dir);
        this.net = model.network();
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        this.vocab = model.config().vocabSize();
    }

    private ForwardState state() {
        // -Dqsparse.backend=java measures the Vector API kernels alone.
        Backends.Choice chosen = Backends.chosen();
        return net.newState(new Backends.Choice(chosen.kernels(), chosen.batch(), Optional.empty(), false), pool);
    }

    double prefill(int tokens) {
        int[] ids = random.ints(tokens, 0, vocab).toArray();
        ForwardState s = state();
        long t0 = System.nanoTime();
        net.forwardBatch(s, ids, 0, tokens, 0, null);
        return tokens / seconds(t0);
    }

    double embed(int events, int eventTokens) {
        ForwardState[] states = new ForwardState[events];
        for (int e = 0; e < events; e++) {
            states[e] = state();
        }
        int total = events * eventTokens;
        ForwardState[] owners = new ForwardState[total];
        int[] tokens = random.ints(total, 0, vocab).toArray();
        int[] positions = new int[total];
        float[][] hidden = new float[total][model.config().hiddenSize()];
        int slot = 0;
        for (int p = 0; p < eventTokens; p++) { // round-robin: every pass mixes events
            for (int e = 0; e < events; e++) {
                owners[slot] = states[e];
                positions[slot++] = p;
            }
        }
        long t0 = System.nanoTime();
        net.forwardSlots(owners, tokens, positions, total, hidden);
        float[][] pooled = new float[events][model.config().hiddenSize()];
        for (int i = 0; i < total; i++) {
            Kernels.add(pooled[i % events], hidden[i], pooled[0].length);
        }
        return events / seconds(t0);
    }

    /** Greedy decode of {@code n} sequences together, {@code steps} tokens each after a 16-token prompt. */
    double decode(int n, int steps) {
        ForwardState[] states = new ForwardState[n];
        int promptLength = 16;
        List<ForwardState> owners = new ArrayList<>();
        List<Integer> toks = new ArrayList<>();
        List<Integer> poss = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            states[i] = state();
            for (int p = 0; p < promptLength; p++) {
                owners.add(states[i]);
                toks.add(random.nextInt(vocab));
                poss.add(p);
            }
        }
        net.forwardSlots(
                owners.toArray(new ForwardState[0]),
                toks.stream().mapToInt(Integer::intValue).toArray(),
                poss.stream().mapToInt(Integer::intValue).toArray(),
                owners.size(),
                null);
        float[][] logits = new float[n][vocab];
        float[][] hidden = new float[n][];
        int[] next = new int[n];
        int[] positions = new int[n];
        long t0 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            if (n == 1) {
                net.logits(states[0], logits[0]);
            } else {
                for (int i = 0; i < n; i++) {
                    hidden[i] = states[i].hidden;
                }
                net.logitsBatch(states[0], hidden, n, logits);
            }
            for (int i = 0; i < n; i++) {
                next[i] = Kernels.argmax(logits[i], vocab);
                positions[i] = promptLength + step;
            }
            if (n == 1) {
                net.forward(states[0], next[0], positions[0]);
            } else {
                net.forwardSlots(states, next, positions, n, null);
            }
        }
        return (double) n * steps / seconds(t0);
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private void close() {
        if (pool != null) {
            pool.close();
        }
        model.close();
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    public static void main(String[] args) throws IOException {
        int threads = 1;
        int reps = 3;
        int concurrent = 16;
        int prefillTokens = 256;
        int events = 32;
        int eventTokens = 40;
        int steps = 32;
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--concurrent" -> concurrent = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                default -> dirs.add(Path.of(args[i]));
            }
        }
        if (dirs.isEmpty()) {
            System.err.println(
                    "usage: BatchedBench [--threads N] [--reps R] [--concurrent N] [--steps S] MODEL_DIR...");
            System.exit(2);
        }
        List<BatchedBench> benches = new ArrayList<>();
        for (Path d : dirs) {
            benches.add(new BatchedBench(d, threads));
        }
        // Warm-up: every path of every model compiled before timing.
        for (BatchedBench b : benches) {
            b.prefill(prefillTokens);
            b.embed(events, eventTokens);
            b.decode(1, 4);
            b.decode(concurrent, 4);
        }
        double[][][] runs = new double[benches.size()][4][reps];
        for (int r = 0; r < reps; r++) {
            for (int m = 0; m < benches.size(); m++) {
                BatchedBench b = benches.get(m);
                System.err.printf(
                        Locale.ROOT,
                        "round %d/%d: %s%n",
                        r + 1,
                        reps,
                        dirs.get(m).getFileName());
                runs[m][0][r] = b.prefill(prefillTokens);
                runs[m][1][r] = b.embed(events, eventTokens);
                runs[m][2][r] = b.decode(1, steps);
                runs[m][3][r] = b.decode(concurrent, steps);
            }
        }
        System.out.printf(
                Locale.ROOT,
                "threads %d, kernels %s, median of %d rounds; prefill %d tokens; embed %d events x %d tokens;"
                        + " decode %d steps after a 16-token prompt%n%n",
                threads,
                dev.qsparse.runtime.kernel.Backends.chosen().describe(),
                reps,
                prefillTokens,
                events,
                eventTokens,
                steps);
        System.out.printf(
                Locale.ROOT,
                "| model | prefill tok/s | embed events/s (batch %d) | decode tok/s x1 | decode tok/s x%d | x%d / x1 |%n",
                events,
                concurrent,
                concurrent);
        System.out.println("|---|---|---|---|---|---|");
        for (int m = 0; m < benches.size(); m++) {
            double d1 = median(runs[m][2]);
            double dn = median(runs[m][3]);
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.1f | %.1f | %.1f | %.1f | %.2fx |%n",
                    dirs.get(m).getFileName(),
                    median(runs[m][0]),
                    median(runs[m][1]),
                    d1,
                    dn,
                    dn / d1);
            benches.get(m).close();
        }
    }
}
