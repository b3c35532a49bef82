package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.model.FeedForwardSparsity;
import dev.qsparse.runtime.model.QSparseConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
        name = "score",
        mixinStandardHelpOptions = true,
        description = {
            "Log-likelihood of a text: {\"logprob\": ..., \"mean_logprob\": ..., \"perplexity\": ...}.",
            "With --file, every non-empty line is scored as its own text and the corpus perplexity is "
                    + "exp(-(sum of logprobs) / (sum of scored tokens)), as training/evaluate.py computes it.",
            "With --input, every non-blank line is one text scored on its own: one JSON object per line (JSON"
                    + " Lines, with \"line\" and \"id\"), the model loaded once. jsonl keys: text, id."
        })
final class ScoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    InputOptions inputs;

    @Option(names = "--text", description = "Text to score.")
    String text;

    @Option(
            names = "--file",
            paramLabel = "FILE",
            description = "UTF-8 text file: score each non-empty line, report the corpus perplexity (one object)."
                    + " Read and checked before the model loads, with --input's bounds (--max-file-bytes,"
                    + " --max-lines, --max-line-chars); binary content, a bound passed or no non-empty line is an"
                    + " error.")
    Path file;

    @Option(
            names = "--ffn-sparsity",
            description = "Also report, per layer, the fractions of exactly-zero and near-zero (|a| < 1e-3 of "
                    + "the row's max) feed-forward activations before the sparsifier and at the input of "
                    + "down_proj, over every forwarded position (qsparse models; not with --input).")
    boolean ffnSparsity;

    @Override
    public Integer call() throws Exception {
        inputs.requireExactlyOne(spec, "--text", text != null, "--file", file != null);
        if (inputs.given()) {
            if (ffnSparsity) {
                throw new ParameterException(spec.commandLine(), "--ffn-sparsity goes with --text or --file");
            }
            return scoreEach();
        }
        // The corpus is read and checked in full before the model loads, as --input is.
        List<InputRecord> corpus = file == null ? null : inputs.readLines(file, "score");
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
            Map<String, Object> out;
            if (text != null) {
                out = object(model, session.score(text));
            } else {
                out = new LinkedHashMap<>();
                scoreFile(session, corpus, out);
                out.put("model", model.name());
            }
            if (ffnCounts != null) {
                out.put("ffn_sparsity", FeedForwardSparsityReport.of(ffnCounts));
            }
            Json.print(out);
            return 0;
        }
    }

    /** {@code --input}: one score per line, every line checked before the model loads. */
    private int scoreEach() throws Exception {
        List<InputRecord> records = inputs.read("score", Set.of());
        List<InferenceRequest> requests = new ArrayList<>(records.size());
        for (InputRecord r : records) {
            requests.add(InferenceRequest.score(r.text()));
        }
        try (Model model = modelOptions.load()) {
            BatchRun.run(
                    model.newSession(), records, requests, inputs.batch, s -> object(model, (InferenceResult.Score) s));
        }
        return 0;
    }

    private static Map<String, Object> object(Model model, InferenceResult.Score s) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("logprob", s.logprob());
        out.put("mean_logprob", s.meanLogprob());
        out.put("perplexity", s.perplexity());
        out.put("scored_tokens", s.scoredTokens());
        out.put("model", model.name());
        Stats.put(out, s.stats());
        return out;
    }

    /** One corpus perplexity over the lines, scored one at a time (so --ffn-sparsity sees every position). */
    private static void scoreFile(InferenceSession session, List<InputRecord> lines, Map<String, Object> out) {
        double logprob = 0;
        long tokens = 0;
        int truncated = 0;
        long start = System.nanoTime();
        for (InputRecord line : lines) {
            InferenceResult r = session.run(InferenceRequest.score(line.text()));
            if (r instanceof InferenceResult.Failure f) {
                throw line.error(f.reason());
            }
            InferenceResult.Score s = (InferenceResult.Score) r;
            logprob += s.logprob();
            tokens += s.scoredTokens();
            if (s.stats().inputTruncated()) {
                truncated++;
            }
        }
        double mean = logprob / tokens;
        double perplexity = Math.exp(-mean);
        if (!Double.isFinite(logprob) || !Double.isFinite(perplexity)) {
            throw new IllegalArgumentException(lines.get(0).source() + ": the corpus score is not finite (logprob "
                    + logprob + ", perplexity " + perplexity + ")");
        }
        out.put("logprob", logprob);
        out.put("mean_logprob", mean);
        out.put("perplexity", perplexity);
        out.put("scored_tokens", tokens);
        out.put("lines", lines.size());
        out.put("truncated_lines", truncated);
        out.put("millis", (System.nanoTime() - start) / 1e6);
    }
}
