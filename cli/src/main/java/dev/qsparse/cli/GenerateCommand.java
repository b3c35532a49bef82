package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        defaultValueProvider = GenerationDefaults.class,
        description = "Continue a prompt: {\"text\": ..., \"tokens\": [...], ...}.")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", required = true, description = "Text to continue.")
    String prompt;

    @Option(names = "--max-tokens", description = "New tokens at most (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(
            names = "--temperature",
            description =
                    "0 = greedy (default ${DEFAULT-VALUE}); otherwise in [1e-4, 10]: a smaller non-zero value is rejected.")
    double temperature;

    @Option(
            names = "--top-k",
            description = "Sample among the K most likely tokens; 0 = all (default ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop string; may repeat (default: none).")
    List<String> stops;

    @Override
    public Integer call() throws Exception {
        GenerationParams params;
        try {
            params = new GenerationParams(maxTokens, temperature, topK, topP, seed, stops, true);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        try (Model model = modelOptions.load()) {
            InferenceResult.Generation g = model.newSession().generate(prompt, params);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("text", g.text());
            out.put("tokens", g.tokens());
            out.put("finish_reason", g.finishReason());
            out.put("model", model.name());
            Stats.put(out, g.stats());
            Json.print(out);
            return 0;
        }
    }
}
