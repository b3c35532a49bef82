package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "score", mixinStandardHelpOptions = true, description = {
    "Log-likelihood of a text: {\"logprob\": ..., \"mean_logprob\": ..., \"perplexity\": ...}.",
    "With --file, every non-empty line is scored as its own text and the corpus perplexity is "
        + "exp(-(sum of logprobs) / (sum of scored tokens)), as training/evaluate.py computes it."})
final class ScoreCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", required = true, description = "Text to score.")
        String text;

        @Option(names = "--file", required = true, paramLabel = "FILE",
                description = "UTF-8 file: score each non-empty line, report the corpus perplexity.")
        Path file;
    }

    @Override
    public Integer call() throws Exception {
        try (Model model = modelOptions.load()) {
            InferenceSession session = model.newSession();
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
                scoreFile(session, input.file, out);
                out.put("model", model.name());
            }
            Json.print(out);
            return 0;
        }
    }

    private static void scoreFile(InferenceSession session, Path file, Map<String, Object> out) throws Exception {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        double logprob = 0;
        long tokens = 0;
        int scoredLines = 0;
        int truncated = 0;
        long start = System.nanoTime();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            InferenceResult r = session.run(dev.qsparse.runtime.inference.InferenceRequest.score(line));
            if (r instanceof InferenceResult.Score s) {
                logprob += s.logprob();
                tokens += s.scoredTokens();
                scoredLines++;
                if (s.stats().inputTruncated()) {
                    truncated++;
                }
            }
        }
        double mean = tokens == 0 ? Double.NaN : logprob / tokens;
        out.put("logprob", logprob);
        out.put("mean_logprob", mean);
        out.put("perplexity", Math.exp(-mean));
        out.put("scored_tokens", tokens);
        out.put("lines", scoredLines);
        out.put("truncated_lines", truncated);
        out.put("millis", (System.nanoTime() - start) / 1e6);
    }
}
