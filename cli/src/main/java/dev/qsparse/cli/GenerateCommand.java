package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
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

    @Option(
            names = "--chat",
            paramLabel = "TEMPLATE",
            description = "Chat-style prompt: llama3, bitnet, chatml, or a template with {text} where the prompt goes"
                    + " (its special tokens become control tokens; the prompt stays literal text).")
    String chat;

    @Option(
            names = "--chat-stop",
            paramLabel = "TOKEN",
            description = "End-of-turn token that ends generation, for a --chat template string; may repeat.")
    List<String> chatStops;

    @Override
    public Integer call() throws Exception {
        GenerationParams params;
        try {
            params = new GenerationParams(maxTokens, temperature, topK, topP, seed, stops, true, promptTemplate());
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

    /** The --chat template: a built-in name, or a template string (with its --chat-stop tokens). */
    private PromptTemplate promptTemplate() {
        boolean custom = chat != null && chat.contains(PromptTemplate.TEXT);
        if (chatStops != null && !chatStops.isEmpty() && !custom) {
            throw new IllegalArgumentException("--chat-stop goes with a --chat template string containing "
                    + PromptTemplate.TEXT + ", not with a built-in template");
        }
        if (chat == null) {
            return null;
        }
        return custom ? PromptTemplate.parse(chat, chatStops) : PromptTemplate.named(chat);
    }
}
