package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.GenerationParams;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.tokenizer.PromptTemplate;
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
        name = "generate",
        mixinStandardHelpOptions = true,
        defaultValueProvider = GenerationDefaults.class,
        description = {
            "Continue a prompt: {\"text\": ..., \"tokens\": [...], ...}.",
            "With --input, every non-blank line is a prompt of its own: one JSON object per line (JSON Lines, with"
                    + " \"line\" and \"id\"), the model loaded once, the flags the defaults of every line. jsonl"
                    + " keys: text (the prompt), id, max_new_tokens, temperature, top_k, top_p, seed, stop (a list"
                    + " of strings), each overriding its flag for that line."
        })
final class GenerateCommand implements Callable<Integer> {

    /** The JSON Lines keys generate reads besides "id" and "text" (the Kafka events' parameter names). */
    static final Set<String> JSONL_KEYS = Set.of("max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop");

    /** Most stop strings one jsonl line may give. */
    static final int MAX_STOP_STRINGS = 8;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    InputOptions inputs;

    @Option(names = "--prompt", description = "Text to continue.")
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
        inputs.requireExactlyOne(spec, "--prompt", prompt != null, null, false);
        GenerationParams params;
        try {
            params = new GenerationParams(maxTokens, temperature, topK, topP, seed, stops, true, promptTemplate());
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (inputs.given()) {
            return generateEach(params);
        }
        try (Model model = modelOptions.load()) {
            Json.print(object(model, model.newSession().generate(prompt, params)));
            return 0;
        }
    }

    /** {@code --input}: one generation per line, every line checked before the model loads. */
    private int generateEach(GenerationParams defaults) throws Exception {
        List<InputRecord> records = inputs.read("generate", JSONL_KEYS);
        List<InferenceRequest> requests = new ArrayList<>(records.size());
        for (InputRecord r : records) {
            requests.add(InferenceRequest.generate(r.text(), params(r, defaults)));
        }
        try (Model model = modelOptions.load()) {
            BatchRun.run(
                    model.newSession(),
                    records,
                    requests,
                    inputs.batch,
                    g -> object(model, (InferenceResult.Generation) g));
        }
        return 0;
    }

    /** A line's settings: the flags', with the line's own keys over them. */
    private static GenerationParams params(InputRecord r, GenerationParams p) {
        Integer maxNewTokens = r.has("max_new_tokens") ? r.integer("max_new_tokens", 1, Integer.MAX_VALUE) : null;
        Double temperature = r.has("temperature") ? r.number("temperature") : null;
        Integer topK = r.has("top_k") ? r.integer("top_k", 0, Integer.MAX_VALUE) : null;
        Double topP = r.has("top_p") ? r.number("top_p") : null;
        Long seed = r.has("seed") ? r.int64("seed") : null;
        List<String> stop = r.has("stop") ? r.strings("stop", MAX_STOP_STRINGS) : null;
        try {
            // GenerationParams checks the ranges ("temperature must be 0 (greedy) or in ...").
            if (maxNewTokens != null) {
                p = p.withMaxNewTokens(maxNewTokens);
            }
            if (temperature != null) {
                p = p.withTemperature(temperature);
            }
            if (topK != null) {
                p = p.withTopK(topK);
            }
            if (topP != null) {
                p = p.withTopP(topP);
            }
            if (seed != null) {
                p = p.withSeed(seed);
            }
            if (stop != null) {
                p = p.withStopStrings(stop);
            }
            return p;
        } catch (IllegalArgumentException e) {
            throw r.error(e.getMessage());
        }
    }

    private static Map<String, Object> object(Model model, InferenceResult.Generation g) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("text", g.text());
        out.put("tokens", g.tokens());
        out.put("finish_reason", g.finishReason());
        out.put("model", model.name());
        Stats.put(out, g.stats());
        return out;
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
