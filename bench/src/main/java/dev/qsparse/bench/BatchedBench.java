package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.Kernels;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.DecoderModel;
import dev.qsparse.runtime.model.ForwardState;
import dev.qsparse.runtime.model.Pass;
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
 *   <li><b>prefill</b>: one sequence of {@code prefill} tokens, {@link DecoderModel#passSize()} positions a pass;
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
    private final WorkerPool pool;
    private final int vocab;
    private final Random random = new Random(11);
    private final Workloads<?> workloads;

    BatchedBench(Path dir, int threads) throws IOException {
        this.model = Model.load(dir);
        this.pool = threads > 1 ? WorkerPool.create(threads) : null;
        this.vocab = model.config().vocabSize();
        this.workloads = workloads(model.network());
    }

    private <S extends ForwardState> Workloads<S> workloads(DecoderModel<S> net) {
        return new Workloads<>(net);
    }

    double prefill(int tokens) {
        return workloads.prefill(tokens);
    }

    double embed(int events, int eventTokens) {
        return workloads.embed(events, eventTokens);
    }

    double decode(int n, int steps) {
        return workloads.decode(n, steps);
    }

    /** The workloads on the model's own state type, in passes of its pass size. */
    private final class Workloads<S extends ForwardState> {
        private final DecoderModel<S> net;
        private final Pass<S> pass;

        Workloads(DecoderModel<S> net) {
            this.net = net;
            this.pass = new Pass<>(net.passSize());
        }

        private S state() {
            // -Dqsparse.backend=java measures the Vector API kernels alone.
            Backends.Choice chosen = Backends.chosen();
            return net.newState(new Backends.Choice(chosen.kernels(), chosen.batch(), Optional.empty(), false), pool);
        }

        /** Runs the slots (states[i], tokens[i], positions[i]) in passes; hidden[i] may be null. */
        private void run(List<S> states, int[] tokens, int[] positions, float[][] hidden) {
            for (int done = 0; done < states.size(); ) {
                pass.clear();
                int n = Math.min(pass.capacity(), states.size() - done);
                for (int i = done; i < done + n; i++) {
                    pass.add(states.get(i), tokens[i], positions[i], hidden == null ? null : hidden[i]);
                }
                net.forward(pass);
                done += n;
            }
        }

        double prefill(int tokens) {
            int[] ids = random.ints(tokens, 0, vocab).toArray();
            S s = state();
            List<S> owners = java.util.Collections.nCopies(tokens, s);
            int[] positions = java.util.stream.IntStream.range(0, tokens).toArray();
            long t0 = System.nanoTime();
            run(owners, ids, positions, null);
            return tokens / seconds(t0);
        }

        double embed(int events, int eventTokens) {
            List<S> states = new ArrayList<>();
            for (int e = 0; e < events; e++) {
                states.add(state());
            }
            int total = events * eventTokens;
            List<S> owners = new ArrayList<>(total);
            int[] tokens = random.ints(total, 0, vocab).toArray();
            int[] positions = new int[total];
            float[][] hidden = new float[total][model.config().hiddenSize()];
            for (int p = 0; p < eventTokens; p++) { // round-robin: every pass mixes events
                for (int e = 0; e < events; e++) {
                    positions[owners.size()] = p;
                    owners.add(states.get(e));
                }
            }
            long t0 = System.nanoTime();
            run(owners, tokens, positions, hidden);
            float[][] pooled = new float[events][model.config().hiddenSize()];
            for (int i = 0; i < total; i++) {
                Kernels.add(pooled[i % events], hidden[i], pooled[0].length);
            }
            return events / seconds(t0);
        }

        /** Greedy decode of {@code n} sequences together, {@code steps} tokens each after a 16-token prompt. */
        double decode(int n, int steps) {
            int promptLength = 16;
            List<S> states = new ArrayList<>();
            List<S> owners = new ArrayList<>();
            int[] promptTokens = random.ints(n * promptLength, 0, vocab).toArray();
            int[] promptPositions = new int[n * promptLength];
            float[][] promptHidden = new float[n * promptLength][];
            float[][] hidden = new float[n][model.config().hiddenSize()];
            for (int i = 0; i < n; i++) {
                states.add(state());
                for (int p = 0; p < promptLength; p++) {
                    promptPositions[owners.size()] = p;
                    promptHidden[owners.size()] = p == promptLength - 1 ? hidden[i] : null;
                    owners.add(states.get(i));
                }
            }
            run(owners, promptTokens, promptPositions, promptHidden);
            float[][] logits = new float[n][vocab];
            int[] next = new int[n];
            int[] positions = new int[n];
            long t0 = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                net.logits(states.get(0), hidden, n, logits);
                for (int i = 0; i < n; i++) {
                    next[i] = Kernels.argmax(logits[i], vocab);
                    positions[i] = promptLength + step;
                }
                run(states, next, positions, hidden);
            }
            return (double) n * steps / seconds(t0);
        }
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
