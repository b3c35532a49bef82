package dev.qsparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.calibration.CorpusEvaluation;
import dev.qsparse.runtime.calibration.TopKCalibrator;
import dev.qsparse.runtime.calibration.TopKCentreEstimator;
import dev.qsparse.runtime.model.BertConfig;
import dev.qsparse.runtime.model.ConfigReader;
import dev.qsparse.runtime.model.LayerTopK;
import dev.qsparse.runtime.model.TopKCentres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "calibrate",
        mixinStandardHelpOptions = true,
        description = {
            "Choose the kept fraction (top-K ratio) of every projection input of an encoder, per layer, for a target",
            "mean cosine to the dense embeddings over a corpus, and write the model with them into --out (its",
            "config.json gains topk_ratio_layers, and topk_centres naming topk_centres.safetensors, the per-channel",
            "medians top-K drops around; every other file is copied). Prints the achieved mean and least",
            "cosine, activation sparsity and weight reads skipped, and uniform top-K at the same weight reads for",
            "comparison; progress on stderr."
        })
final class CalibrateCommand implements Callable<Integer> {

    private static final int MAX_TEXTS = 4096;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "An encoder (model_type bert).")
    Path model;

    @Option(
            names = "--corpus",
            required = true,
            paramLabel = "FILE",
            description = "UTF-8 text, one text per line (blank lines skipped), like the events to embed.")
    Path corpus;

    @Option(
            names = "--target-cosine",
            required = true,
            paramLabel = "X",
            description = "Mean cosine to the dense model's embeddings to keep, in (0, 1), e.g. 0.99.")
    double target;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "Directory to write the calibrated model into (must not exist, or be empty).")
    Path out;

    @Option(
            names = "--texts",
            defaultValue = "64",
            paramLabel = "N",
            description = "Corpus lines used, the first N non-empty ones (1 to 4096, default ${DEFAULT-VALUE}): each"
                    + " of the ~200 evaluations embeds them all.")
    int texts;

    @Option(
            names = "--held-out",
            defaultValue = "64",
            paramLabel = "N",
            description = "Corpus lines after those --texts uses, up to N (0 to 4096, default ${DEFAULT-VALUE}), on"
                    + " which the choice is evaluated once at the end and printed as held_out: the target holds on"
                    + " the lines it was chosen on, this is how it carries to others.")
    int heldOut;

    @Option(
            names = "--max-file-bytes",
            defaultValue = "67108864",
            paramLabel = "N",
            description = "Read at most N bytes of --corpus (default ${DEFAULT-VALUE}).")
    long maxFileBytes;

    @Option(names = "--threads", defaultValue = "1", description = "Threads per product (default 1).")
    int threads;

    /** What top-K drops around. */
    enum Centres {
        median,
        none
    }

    @Option(
            names = "--centres",
            defaultValue = "median",
            paramLabel = "KIND",
            description = "What top-K drops around: median (each input's per-channel median over the corpus's dense"
                    + " pass, written to " + TopKCentres.DEFAULT_FILE + "; the dropped inputs are the ones nearest"
                    + " it) or none (the smallest |x|). Default ${DEFAULT-VALUE}. The medians come from 512"
                    + " tokens sampled per input: 512 x 4 bytes x every input's width (33 MB for MiniLM), fewer"
                    + " tokens where that would pass 128 MiB.")
    Centres centres;

    @Override
    public Integer call() throws Exception {
        if (!(target > 0 && target < 1)) {
            throw new IllegalArgumentException("--target-cosine must be in (0, 1), got " + target);
        }
        if (texts < 1 || texts > MAX_TEXTS) {
            throw new IllegalArgumentException("--texts must be between 1 and " + MAX_TEXTS + ", got " + texts);
        }
        if (heldOut < 0 || heldOut > MAX_TEXTS) {
            throw new IllegalArgumentException("--held-out must be between 0 and " + MAX_TEXTS + ", got " + heldOut);
        }
        if (threads < 1 || threads > 256) {
            throw new IllegalArgumentException("--threads must be between 1 and 256, got " + threads);
        }
        if (out.toAbsolutePath().normalize().startsWith(model.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--out " + out + " is inside --model " + model);
        }
        if (Files.exists(out) && !isEmptyDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + ": exists and is not an empty directory");
        }
        List<String> lines = new ArrayList<>();
        List<String> heldOutLines = new ArrayList<>();
        for (String l : TextFile.readLines(corpus, maxFileBytes)) {
            if (l.isBlank()) {
                continue;
            }
            if (lines.size() < texts) {
                lines.add(l);
            } else if (heldOutLines.size() < heldOut) {
                heldOutLines.add(l);
            }
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException(corpus + ": no non-empty line to calibrate on");
        }
        long start = System.nanoTime();
        TopKCalibrator.Result r;
        TopKCentres chosenCentres = null;
        CorpusEvaluation.Quality held = null;
        try (Model m = Model.load(model)) {
            if (!(m.config() instanceof BertConfig config)) {
                throw new IllegalArgumentException(model + ": calibrate chooses per-layer top-K for encoders"
                        + " (model_type bert), not " + m.config().modelType());
            }
            if (centres == Centres.median) {
                chosenCentres = TopKCentreEstimator.estimate(m, lines);
            }
            Model view = m.withTopKCentres(chosenCentres);
            CorpusEvaluation eval = new CorpusEvaluation(view, lines, threads);
            r = new TopKCalibrator((BertConfig) view.config(), eval, System.err).calibrate(target);
            if (!heldOutLines.isEmpty()) {
                held = new CorpusEvaluation(view, heldOutLines, threads).evaluate(r.topK());
                System.err.printf(
                        java.util.Locale.ROOT,
                        "calibrate: held out (%d texts): mean cosine %.4f, min %.4f, activation sparsity %.3f%n",
                        heldOutLines.size(),
                        held.meanCosine(),
                        held.minCosine(),
                        held.activationSparsity());
            }
        }
        write(r.topK(), chosenCentres);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("out", out.toString());
        json.put("texts", lines.size());
        json.put("target_cosine", target);
        json.put("mean_cosine", r.quality().meanCosine());
        json.put("min_cosine", r.quality().minCosine());
        json.put("recall_at_10", r.quality().recallAt10());
        json.put("activation_sparsity", r.quality().activationSparsity());
        json.put("weight_reads_skipped", r.weightReadsSkipped());
        Map<String, Object> uniform = new LinkedHashMap<>();
        uniform.put("topk_ratio", r.uniformRatio());
        uniform.put("mean_cosine", r.uniformQuality().meanCosine());
        uniform.put("min_cosine", r.uniformQuality().minCosine());
        uniform.put("recall_at_10", r.uniformQuality().recallAt10());
        uniform.put("activation_sparsity", r.uniformQuality().activationSparsity());
        json.put("uniform_same_weight_reads", uniform);
        if (held != null) {
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("texts", heldOutLines.size());
            h.put("mean_cosine", held.meanCosine());
            h.put("min_cosine", held.minCosine());
            h.put("recall_at_10", held.recallAt10());
            h.put("activation_sparsity", held.activationSparsity());
            json.put("held_out", h);
        } else {
            json.put("held_out", null);
        }
        json.put(LayerTopK.KEY, r.topK().toJson());
        json.put(TopKCentres.KEY, chosenCentres == null ? null : TopKCentres.DEFAULT_FILE);
        json.put("evaluations", r.evaluations());
        json.put("seconds", (System.nanoTime() - start) / 1e9);
        Json.print(json);
        return 0;
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /**
     * The model's files into --out (not an earlier centres file, named or not), config.json with the chosen
     * fractions and centres, the centres' file; then loads it as a check.
     */
    private void write(LayerTopK topK, TopKCentres chosenCentres) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode config =
                (ObjectNode) mapper.readTree(model.resolve(ConfigReader.FILE).toFile());
        JsonNode earlier = config.get(TopKCentres.KEY);
        String earlierCentres = earlier != null && earlier.isTextual() ? earlier.asText() : null;
        Files.createDirectories(out);
        try (Stream<Path> files = Files.walk(model)) {
            for (Path src : (Iterable<Path>) files::iterator) {
                Path rel = model.relativize(src);
                Path dst = out.resolve(rel.toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else if (Files.isRegularFile(src)
                        && !rel.toString().equals(ConfigReader.FILE)
                        && !rel.toString().equals(earlierCentres)
                        && !rel.toString().equals(TopKCentres.DEFAULT_FILE)) {
                    Files.copy(src, dst);
                }
            }
        }
        config.set(LayerTopK.KEY, mapper.valueToTree(topK.toJson()));
        if (chosenCentres == null) {
            config.remove(TopKCentres.KEY);
        } else {
            chosenCentres.write(out.resolve(TopKCentres.DEFAULT_FILE));
            config.put(TopKCentres.KEY, TopKCentres.DEFAULT_FILE);
        }
        mapper.writerWithDefaultPrettyPrinter()
                .writeValue(out.resolve(ConfigReader.FILE).toFile(), config);
        try (Model written = Model.load(out)) {
            BertConfig read = (BertConfig) written.config();
            if (!read.topK().equals(topK) || !java.util.Objects.equals(read.topKCentres(), chosenCentres)) {
                throw new IllegalStateException(out + ": config.json does not read back as written");
            }
        }
    }
}
