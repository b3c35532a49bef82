package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One micro-batch of 16 embeds and 16 greedy generations (16 new tokens each, EOS ignored), as
 * the operator hands a session a mixed batch: milliseconds per micro-batch, median of the rounds
 * after two warm-up batches. Uses only the public session API, so the same file builds against
 * an older tree for an A/B in one session.
 * Run: {@code java --add-modules jdk.incubator.vector -cp <bench jar + libs>
 * dev.qsparse.bench.MixedBatchBench MODEL_DIR [ROUNDS] [THREADS]} (the model needs a tokenizer.json).
 */
public final class MixedBatchBench {

    private MixedBatchBench() {}

    static List<InferenceRequest> batch() {
        List<InferenceRequest> out = new ArrayList<>();
        GenerationParams greedy = GenerationParams.defaults().withMaxNewTokens(16);
        greedy = new GenerationParams(
                greedy.maxNewTokens(),
                greedy.temperature(),
                greedy.topK(),
                greedy.topP(),
                greedy.seed(),
                greedy.stopStrings(),
                false);
        for (int i = 0; i < 16; i++) {
            String text = "event " + i + ": a customer wrote about the delivery of order " + (1000 + i)
                    + " and the state of the parcel, which was ".repeat(1 + i % 3);
            out.add(InferenceRequest.embed(text, Pooling.MEAN));
            out.add(InferenceRequest.generate("It is a truth universally acknowledged, event " + i, greedy));
        }
        return out;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        try (Model model = Model.load(dir);
                InferenceSession session = model.newSession(threads)) {
            List<InferenceRequest> batch = batch();
            for (int w = 0; w < 2; w++) {
                session.run(batch);
            }
            double[] ms = new double[rounds];
            int generated = 0;
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                List<InferenceResult> results = session.run(batch);
                ms[r] = (System.nanoTime() - t0) / 1e6;
                generated = 0;
                for (InferenceResult res : results) {
                    if (res instanceof InferenceResult.Generation g) {
                        generated += g.tokens().length;
                    } else if (res instanceof InferenceResult.Failure f) {
                        throw new IllegalStateException(f.reason());
                    }
                }
            }
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            System.out.printf(
                    Locale.ROOT,
                    "%s: 16 embeds + 16 generations (%d tokens): median %.1f ms per micro-batch, rounds %s%n",
                    dir.getFileName(),
                    generated,
                    sorted[rounds / 2],
                    Arrays.toString(Arrays.stream(ms).map(v -> Math.round(v)).toArray()));
        }
    }
}
