package dev.qsparse.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qsparse.runtime.kernel.Backends;
import dev.qsparse.runtime.kernel.DenseBatchBackend;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The whole comparison of {@code bin/qsparse bench} in one run: the machine's read bandwidth, the
 * GEMV kernels, decode and prefill of every variant of each model, and PyTorch eager on the same
 * weights when {@code /usr/bin/python3} has torch. {@link Report#markdown()} prints one table.
 */
public final class BenchSuite {

    /**
     * What to run. {@code demoModel} and {@code dense} may be null; {@code torchScript} null = no PyTorch;
     * {@code events} (one text per line) null or absent = no embed column; {@code peers}: other engines
     * (ONNX Runtime), run on each model's dense f32 weights.
     */
    public record Options(
            int threads,
            int promptTokens,
            int decodeTokens,
            int prefillTokens,
            int reps,
            Path work,
            boolean seedShape,
            Path demoModel,
            Path torchScript,
            String python,
            DenseBatchBackend dense,
            boolean gemv,
            int bandwidthMegabytes,
            PrintStream log,
            Path events,
            int embedBatch,
            List<Peer> peers) {

        /** Without embed figures or peers (the options of the bench before they existed). */
        public Options(
                int threads,
                int promptTokens,
                int decodeTokens,
                int prefillTokens,
                int reps,
                Path work,
                boolean seedShape,
                Path demoModel,
                Path torchScript,
                String python,
                DenseBatchBackend dense,
                boolean gemv,
                int bandwidthMegabytes,
                PrintStream log) {
            this(
                    threads,
                    promptTokens,
                    decodeTokens,
                    prefillTokens,
                    reps,
                    work,
                    seedShape,
                    demoModel,
                    torchScript,
                    python,
                    dense,
                    gemv,
                    bandwidthMegabytes,
                    log,
                    null,
                    32,
                    List.of());
        }
    }

    /**
     * The embed workload of one model: {@code texts} (events) as InferenceSession gets them, and
     * {@code ids} the token ids the runtime embeds for them (BOS first when the model has one), which
     * the peers embed in one padded batch.
     */
    public record EmbedWorkload(List<String> texts, int[][] ids, String source) {
        public double meanTokens() {
            return java.util.Arrays.stream(ids)
                    .mapToInt(a -> a.length)
                    .average()
                    .orElse(0);
        }

        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "%d events of %s, %.1f tokens on average (%d-%d)",
                    ids.length,
                    source,
                    meanTokens(),
                    java.util.Arrays.stream(ids).mapToInt(a -> a.length).min().orElse(0),
                    java.util.Arrays.stream(ids).mapToInt(a -> a.length).max().orElse(0));
        }
    }

    public record GemvRow(int rows, int cols, String format, double keep, double micros, long bytes) {
        double gbs() {
            return bytes / (micros * 1e3);
        }
    }

    /** One row of the table; {@code embed} = events/s of the embed workload (NaN = not measured). */
    public record DecodeRow(
            String model,
            String variant,
            String engine,
            double decode,
            double prefill,
            double prefillDense,
            long bytesPerToken,
            double embed) {

        public DecodeRow(
                String model,
                String variant,
                String engine,
                double decode,
                double prefill,
                double prefillDense,
                long bytesPerToken) {
            this(model, variant, engine, decode, prefill, prefillDense, bytesPerToken, Double.NaN);
        }

        boolean java() {
            return engine.startsWith("java");
        }
    }

    public record Report(
            Map<String, Object> machine,
            double bandwidth1,
            double bandwidthN,
            int threads,
            List<GemvRow> gemv,
            List<DecodeRow> decode,
            List<String> notes,
            List<String> embedWorkloads) {

        double limit() {
            return threads > 1 ? bandwidthN : bandwidth1;
        }

        /** The side-by-side table (GitHub markdown). */
        public String markdown() {
            StringBuilder s = new StringBuilder();
            s.append("Machine: ")
                    .append(machine.get("cpu"))
                    .append(", ")
                    .append(machine.get("nproc"))
                    .append(" cores, ")
                    .append(machine.get("jvm"))
                    .append(", kernels ")
                    .append(machine.get("kernels"))
                    .append(", threads ")
                    .append(threads)
                    .append(", load average at start ")
                    .append(machine.get("load"))
                    .append("\n\n");
            s.append(String.format(
                    Locale.ROOT,
                    "Streaming read bandwidth measured in this run: %.1f GB/s on 1 thread, "
                            + "%.1f GB/s on %d threads%n%n",
                    bandwidth1,
                    bandwidthN,
                    Math.max(2, threads)));
            if (!gemv.isEmpty()) {
                s.append(
                        "| GEMV (out x in) | weights | kept inputs | us / product | weight GB/s | speed-up vs dense |\n");
                s.append("|---|---|---|---|---|---|\n");
                for (GemvRow g : gemv) {
                    GemvRow dense = gemv.stream()
                            .filter(d ->
                                    d.rows == g.rows && d.cols == g.cols && d.format.equals(g.format) && d.keep == 1.0)
                            .findFirst()
                            .orElse(g);
                    s.append(String.format(
                            Locale.ROOT,
                            "| %dx%d | %s | %.0f%% | %.1f | %.1f | %.2fx |%n",
                            g.rows,
                            g.cols,
                            g.format,
                            g.keep * 100,
                            g.micros,
                            g.gbs(),
                            dense.micros / g.micros));
                }
                s.append('\n');
            }
            s.append("| model | variant | engine | decode tok/s | prefill tok/s | prefill tok/s ND4J | embed events/s |"
                    + " weight MB / token | effective GB/s | % of bandwidth | vs dense int8 | vs dense f32 |\n");
            s.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (DecodeRow r : decode) {
                DecodeRow int8 = r.java() ? find(r.model, "dense int8", r.engine) : null;
                DecodeRow f32 =
                        r.java() ? find(r.model, "dense f32", r.engine) : findFamily(r.model, "dense f32", r.engine);
                double gbs = r.bytesPerToken * r.decode / 1e9;
                s.append(String.format(
                        Locale.ROOT,
                        "| %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |%n",
                        r.model,
                        r.variant,
                        r.engine,
                        r.decode,
                        fmt(r.prefill),
                        fmt(r.prefillDense),
                        fmt(r.embed),
                        r.bytesPerToken > 0 ? String.format(Locale.ROOT, "%.1f", r.bytesPerToken / 1e6) : "-",
                        r.bytesPerToken > 0 ? String.format(Locale.ROOT, "%.1f", gbs) : "-",
                        r.bytesPerToken > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * gbs / limit()) : "-",
                        int8 == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.decode / int8.decode),
                        f32 == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.decode / f32.decode)));
            }
            s.append('\n');
            for (DecodeRow r : decode) {
                if (!r.java()) {
                    DecodeRow same = decode.stream()
                            .filter(j -> j.java() && j.model.equals(r.model) && j.variant.equals(r.variant))
                            .findFirst()
                            .orElse(null);
                    DecodeRow bestJava = decode.stream()
                            .filter(j -> j.java() && j.model.equals(r.model))
                            .max(java.util.Comparator.comparingDouble(DecodeRow::decode))
                            .orElse(null);
                    s.append(String.format(
                            Locale.ROOT,
                            "- %s, %s %s: decode %.1f tok/s; Java %s%s%s%n",
                            r.model,
                            r.engine.substring(0, r.engine.indexOf(' ')),
                            r.variant,
                            r.decode,
                            same == null
                                    ? ""
                                    : String.format(Locale.ROOT, "same variant %.2fx, ", same.decode / r.decode),
                            bestJava == null
                                    ? ""
                                    : String.format(
                                            Locale.ROOT,
                                            "best variant (%s) %.2fx",
                                            bestJava.variant,
                                            bestJava.decode / r.decode),
                            embedRatio(r)));
                }
            }
            for (String w : embedWorkloads) {
                s.append("\nEmbed: ")
                        .append(w)
                        .append(
                                " per batch; ours one InferenceSession.run(List) of embed requests"
                                        + " (mean pooling), the peers one padded forward with an attention mask over the same token ids.");
            }
            for (String n : notes) {
                s.append("\n").append(n);
            }
            return s.append('\n').toString();
        }

        /** "; embed: Java same variant 1.2x, best (v) 2.3x" for a peer row with an embed figure. */
        private String embedRatio(DecodeRow r) {
            if (Double.isNaN(r.embed)) {
                return "";
            }
            DecodeRow same = decode.stream()
                    .filter(j -> j.java()
                            && j.model.equals(r.model)
                            && j.variant.equals(r.variant)
                            && !Double.isNaN(j.embed))
                    .findFirst()
                    .orElse(null);
            DecodeRow best = decode.stream()
                    .filter(j -> j.java() && j.model.equals(r.model) && !Double.isNaN(j.embed))
                    .max(java.util.Comparator.comparingDouble(DecodeRow::embed))
                    .orElse(null);
            if (best == null) {
                return "";
            }
            return String.format(
                    Locale.ROOT,
                    "; embed %.1f events/s: Java %sbest variant (%s) %.2fx",
                    r.embed,
                    same == null ? "" : String.format(Locale.ROOT, "same variant %.2fx, ", same.embed / r.embed),
                    best.variant,
                    best.embed / r.embed);
        }

        /** The row of {@code variant} of the same model and engine family ("onnxruntime 1.22.0 f32" and "... int8"). */
        DecodeRow findFamily(String model, String variant, String engine) {
            String family = engine.split(" ")[0];
            for (DecodeRow r : decode) {
                if (r.model.equals(model) && r.variant.equals(variant) && r.engine.split(" ")[0].equals(family)) {
                    return r;
                }
            }
            return null;
        }

        /** The row of {@code variant} of the same model and engine. */
        DecodeRow find(String model, String variant, String engine) {
            for (DecodeRow r : decode) {
                if (r.model.equals(model) && r.variant.equals(variant) && r.engine.equals(engine)) {
                    return r;
                }
            }
            return null;
        }

        private static String fmt(double v) {
            return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
        }
    }

    private BenchSuite() {}

    public static Report run(Options o) throws IOException, InterruptedException {
        PrintStream log = o.log();
        Map<String, Object> machine = machine();
        log.println("bench: measuring read bandwidth ...");
        double bw1 = Bandwidth.measure(o.bandwidthMegabytes(), 1, 5);
        double bwN = Bandwidth.measure(o.bandwidthMegabytes(), Math.max(2, o.threads()), 5);
        log.printf(
                Locale.ROOT, "bench:   %.1f GB/s on 1 thread, %.1f GB/s on %d%n", bw1, bwN, Math.max(2, o.threads()));
        List<GemvRow> gemv = new ArrayList<>();
        if (o.gemv()) {
            for (int[] shape : new int[][] {{3072, 768}, {768, 3072}}) {
                for (String format : new String[] {"f32", "int8", "ternary"}) {
                    for (double keep : new double[] {1.0, 0.5}) {
                        log.printf(
                                Locale.ROOT,
                                "bench: GEMV %dx%d %s keep %.0f%% ...%n",
                                shape[0],
                                shape[1],
                                format,
                                keep * 100);
                        try (GemvBench g = new GemvBench(shape[0], shape[1], format, keep, o.threads())) {
                            GemvRow row = new GemvRow(
                                    shape[0], shape[1], format, keep, g.microsPerProduct(400), g.bytesPerProduct());
                            gemv.add(row);
                            log.printf(Locale.ROOT, "bench:   %.1f us, %.1f GB/s%n", row.micros(), row.gbs());
                        }
                    }
                }
            }
        }
        List<DecodeRow> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<String> embedWorkloads = new ArrayList<>();
        String engine = "java " + Backends.chosen().describe();
        Files.createDirectories(o.work());
        Map<String, Path> models = new LinkedHashMap<>();
        if (o.seedShape()) {
            Path seed = BenchModels.seedShape(o.work(), log);
            // The random seed-shape model has no tokenizer of its own; the demo model's (ids below its vocabulary)
            // lets it embed the same events.
            if (o.demoModel() != null) {
                BenchModels.borrowTokenizer(seed, o.demoModel());
            }
            models.put("seed shape", seed);
        }
        if (o.demoModel() != null) {
            models.put(o.demoModel().getFileName().toString(), o.demoModel());
        }
        for (Map.Entry<String, Path> m : models.entrySet()) {
            String slug = m.getKey().replaceAll("[^A-Za-z0-9]+", "-");
            Map<BenchModels.Variant, Path> variants = BenchModels.variants(m.getValue(), slug, o.work(), log);
            EmbedWorkload embed = embedWorkload(o, variants.get(BenchModels.Variant.DENSE_F32));
            if (embed != null) {
                embedWorkloads.add(m.getKey() + ": " + embed.describe());
            }
            // All variants stay loaded (memory-mapped) and are timed in interleaved rounds.
            Map<BenchModels.Variant, DecodeBench> benches = new LinkedHashMap<>();
            try {
                for (Map.Entry<BenchModels.Variant, Path> v : variants.entrySet()) {
                    log.println("bench: loading and warming up " + m.getKey() + " / " + v.getKey().label + " ...");
                    DecodeBench b = new DecodeBench(
                            v.getValue(),
                            o.threads(),
                            o.promptTokens(),
                            o.decodeTokens(),
                            o.prefillTokens(),
                            o.reps(),
                            o.dense(),
                            embed == null ? null : embed.texts());
                    benches.put(v.getKey(), b);
                    b.warmUp();
                }
                for (int r = 0; r < o.reps(); r++) {
                    for (Map.Entry<BenchModels.Variant, DecodeBench> b : benches.entrySet()) {
                        log.printf(
                                Locale.ROOT,
                                "bench: round %d/%d %s / %s ...%n",
                                r + 1,
                                o.reps(),
                                m.getKey(),
                                b.getKey().label);
                        b.getValue().round();
                    }
                }
                for (Map.Entry<BenchModels.Variant, DecodeBench> b : benches.entrySet()) {
                    DecodeBench.Result r = b.getValue().result();
                    rows.add(new DecodeRow(
                            m.getKey(),
                            b.getKey().label,
                            engine,
                            r.decodeTokensPerSecond(),
                            r.prefillTokensPerSecond(),
                            r.prefillDenseTokensPerSecond(),
                            r.weightBytesPerToken(),
                            r.embedEventsPerSecond()));
                    log.printf(
                            Locale.ROOT,
                            "bench:   %s: decode %.2f tok/s, prefill %.1f tok/s (dense backend %.1f),"
                                    + " embed %.1f events/s, %.1f MB/token%n",
                            b.getKey().label,
                            r.decodeTokensPerSecond(),
                            r.prefillTokensPerSecond(),
                            r.prefillDenseTokensPerSecond(),
                            r.embedEventsPerSecond(),
                            r.weightBytesPerToken() / 1e6);
                }
            } finally {
                benches.values().forEach(DecodeBench::close);
            }
            if (o.torchScript() != null) {
                log.println("bench: PyTorch eager on " + m.getKey() + " ...");
                torch(o, m.getKey(), variants.get(BenchModels.Variant.DENSE_F32), embed, rows, notes);
            }
            for (Peer peer : o.peers()) {
                log.println("bench: " + peer.engine() + " on " + m.getKey() + " ...");
                try {
                    peer.run(m.getKey(), variants.get(BenchModels.Variant.DENSE_F32), o, embed, rows, notes);
                } catch (Exception | LinkageError e) {
                    notes.add(peer.engine() + ": not run on " + m.getKey() + " (" + e + ").");
                }
            }
        }
        if (o.dense() == null) {
            notes.add("ND4J: backend-nd4j was not on the class path, so the ND4J prefill column is empty.");
        }
        return new Report(machine, bw1, bwN, o.threads(), gemv, rows, notes, embedWorkloads);
    }

    /**
     * The embed workload of a model: {@code embedBatch} events of the events file, those of 30 to 50
     * tokens first (the operator's ~40-token events), tokenized as the runtime does; null without a
     * tokenizer or events.
     */
    static EmbedWorkload embedWorkload(Options o, Path f32Dir) throws IOException {
        Path tokenizerFile = f32Dir.resolve("tokenizer.json");
        if (o.events() == null
                || o.embedBatch() <= 0
                || !Files.isRegularFile(o.events())
                || !Files.isRegularFile(tokenizerFile)) {
            return null;
        }
        JsonNode config =
                new ObjectMapper().readTree(f32Dir.resolve("config.json").toFile());
        Tokenizer tokenizer =
                Tokenizer.load(tokenizerFile, config.path("vocab_size").asInt());
        JsonNode bos = config.path("bos_token_id");
        List<String> texts = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (String line : Files.readAllLines(o.events(), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            int n = tokenizer.encode(line).length + (bos.isInt() ? 1 : 0);
            if (n >= 30 && n <= 50 && texts.size() < o.embedBatch()) {
                texts.add(line);
            } else {
                rest.add(line);
            }
        }
        for (int i = 0; texts.size() < o.embedBatch() && i < rest.size(); i++) {
            texts.add(rest.get(i));
        }
        if (texts.isEmpty()) {
            return null;
        }
        for (String t : texts) {
            int[] enc = tokenizer.encode(t);
            if (bos.isInt()) {
                int[] withBos = new int[enc.length + 1];
                withBos[0] = bos.asInt();
                System.arraycopy(enc, 0, withBos, 1, enc.length);
                enc = withBos;
            }
            ids.add(enc);
        }
        return new EmbedWorkload(
                texts, ids.toArray(int[][]::new), o.events().getFileName().toString());
    }

    /** Runs the PyTorch script on the f32 weights; adds its rows, or a note saying why not. */
    static void torch(
            Options o, String model, Path f32Dir, EmbedWorkload embed, List<DecodeRow> rows, List<String> notes)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(
                o.python(),
                o.torchScript().toString(),
                "--model",
                f32Dir.toString(),
                "--threads",
                Integer.toString(o.threads()),
                "--prompt",
                Integer.toString(o.promptTokens()),
                "--tokens",
                Integer.toString(o.decodeTokens()),
                "--prefill",
                Integer.toString(o.prefillTokens()),
                "--reps",
                Integer.toString(Math.max(1, o.reps()))));
        if (embed != null) {
            String slug = model.replaceAll("[^A-Za-z0-9]+", "-");
            Path ids = o.work().resolve("embed-ids-" + slug + ".json");
            new ObjectMapper().writeValue(ids.toFile(), embed.ids());
            // The same events as text, for running the Flink operator on them beside this row
            // (bench/operator-embed-vs-torch.sh).
            Files.write(o.work().resolve("embed-texts-" + slug + ".txt"), embed.texts());
            cmd.add("--embed-ids");
            cmd.add(ids.toString());
        }
        Process p;
        try {
            p = new ProcessBuilder(cmd)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
        } catch (IOException e) {
            notes.add("PyTorch: not run (" + e.getMessage() + ").");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0 || out.isEmpty()) {
            notes.add("PyTorch: not run on " + model + " (" + o.python() + " exited "
                    + (p.isAlive() ? "late" : p.exitValue()) + "; torch missing?).");
            return;
        }
        JsonNode json = new ObjectMapper().readTree(out.substring(out.lastIndexOf('\n') + 1));
        String engine = "pytorch " + json.path("torch").asText() + " eager";
        for (JsonNode r : json.get("rows")) {
            rows.add(new DecodeRow(
                    model,
                    r.get("variant").asText(),
                    engine,
                    r.get("decode").asDouble(),
                    r.get("prefill").asDouble(),
                    Double.NaN,
                    0,
                    r.path("embed").asDouble(Double.NaN)));
        }
        String note = "PyTorch: " + json.path("note").asText();
        if (!notes.contains(note)) {
            notes.add(note);
        }
    }

    public static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException ignored) {
            // not Linux
        }
        m.put("cpu", cpu);
        m.put("nproc", Runtime.getRuntime().availableProcessors());
        m.put("jvm", "Java " + System.getProperty("java.version"));
        m.put("kernels", Backends.chosen().describe());
        String load = "?";
        try {
            load = Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException ignored) {
            // not Linux
        }
        m.put("load", load);
        return m;
    }
}
