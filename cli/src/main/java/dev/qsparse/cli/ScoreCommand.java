package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceResult;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "score", description = "Log-likelihood of a text: {\"logprob\": ..., \"mean_logprob\": ..., \"perplexity\": ...}.")
final class ScoreCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--text", required = true, description = "Text to score.")
    String text;

    @Override
    public Integer call() throws Exception {
        try (Model model = modelOptions.load()) {
            InferenceResult.Score s = model.newSession().score(text);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("logprob", s.logprob());
            out.put("mean_logprob", s.meanLogprob());
            out.put("perplexity", s.perplexity());
            out.put("scored_tokens", s.scoredTokens());
            out.put("model", model.name());
            Stats.put(out, s.stats());
            Json.print(out);
            return 0;
        }
    }
}
