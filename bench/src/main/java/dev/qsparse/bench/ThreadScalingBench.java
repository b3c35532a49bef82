package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.WorkerPool;
import dev.qsparse.runtime.model.SingleSequence;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;

/**
 * What kernel threads buy on one model, two ways:
 *
 * <ol>
 *   <li>One session: greedy decode and one prefill pass, 1-thread and T-thread rounds alternating
 *       in one JVM, so that the ratio survives a shared machine's drift (a ratio of separate runs
 *       does not: decode at 1 thread alone swung 285-385 tok/s between runs here).
 *   <li>S sessions at once in this JVM, T threads each, as a task manager's slots run them: decode
 *       tok/s of each. With S x T above the cores, a worker that the scheduler leaves waiting must
 *       not hold up its session's calls.
 * </ol>
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp "bench/target/classes:bench/target/lib/*"
 * dev.qsparse.bench.ThreadScalingBench MODEL_DIR [threads=2] [sessions=2] [decode-tokens=32]
 * [rounds=20] [prefill-tokens=128]}, pinned with taskset to the cores it may use.
 */
public final class ThreadScalingBench {

    private ThreadScalingBench() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int sessions = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int tokens = args.length > 3 ? Integer.parseInt(args[3]) : 32;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 20;
        int prefill = args.length > 5 ? Integer.parseInt(args[5]) : 128;
        if (threads < 1 || sessions < 1 || tokens < 1 || rounds < 1 || prefill < 1) {
            throw new IllegalArgumentException("threads, sessions, tokens, rounds and prefill must be >= 1");
        }
        Model model = Model.load(dir);
        System.out.printf(
                Locale.ROOT,
                "%s: kernels %s, %d cores available%n",
                dir,
                Backends.chosen().kernels().name(),
                Runtime.getRuntime().availableProcessors());
        oneSession(model, threads, tokens, rounds, prefill);
        concurrentSessions(model, threads, sessions, tokens, rounds);
        System.exit(0); // the pools' daemon workers need no shutdown
    }

    private static void oneSession(Model model, int threads, int tokens, int rounds, int prefill) {
        Decoder one = new Decoder(model, 1, prefill);
        Decoder many = new Decoder(model, threads, prefill);
        for (int w = 0; w < 16; w++) {
            one.decode(32);
            many.decode(32);
            one.prefill();
            many.prefill();
        }
        long d1 = 0;
        long dn = 0;
        long p1 = 0;
        long pn = 0;
        for (int r = 0; r < rounds; r++) {
            d1 += one.decode(tokens);
            dn += many.decode(tokens);
            p1 += one.prefill();
            pn += many.prefill();
        }
        double decode1 = perSecond((long) rounds * tokens, d1);
        double decodeN = perSecond((long) rounds * tokens, dn);
        double prefill1 = perSecond((long) rounds * prefill, p1);
        double prefillN = perSecond((long) rounds * prefill, pn);
        System.out.printf(
                Locale.ROOT,
                "one session, rounds alternating: decode 1 thread %.1f tok/s, %d threads %.1f tok/s (%.2fx);"
                        + " prefill %d tokens: 1 thread %.1f tok/s, %d threads %.1f tok/s (%.2fx)%n",
                decode1,
                threads,
                decodeN,
                decodeN / decode1,
                prefill,
                prefill1,
                threads,
                prefillN,
                prefillN / prefill1);
    }

    private static void concurrentSessions(Model model, int threads, int sessions, int tokens, int rounds)
            throws Exception {
        CyclicBarrier start = new CyclicBarrier(sessions);
        double[] rates = new double[sessions];
        Throwable[] failures = new Throwable[sessions];
        List<Thread> runners = new ArrayList<>();
        for (int s = 0; s < sessions; s++) {
            int id = s;
            Thread t = new Thread(
                    () -> {
                        try {
                            Decoder d = new Decoder(model, threads, 1);
                            for (int w = 0; w < 16; w++) {
                                d.decode(32);
                            }
                            start.await();
                            long nanos = 0;
                            for (int r = 0; r < rounds; r++) {
                                nanos += d.decode(tokens);
                            }
                            rates[id] = perSecond((long) rounds * tokens, nanos);
                        } catch (Throwable e) {
                            failures[id] = e;
                            start.reset();
                        }
                    },
                    "session-" + s);
            runners.add(t);
            t.start();
        }
        for (Thread t : runners) {
            t.join();
        }
        StringBuilder each = new StringBuilder();
        double sum = 0;
        for (int s = 0; s < sessions; s++) {
            if (failures[s] != null) {
                throw new IllegalStateException("session " + s + " failed", failures[s]);
            }
            each.append(s == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", rates[s]));
            sum += rates[s];
        }
        System.out.printf(
                Locale.ROOT,
                "%d sessions at once, %d threads each: decode tok/s %s (sum %.1f)%n",
                sessions,
                threads,
                each,
                sum);
    }

    private static double perSecond(long tokens, long nanos) {
        return tokens / (nanos / 1e9);
    }

    /** One sequence on its own pool: greedy decode after a 1-token prompt, and a prefill of random ids. */
    private static final class Decoder {
        private final SingleSequence state;
        private final float[] logits;
        private final int[] prompt;

        Decoder(Model model, int threads, int prefill) {
            Backends.Choice noDense = DecodeBench.withoutDense(Backends.chosen());
            this.state = SingleSequence.of(model.network(), noDense, threads > 1 ? WorkerPool.create(threads) : null);
            this.logits = new float[model.config().vocabSize()];
            this.prompt = new Random(7).ints(prefill, 0, logits.length).toArray();
        }

        long decode(int tokens) {
            state.rewind();
            state.steps(prompt, 0, 1, null);
            state.logits(logits);
            return DecodeBench.greedySteps(state, logits, tokens);
        }

        long prefill() {
            return DecodeBench.prefillNanos(state, prompt, logits);
        }
    }
}
