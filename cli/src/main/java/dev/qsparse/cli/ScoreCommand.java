package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.FeedForwardSparsity;
import dev.qsparse.runtime.model.QSparseConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "score",
        mixinStandardHelpOptions = true,
        description = {
            "Log-likelihood of a text: {\"logprob\": ..., \"mean_logprob\": ..., \"perplexity\": ...}.",
            "With --file, every non-empty line is scored as its own text and the corpus perplexity is "
                    + "exp(-(sum of logprobs) / (sum of scored tokens)), as training/evaluate.py computes it."
        })
final class ScoreCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", required = true, description = "Text to score.")
        String text;

        @Option(
                names = "--file",
                required = true,
                paramLabel = "FILE",
                description = "UTF-8 text file: score each non-empty line, report the corpus perplexity. "
                        + "At most --max-file-bytes are read; binary content, a file over the bound or one "
                        + "with no non-empty line is an error.")
        Path file;
    }

    /** Default bound on the bytes {@code --file} reads (64 MiB): far above any held-out set, far below the heap. */
    static final long DEFAULT_MAX_FILE_BYTES = 64L * 1024 * 1024;

    @Option(
            names = "--max-file-bytes",
            paramLabel = "N",
            defaultValue = "67108864",
            description =
                    "Read at most N bytes of --file; a longer file (or /dev/zero) fails (default ${DEFAULT-VALUE}).")
    long maxFileBytes = DEFAULT_MAX_FILE_BYTES;

    @Option(
            names = "--ffn-sparsity",
            description = "Also report, per layer, the fractions of exactly-zero and near-zero (|a| < 1e-3 of "
                    + "the row's max) feed-forward activations before the sparsifier and at the input of "
                    + "down_proj, over every forwarded position (qsparse models).")
    boolean ffnSparsity;

    @Override
    public Integer call() throws Exception {
        try (Model model = modelOptions.load()) {
            InferenceSession session = model.newSession();
            FeedForwardSparsity ffnCounts = null;
            if (ffnSparsity) {
                if (!(model.config() instanceof QSparseConfig q)) {
                    throw new IllegalArgumentException("--ffn-sparsity needs a qsparse model, not "
                            + model.config().modelType());
                }
                ffnCounts = new FeedForwardSparsity(q.numLayers());
                session.state().measureFeedForwardSparsity(ffnCounts);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            if (input.text != null) {
                InferenceResult.Score s = session.score(input.text);
                out.put("logprob", s.logprob());
                out.put("mean_logprob", s.meanLogprob());
                out.put("perplexity", s.perplexity());
                out.put("scored_tokens", s.scoredTokens());
                out.put("model", model.name());
                Stats.put(out, s.stats());
            } else {
                scoreFile(session, input.file, maxFileBytes, out);
                out.put("model", model.name());
            }
            if (ffnCounts != null) {
                out.put("ffn_sparsity", FeedForwardSparsityReport.of(ffnCounts));
            }
            Json.print(out);
            return 0;
        }
    }

    private static void scoreFile(InferenceSession session, Path file, long maxBytes, Map<String, Object> out)
            throws Exception {
        List<String> lines = TextFile.readLines(file, maxBytes);
        double logprob = 0;
        long tokens = 0;
        int scoredLines = 0;
        int truncated = 0;
        long start = System.nanoTime();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            InferenceResult r = session.run(dev.qsparse.runtime.inference.InferenceRequest.score(line));
            if (r instanceof InferenceResult.Failure f) {
                throw new IllegalArgumentException(file + ": line " + (i + 1) + ": " + f.reason());
            }
            InferenceResult.Score s = (InferenceResult.Score) r;
            logprob += s.logprob();
            tokens += s.scoredTokens();
            scoredLines++;
            if (s.stats().inputTruncated()) {
                truncated++;
            }
        }
        if (scoredLines == 0) {
            throw new IllegalArgumentException(
                    file + ": no non-empty line to score (" + lines.size() + " line(s), all blank)");
        }
        double mean = logprob / tokens;
        double perplexity = Math.exp(-mean);
        if (!Double.isFinite(logprob) || !Double.isFinite(perplexity)) {
            throw new IllegalArgumentException(
                    file + ": the corpus score is not finite (logprob " + logprob + ", perplexity " + perplexity + ")");
        }
        out.put("logprob", logprob);
        out.put("mean_logprob", mean);
        out.put("perplexity", perplexity);
        out.put("scored_tokens", tokens);
        out.put("lines", scoredLines);
        out.put("truncated_lines", truncated);
        out.put("millis", (System.nanoTime() - start) / 1e6);
    }
}
