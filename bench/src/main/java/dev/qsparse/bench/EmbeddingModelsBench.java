package dev.qsparse.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.RandomModels;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

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

    /**
     * One model's figures. The events per CPU-second count this process's CPU time (every thread,
     * the JIT and GC included) instead of the wall clock: on a machine shared with other work they
     * move far less with the load than events/s do. NaN where not measured.
     */
    public record Row(
            String model,
            String weights,
            double batchEventsPerSecond,
            double singleEventsPerSecond,
            double p99Millis,
            String quality,
            double batchEventsPerCpuSecond,
            double singleEventsPerCpuSecond) {

        public Row(
                String model,
                String weights,
                double batchEventsPerSecond,
                double singleEventsPerSecond,
                double p99Millis,
                String quality) {
            this(
                    model,
                    weights,
                    batchEventsPerSecond,
                    singleEventsPerSecond,
                    p99Millis,
                    quality,
                    Double.NaN,
                    Double.NaN);
        }

        Row withQuality(String q) {
            return new Row(
                    model,
                    weights,
                    batchEventsPerSecond,
                    singleEventsPerSecond,
                    p99Millis,
                    q,
                    batchEventsPerCpuSecond,
                    singleEventsPerCpuSecond);
        }
    }

    /** This process's CPU time so far, in seconds (all threads). */
    static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                        .getProcessCpuTime()
                / 1e9;
    }

    /** PyTorch beside us: the interpreter (with torch) and bench/torch_embed_qwen3.py, or null for none. */
    public record TorchPeer(String python, Path script) {}

    /**
     * ONNX Runtime beside us ({@link EmbeddingModelPeer#onnxRuntime}), with the interpreter that exports
     * the model for it (Debian's python3 with torch), or null for none.
     */
    public record OnnxPeer(EmbeddingModelPeer engine, String python) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private EmbeddingModelsBench() {}

    /** Writes (once) and times the three models; {@code tokenizerDonor} is a directory with a tokenizer.json. */
    public static List<Row> run(
            Path work,
            Path tokenizerDonor,
            List<String> texts,
            int threads,
            int reps,
            TorchPeer torch,
            OnnxPeer onnx,
            PrintStream log)
            throws Exception {
        RandomModels.Qwen3Shape shape = RandomModels.Qwen3Shape.qwen3_0_6B();
        Path floatSource = source(work.resolve("qwen3-embedding-0.6b-bf16"), shape, false, tokenizerDonor, log);
        Path bitnetSource = source(work.resolve("bitnet-embedding-0.6b-bf16"), shape, true, tokenizerDonor, log);
        Path int8 = converted(floatSource, work.resolve("qwen3-embedding-0.6b-int8"), ModelConverter.Target.INT8, log);
        Path ternary = converted(
                bitnetSource, work.resolve("bitnet-embedding-0.6b-ternary"), ModelConverter.Target.TERNARY, log);
        List<Row> rows = new ArrayList<>();
        List<float[]> published = new ArrayList<>();
        rows.add(time(
                "Qwen3-Embedding-0.6B shape",
                "bf16 as published, f32 activations",
                floatSource,
                texts,
                threads,
                reps,
                published,
                log));
        rows.add(time(
                "Qwen3-Embedding-0.6B shape", "int8 weights, f32 activations", int8, texts, threads, reps, null, log));
        rows.add(time(
                "bitnet-embedding-0.6b shape", "ternary, int8 activations", ternary, texts, threads, reps, null, log));
        for (double keep : new double[] {0.7, 0.5}) {
            Path sparse = withTopK(ternary, work.resolve("bitnet-embedding-0.6b-ternary-topk" + keep), keep);
            Row r = time(
                    "bitnet-embedding-0.6b shape",
                    "ternary, int8 activations, topk_ratio " + keep,
                    sparse,
                    texts,
                    threads,
                    reps,
                    null,
                    log);
            rows.add(r.withQuality(cosines(ternary, sparse, texts, threads)));
        }
        if (torch != null) {
            Row peer = torchRow(
                    "Qwen3-Embedding-0.6B shape",
                    "the bf16 weights as f32",
                    floatSource,
                    texts,
                    threads,
                    torch,
                    work,
                    log);
            if (peer != null) {
                rows.add(peer);
            }
            // BitLinear as a PyTorch user runs it: ternary weights and int8 activations fake-quantized in float.
            peer = torchRow(
                    "bitnet-embedding-0.6b shape",
                    "ternary and int8 rounding in f32",
                    bitnetSource,
                    texts,
                    threads,
                    torch,
                    work,
                    log);
            if (peer != null) {
                rows.add(peer);
            }
        }
        if (onnx != null) {
            rows.add(peerRow(onnx, floatSource, texts, published, threads, reps, work, log));
        }
        return rows;
    }

    /**
     * The token ids our runtime embeds each text with: the model's tokenizer and its template's
     * suffix (Qwen3-Embedding's {@code <|endoftext|>}), the ids a peer must be given.
     */
    public static List<int[]> tokenIds(Path model, List<String> texts) throws IOException {
        List<int[]> ids = new ArrayList<>();
        try (Model m = Model.load(model)) {
            var tokenizer = m.tokenizer().orElseThrow();
            int[] suffix = tokenizer.suffixTokens();
            for (String t : texts) {
                int[] enc = tokenizer.encode(t);
                int[] all = Arrays.copyOf(enc, enc.length + suffix.length);
                System.arraycopy(suffix, 0, all, enc.length, suffix.length);
                ids.add(all);
            }
        }
        return ids;
    }

    /**
     * A peer engine on the same token ids, timed as ours: the batch in one call (median of {@code
     * reps}), then one text per call with the p99; its quality column is the cosine of its batch
     * embeddings to {@code ours} (our bf16 row's), mean / least.
     */
    private static Row peerRow(
            OnnxPeer peer,
            Path model,
            List<String> texts,
            List<float[]> ours,
            int threads,
            int reps,
            Path work,
            PrintStream log)
            throws Exception {
        EmbeddingModelPeer engine = peer.engine();
        List<int[]> ids = tokenIds(model, texts);
        log.println("bench: " + engine.engine() + " on " + model.getFileName() + " (exported once) ...");
        String note = engine.open(model, work, peer.python(), threads);
        log.println("bench: " + note);
        engine.embed(ids.subList(0, Math.min(2, ids.size()))); // warm-up, as ours
        double[] batchSeconds = new double[reps];
        float[][] vectors = null;
        double cpu0 = cpuSeconds();
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            vectors = engine.embed(ids);
            batchSeconds[r] = (System.nanoTime() - t0) / 1e9;
        }
        double batchCpu = cpuSeconds() - cpu0;
        double[] single = new double[ids.size()];
        cpu0 = cpuSeconds();
        long t0 = System.nanoTime();
        for (int i = 0; i < ids.size(); i++) {
            long s = System.nanoTime();
            engine.embed(List.of(ids.get(i)));
            single[i] = (System.nanoTime() - s) / 1e6;
        }
        double singleSeconds = (System.nanoTime() - t0) / 1e9;
        double singleCpu = cpuSeconds() - cpu0;
        Arrays.sort(batchSeconds);
        double sum = 0;
        double least = 1;
        double maxDiff = 0;
        for (int i = 0; i < ours.size(); i++) {
            double c = EmbedTable.cosine(ours.get(i), vectors[i]);
            sum += c;
            least = Math.min(least, c);
            for (int d = 0; d < vectors[i].length; d++) {
                maxDiff = Math.max(maxDiff, Math.abs(ours.get(i)[d] - vectors[i][d]));
            }
        }
        return new Row(
                "Qwen3-Embedding-0.6B shape",
                engine.engine() + " f32, the bf16 weights as f32 (one padded run per batch)",
                ids.size() / batchSeconds[reps / 2],
                ids.size() / singleSeconds,
                p99(single),
                String.format(
                        Locale.ROOT,
                        "%.8f / %.8f to ours bf16, largest abs diff %.1e",
                        sum / ours.size(),
                        least,
                        maxDiff),
                reps * ids.size() / batchCpu,
                ids.size() / singleCpu);
    }

    private static double p99(double[] millis) {
        double[] s = millis.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(0.99 * s.length) - 1)];
    }

    /** A copy of {@code dir} (files linked, not copied) whose config.json keeps {@code keep} of every projection input. */
    private static Path withTopK(Path dir, Path out, double keep) throws IOException {
        if (Files.isRegularFile(out.resolve("config.json"))) {
            return out;
        }
        try (var files = Files.walk(dir)) {
            for (Path f : files.toList()) {
                Path target = out.resolve(dir.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else if (!f.equals(dir.resolve("config.json"))) {
                    Files.createLink(target, f);
                }
            }
        }
        ObjectNode config =
                (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        Files.writeString(
                out.resolve("config.json"), config.put("topk_ratio", keep).toString());
        return out;
    }

    /** Mean / least cosine of {@code sparse}'s embeddings to {@code dense}'s over the texts. */
    private static String cosines(Path dense, Path sparse, List<String> texts, int threads) throws IOException {
        List<InferenceRequest> batch =
                texts.stream().map(t -> InferenceRequest.embed(t, null)).toList();
        List<InferenceResult> a;
        List<InferenceResult> b;
        try (Model m = Model.load(dense);
                InferenceSession s = new InferenceSession(m, threads, Backends.chosen())) {
            a = s.run(batch);
        }
        try (Model m = Model.load(sparse);
                InferenceSession s = new InferenceSession(m, threads, Backends.chosen())) {
            b = s.run(batch);
        }
        double sum = 0;
        double least = 1;
        for (int i = 0; i < a.size(); i++) {
            double c = EmbedTable.cosine(
                    ((InferenceResult.Embedding) a.get(i)).vector(), ((InferenceResult.Embedding) b.get(i)).vector());
            sum += c;
            least = Math.min(least, c);
        }
        return String.format(Locale.ROOT, "%.4f / %.4f", sum / a.size(), least);
    }

    /**
     * PyTorch eager on the same weights (widened to f32) and the same token ids, one text per forward
     * pass as the reference embeds; null with a log line when it cannot run.
     */
    private static Row torchRow(
            String name,
            String weights,
            Path model,
            List<String> texts,
            int threads,
            TorchPeer torch,
            Path work,
            PrintStream log)
            throws IOException, InterruptedException {
        List<int[]> ids = tokenIds(model, texts);
        Path idsFile = work.resolve("embedding-models-ids.json");
        JSON.writeValue(idsFile.toFile(), ids);
        log.println("bench: PyTorch on " + model.getFileName() + " ...");
        Process p = new ProcessBuilder(
                        torch.python(),
                        torch.script().toString(),
                        "--model",
                        model.toString(),
                        "--ids",
                        idsFile.toString(),
                        "--threads",
                        Integer.toString(threads))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0 || out.isEmpty()) {
            log.println("bench: PyTorch did not run (" + torch.python() + " exited "
                    + (p.isAlive() ? "late" : p.exitValue()) + ")");
            return null;
        }
        JsonNode json = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
        return new Row(
                name,
                "pytorch " + json.path("torch").asText() + " eager, " + weights + " (one text per pass)",
                Double.NaN,
                json.get("single_events_per_s").asDouble(),
                json.get("p99_ms").asDouble(),
                "-",
                Double.NaN,
                json.path("single_events_per_cpu_s").asDouble(Double.NaN));
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

    /** Our row; {@code vectors}, when not null, receives the embeddings of the first timed batch. */
    private static Row time(
            String name,
            String weights,
            Path dir,
            List<String> texts,
            int threads,
            int reps,
            List<float[]> vectors,
            PrintStream log)
            throws IOException {
        log.println("bench: " + name + ", " + weights + " ...");
        List<InferenceRequest> batch = texts.stream()
                .map(t -> InferenceRequest.embed(t, null)) // the model's own pooling: last token
                .toList();
        try (Model model = Model.load(dir);
                InferenceSession session = new InferenceSession(model, threads, Backends.chosen())) {
            check(session.run(batch.subList(0, Math.min(2, batch.size())))); // warm-up
            double[] batchSeconds = new double[reps];
            double cpu0 = cpuSeconds();
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                List<InferenceResult> results = session.run(batch);
                batchSeconds[r] = (System.nanoTime() - t0) / 1e9;
                check(results);
                if (r == 0 && vectors != null) {
                    results.forEach(e -> vectors.add(((InferenceResult.Embedding) e).vector()));
                }
            }
            double batchCpu = cpuSeconds() - cpu0;
            double[] single = new double[batch.size()];
            cpu0 = cpuSeconds();
            long t0 = System.nanoTime();
            for (int i = 0; i < batch.size(); i++) {
                long s = System.nanoTime();
                check(List.of(session.run(batch.get(i))));
                single[i] = (System.nanoTime() - s) / 1e6;
            }
            double singleSeconds = (System.nanoTime() - t0) / 1e9;
            double singleCpu = cpuSeconds() - cpu0;
            Arrays.sort(batchSeconds);
            return new Row(
                    name,
                    weights,
                    batch.size() / batchSeconds[reps / 2],
                    batch.size() / singleSeconds,
                    p99(single),
                    "-",
                    reps * batch.size() / batchCpu,
                    batch.size() / singleCpu);
        }
    }

    private static void check(List<InferenceResult> results) {
        for (InferenceResult r : results) {
            if (!(r instanceof InferenceResult.Embedding)) {
                throw new IllegalStateException("embedding failed: " + r);
            }
        }
    }

    /**
     * Generation on the Qwen3-0.6B shape (the same backbone as the embedding model, tied lm head):
     * decode tok/s (batch 1, KV cache, greedy, logits every token after a 16-token prompt) and prefill
     * tok/s over 128 tokens, bf16 as published and int8 weights; the models {@link #run} wrote.
     */
    public static String generationTable(Path work, int threads, int reps, PrintStream log) throws IOException {
        return generationTable(work, threads, reps, log, List.of());
    }

    /** A peer of the generation table with the interpreter it runs or exports with. */
    public record GenerationRun(GenerationPeer peer, String python) {}

    /**
     * As {@link #generationTable(Path, int, int, PrintStream)}, with a row per peer (ONNX Runtime,
     * PyTorch) on the bf16 directory, and their notes below the table; a peer that fails leaves a note.
     */
    public static String generationTable(Path work, int threads, int reps, PrintStream log, List<GenerationRun> peers)
            throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | weights | decode tok/s | prefill tok/s (128 tokens) | weight bytes per token |\n");
        sb.append("|---|---|---|---|---|\n");
        String[][] variants = {
            {"qwen3-embedding-0.6b-bf16", "bf16 as published, f32 activations"},
            {"qwen3-embedding-0.6b-int8", "int8 weights, f32 activations"}
        };
        for (String[] v : variants) {
            log.println("bench: Qwen3-0.6B shape generation, " + v[1] + " ...");
            DecodeBench.Result r = DecodeBench.run(work.resolve(v[0]), threads, 16, 32, 128, reps, null);
            sb.append(String.format(
                    Locale.ROOT,
                    "| Qwen3-0.6B shape | %s | %.2f | %.2f | %d |%n",
                    v[1],
                    r.decodeTokensPerSecond(),
                    r.prefillTokensPerSecond(),
                    r.weightBytesPerToken()));
        }
        List<String> notes = new ArrayList<>();
        for (GenerationRun run : peers) {
            String name = run.peer().getClass().getSimpleName();
            log.println("bench: Qwen3-0.6B shape generation, " + name + " ...");
            try {
                GenerationPeer.Result r =
                        run.peer().run(work.resolve(variants[0][0]), work, run.python(), threads, 16, 32, 128, reps);
                sb.append(String.format(
                        Locale.ROOT,
                        "| Qwen3-0.6B shape | **%s**, the bf16 weights as f32 | %.2f | %.2f | - |%n",
                        r.engine(),
                        r.decodeTokensPerSecond(),
                        r.prefillTokensPerSecond()));
                notes.add(r.note());
            } catch (Exception e) {
                // Our rows stand without the peer's: say why it is missing instead of losing the table.
                log.println("bench: no generation row from " + name + ": " + e);
                notes.add(name + " did not run: " + e);
            }
        }
        for (String note : notes) {
            sb.append(System.lineSeparator()).append(note).append(System.lineSeparator());
        }
        return sb.toString();
    }

    /** The rows as a markdown table. */
    public static String table(List<Row> rows, int events) {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | weights | events/s, batch of ")
                .append(events)
                .append(" | events/s, one at a time | p99 ms per event, one at a time"
                        + " | events per CPU-second, batch / one at a time | vs bf16, batch"
                        + " | vs bf16, one at a time | cosine, mean / least (top-K: to the unsparsified ternary;"
                        + " a peer: to ours bf16) |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|\n");
        double bf16 = rows.get(0).batchEventsPerSecond();
        double bf16Single = rows.get(0).singleEventsPerSecond();
        for (Row r : rows) {
            boolean batched = !Double.isNaN(r.batchEventsPerSecond());
            sb.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %s | %.2f | %.0f | %s / %s | %s | %.2fx | %s |%n",
                    r.model(),
                    r.weights(),
                    batched ? String.format(Locale.ROOT, "%.2f", r.batchEventsPerSecond()) : "-",
                    r.singleEventsPerSecond(),
                    r.p99Millis(),
                    orDash(r.batchEventsPerCpuSecond()),
                    orDash(r.singleEventsPerCpuSecond()),
                    batched ? String.format(Locale.ROOT, "%.2fx", r.batchEventsPerSecond() / bf16) : "-",
                    r.singleEventsPerSecond() / bf16Single,
                    r.quality()));
        }
        return sb.toString();
    }

    private static String orDash(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    /**
     * {@code java ... EmbeddingModelsBench WORK_DIR TOKENIZER_DIR EVENTS_FILE [THREADS=1] [EVENTS=32] [REPS=3]
     * [PYTHON TORCH_SCRIPT|- -] [ONNX_PYTHON]}: with ONNX_PYTHON (the interpreter with torch that exports
     * the model), an ONNX Runtime row when {@link EmbeddingModelPeer#ONNX_RUNTIME} is on the class path
     * (the onnx profile's classes and {@code bench/target/onnx/*}); {@code -} skips PyTorch.
     */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--generation")) {
            generationOnly(args);
            return;
        }
        Path work = Path.of(args[0]);
        Path donor = Path.of(args[1]);
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        int events = args.length > 4 ? Integer.parseInt(args[4]) : 32;
        int reps = args.length > 5 ? Integer.parseInt(args[5]) : 3;
        List<String> texts = Files.readAllLines(Path.of(args[2])).stream()
                .filter(l -> !l.isBlank())
                .limit(events)
                .toList();
        TorchPeer torch = args.length > 7 && !args[6].equals("-") ? new TorchPeer(args[6], Path.of(args[7])) : null;
        OnnxPeer onnx = null;
        if (args.length > 8) {
            EmbeddingModelPeer ort = EmbeddingModelPeer.onnxRuntime(EmbeddingModelsBench.class.getClassLoader());
            if (ort == null) {
                throw new IllegalArgumentException(EmbeddingModelPeer.ONNX_RUNTIME + " is not on the class path"
                        + " (build with -Ponnx and add bench/target/onnx/* to it)");
            }
            onnx = new OnnxPeer(ort, args[8]);
        }
        List<Row> rows;
        try {
            rows = run(work, donor, texts, threads, reps, torch, onnx, System.err);
        } finally {
            if (onnx != null) {
                onnx.engine().close();
            }
        }
        System.out.println("Machine: " + BenchSuite.machine() + ", threads " + threads);
        System.out.print(table(rows, texts.size()));
        System.out.println();
        List<GenerationRun> generationPeers = new ArrayList<>();
        if (onnx != null) {
            generationPeers.add(new GenerationRun(
                    GenerationPeer.onnxRuntime(EmbeddingModelsBench.class.getClassLoader()), args[8]));
        }
        if (torch != null) {
            generationPeers.add(new GenerationRun(
                    new TorchGenerationPeer(torch.script().resolveSibling(TorchGenerationPeer.SCRIPT)),
                    torch.python()));
        }
        System.out.print(generationTable(work, threads, reps, System.err, generationPeers));
    }

    /**
     * {@code --generation WORK_DIR [THREADS=1] [REPS=3] [ONNX_PYTHON|-] [TORCH_PYTHON]}: the generation table
     * alone, on the directories an earlier run wrote under WORK_DIR, with ONNX Runtime's row when ONNX_PYTHON
     * is given and PyTorch's (bench/torch_generate_qwen3.py) when TORCH_PYTHON is.
     */
    private static void generationOnly(String[] args) throws Exception {
        Path work = Path.of(args[1]);
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        List<GenerationRun> peers = new ArrayList<>();
        if (args.length > 4 && !args[4].equals("-")) {
            GenerationPeer ort = GenerationPeer.onnxRuntime(EmbeddingModelsBench.class.getClassLoader());
            if (ort == null) {
                throw new IllegalArgumentException(GenerationPeer.ONNX_RUNTIME + " is not on the class path"
                        + " (build with -Ponnx and add bench/target/onnx/* to it)");
            }
            peers.add(new GenerationRun(ort, args[4]));
        }
        if (args.length > 5) {
            peers.add(
                    new GenerationRun(new TorchGenerationPeer(Path.of("bench", TorchGenerationPeer.SCRIPT)), args[5]));
        }
        System.out.println("Machine: " + BenchSuite.machine() + ", threads " + threads);
        System.out.print(generationTable(work, threads, reps, System.err, peers));
    }
}
