package dev.qsparse.bench;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.RandomModels;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Embedding models at the published 0.6B shape (issue 26): a Qwen3-Embedding-0.6B-shaped model as
 * published (BF16 weights, float activations) and converted to int8 weights, and a
 * microsoft/bitnet-embedding-0.6b-shaped one (the same backbone, every
 * projection a BitLinear with its input RMSNorm) converted to the 2-bit form with int8 activations;
 * random weights, the model's own last-token pooling, a borrowed tokenizer. Events/s of a micro-batch
 * of texts (one {@link InferenceSession#run(List)}) and of the same texts one at a time, with the p99
 * of the single-event latencies. The models are written once under {@code work} (about 3 GB).
 */
public final class EmbeddingModelsBench {

    /** One model's figures. */
    public record Row(
            String model,
            String weights,
            double batchEventsPerSecond,
            double singleEventsPerSecond,
            double p99Millis) {}

    private EmbeddingModelsBench() {}

    /** Writes (once) and times the three models; {@code tokenizerDonor} is a directory with a tokenizer.json. */
    public static List<Row> run(
            Path work, Path tokenizerDonor, List<String> texts, int threads, int reps, PrintStream log)
            throws IOException {
        RandomModels.Qwen3Shape shape = RandomModels.Qwen3Shape.qwen3_0_6B();
        Path floatSource = source(work.resolve("qwen3-embedding-0.6b-bf16"), shape, false, tokenizerDonor, log);
        Path bitnetSource = source(work.resolve("bitnet-embedding-0.6b-bf16"), shape, true, tokenizerDonor, log);
        Path int8 = converted(floatSource, work.resolve("qwen3-embedding-0.6b-int8"), ModelConverter.Target.INT8, log);
        Path ternary = converted(
                bitnetSource, work.resolve("bitnet-embedding-0.6b-ternary"), ModelConverter.Target.TERNARY, log);
        List<Row> rows = new ArrayList<>();
        rows.add(time(
                "Qwen3-Embedding-0.6B shape",
                "bf16 as published, f32 activations",
                floatSource,
                texts,
                threads,
                reps,
                log));
        rows.add(time("Qwen3-Embedding-0.6B shape", "int8 weights, f32 activations", int8, texts, threads, reps, log));
        rows.add(time("bitnet-embedding-0.6b shape", "ternary, int8 activations", ternary, texts, threads, reps, log));
        return rows;
    }

    private static Path source(Path dir, RandomModels.Qwen3Shape shape, boolean bitLinear, Path donor, PrintStream log)
            throws IOException {
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            log.println("bench: writing " + dir + " ...");
            RandomModels.writeQwen3(dir, shape, bitLinear ? 17 : 16, bitLinear);
        }
        Path tokenizer = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizer)) {
            Files.copy(donor.resolve("tokenizer.json"), tokenizer);
        }
        return dir;
    }

    private static Path converted(Path source, Path target, ModelConverter.Target format, PrintStream log)
            throws IOException {
        if (!Files.isRegularFile(target.resolve("config.json"))) {
            log.println("bench: converting " + source.getFileName() + " to " + format + " ...");
            ModelConverter.convert(source, target, format, false); // copies the tokenizer and module files too
        }
        return target;
    }

    private static Row time(
            String name, String weights, Path dir, List<String> texts, int threads, int reps, PrintStream log)
            throws IOException {
        log.println("bench: " + name + ", " + weights + " ...");
        List<InferenceRequest> batch = texts.stream()
                .map(t -> InferenceRequest.embed(t, null)) // the model's own pooling: last token
                .toList();
        try (Model model = Model.load(dir);
                InferenceSession session = new InferenceSession(model, threads, Backends.chosen())) {
            check(session.run(batch.subList(0, Math.min(2, batch.size())))); // warm-up
            double[] batchSeconds = new double[reps];
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                check(session.run(batch));
                batchSeconds[r] = (System.nanoTime() - t0) / 1e9;
            }
            double[] single = new double[batch.size()];
            long t0 = System.nanoTime();
            for (int i = 0; i < batch.size(); i++) {
                long s = System.nanoTime();
                check(List.of(session.run(batch.get(i))));
                single[i] = (System.nanoTime() - s) / 1e6;
            }
            double singleSeconds = (System.nanoTime() - t0) / 1e9;
            Arrays.sort(batchSeconds);
            Arrays.sort(single);
            double p99 = single[Math.min(single.length - 1, (int) Math.ceil(0.99 * single.length) - 1)];
            return new Row(name, weights, batch.size() / batchSeconds[reps / 2], batch.size() / singleSeconds, p99);
        }
    }

    private static void check(List<InferenceResult> results) {
        for (InferenceResult r : results) {
            if (!(r instanceof InferenceResult.Embedding)) {
                throw new IllegalStateException("embedding failed: " + r);
            }
        }
    }

    /** The rows as a markdown table. */
    public static String table(List<Row> rows, int events) {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | weights | events/s, batch of ")
                .append(events)
                .append(" | events/s, one at a time | p99 ms per event, one at a time | vs bf16, batch |\n");
        sb.append("|---|---|---|---|---|---|\n");
        double bf16 = rows.get(0).batchEventsPerSecond();
        for (Row r : rows) {
            sb.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %.2f | %.2f | %.0f | %.2fx |%n",
                    r.model(),
                    r.weights(),
                    r.batchEventsPerSecond(),
                    r.singleEventsPerSecond(),
                    r.p99Millis(),
                    r.batchEventsPerSecond() / bf16));
        }
        return sb.toString();
    }

    /** {@code java ... EmbeddingModelsBench WORK_DIR TOKENIZER_DIR EVENTS_FILE [THREADS=1] [EVENTS=32] [REPS=3]}. */
    public static void main(String[] args) throws IOException {
        Path work = Path.of(args[0]);
        Path donor = Path.of(args[1]);
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        int events = args.length > 4 ? Integer.parseInt(args[4]) : 32;
        int reps = args.length > 5 ? Integer.parseInt(args[5]) : 3;
        List<String> texts = Files.readAllLines(Path.of(args[2])).stream()
                .filter(l -> !l.isBlank())
                .limit(events)
                .toList();
        List<Row> rows = run(work, donor, texts, threads, reps, System.err);
        System.out.println("Machine: " + BenchSuite.machine() + ", threads " + threads);
        System.out.print(table(rows, texts.size()));
    }
}
