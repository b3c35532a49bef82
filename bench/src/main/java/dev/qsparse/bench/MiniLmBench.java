package dev.qsparse.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.model.ModelConverter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The embed table of {@code bin/qsparse bench} on the real all-MiniLM-L6-v2: ours at f32 and at
 * int8 weights with 8-bit activations, against ONNX Runtime on the same export and langchain4j's
 * in-process model ({@link EmbedPeers}, from the onnx profile's folder), on the same texts at the
 * same thread count, at batch 1 and 32 ({@link EmbedTable}).
 */
public final class MiniLmBench {

    private static final String PEERS = "dev.qsparse.bench.onnx.MiniLmPeers";
    private static final int[] BATCHES = {1, 32};
    private static final int MAX_TEXTS = 4096;

    private MiniLmBench() {}

    /**
     * The section (markdown), or one line saying why it was not run. {@code alone}: it is the whole
     * output, so it states the machine itself.
     */
    public static String run(
            ClassLoader loader,
            Path work,
            Path events,
            int texts,
            int threads,
            int reps,
            List<Path> also,
            boolean alone)
            throws Exception {
        if (texts < 1 || texts > MAX_TEXTS) {
            throw new IllegalArgumentException("--minilm-texts must be between 1 and " + MAX_TEXTS + ", got " + texts);
        }
        EmbedPeers peers;
        try {
            peers = (EmbedPeers)
                    Class.forName(PEERS, true, loader).getConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            return "\nMiniLM embed table: not run (no " + PEERS + ": build it with"
                    + " mvn -B -ntp -Ponnx -pl bench -am package -DskipTests).\n";
        }
        if (!Files.isRegularFile(events)) {
            return "\nMiniLM embed table: not run (" + events + " not found).\n";
        }
        List<String> lines = new ArrayList<>();
        for (String l : Files.readAllLines(events)) {
            if (!l.isBlank() && lines.size() < texts) {
                lines.add(l);
            }
        }
        Map<String, Object> machine = BenchSuite.machine();
        // The ONNX Runtime and DJL natives load through the folder's loader.
        Thread.currentThread().setContextClassLoader(loader);
        Path f32 = peers.minilmDirectory(work.toAbsolutePath().resolve("all-MiniLM-L6-v2"));
        Path int8 = int8(f32, work.toAbsolutePath().resolve("all-MiniLM-L6-v2-int8"), 0);
        Path outliers = int8(f32, work.toAbsolutePath().resolve("all-MiniLM-L6-v2-int8-outliers"), OUTLIER_THRESHOLD);
        List<String> notes = new ArrayList<>();
        List<EmbedEngine> engines = new ArrayList<>();
        try {
            engines.add(new QSparseEmbedEngine("qsparse f32", f32, threads));
            engines.add(new QSparseEmbedEngine("qsparse int8 (w8a8)", int8, threads));
            engines.add(new QSparseEmbedEngine(
                    "qsparse int8 (w8a8, outliers > " + OUTLIER_THRESHOLD + " RMS float)", outliers, threads));
            int own = engines.size();
            engines.addAll(peers.engines(threads, notes));
            EmbedEngine reference = engines.get(own);
            String baseline = engines.get(own + 1).name();
            for (Path dir : also) {
                String name = "qsparse " + dir.toAbsolutePath().normalize().getFileName();
                engines.add(new QSparseEmbedEngine(name, dir, threads));
            }
            List<EmbedTable.Row> rows = EmbedTable.run(engines, reference, lines, BATCHES, reps, System.err);
            StringBuilder s = new StringBuilder("\n");
            if (alone) {
                s.append(String.format(
                        Locale.ROOT,
                        "Machine: %s, %s cores, %s, kernels %s, load average at start %s%n%n",
                        machine.get("cpu"),
                        machine.get("nproc"),
                        machine.get("jvm"),
                        machine.get("kernels"),
                        machine.get("load")));
            }
            s.append(String.format(
                    Locale.ROOT,
                    "Embed, all-MiniLM-L6-v2 (real weights), %d texts of %s, %d thread(s), median of %d passes;"
                            + " p99: an event's latency is its batch's time%n%n",
                    lines.size(),
                    events,
                    threads,
                    reps));
            s.append(EmbedTable.markdown(rows, BATCHES, baseline, reference.name()));
            s.append('\n');
            for (String n : notes) {
                s.append("- ").append(n).append('\n');
            }
            s.append("- qsparse: one InferenceSession, a batch is one run (its texts share every pass); int8:"
                    + " convert --weights int8 and activation_bits 8; outliers: also activation_outlier_threshold "
                    + OUTLIER_THRESHOLD + ".\n");
            s.append("- qsparse rows' zero projection inputs (mean over the texts they embedded):");
            for (EmbedEngine e : engines) {
                if (e instanceof QSparseEmbedEngine q) {
                    s.append(String.format(Locale.ROOT, " %s %.1f%%;", q.name(), 100 * q.activationSparsity()));
                }
            }
            s.setLength(s.length() - 1);
            s.append(".\n");
            return s.toString();
        } finally {
            for (EmbedEngine e : engines) {
                e.close();
            }
        }
    }

    /** The activation outlier threshold of the third qsparse row (multiples of an input's RMS). */
    static final int OUTLIER_THRESHOLD = 8;

    /**
     * {@code convert --weights int8} of {@code f32} with 8-bit activations (and {@code
     * activation_outlier_threshold} when {@code outlierThreshold > 0}), unless already there.
     */
    private static Path int8(Path f32, Path out, int outlierThreshold) throws IOException {
        if (!Files.isRegularFile(out.resolve("config.json"))) {
            ModelConverter.convert(f32, out, ModelConverter.Target.INT8, true);
            ObjectMapper json = new ObjectMapper();
            ObjectNode config =
                    (ObjectNode) json.readTree(out.resolve("config.json").toFile());
            json.writerWithDefaultPrettyPrinter()
                    .writeValue(
                            out.resolve("config.json").toFile(),
                            outlierThreshold > 0
                                    ? config.put("activation_bits", 8)
                                            .put("activation_outlier_threshold", outlierThreshold)
                                    : config.put("activation_bits", 8));
        }
        return out;
    }
}
