package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.Pooling;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "embed",
        mixinStandardHelpOptions = true,
        description = "Embed a text: {\"embedding\": [...], ...} (L2-normalised; an encoder's only when its"
                + " modules.json has a Normalize module).")
final class EmbedCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--text", required = true, description = "Text to embed.")
    String text;

    @Option(
            names = "--pooling",
            description = "mean, last, cls or max (default: the model's own: an encoder's 1_Pooling, else mean).")
    String pooling;

    @Override
    public Integer call() throws Exception {
        Pooling p = pooling == null ? null : Pooling.fromName(pooling);
        try (Model model = modelOptions.load()) {
            InferenceResult.Embedding e = model.newSession().embed(text, p);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("embedding", e.vector());
            out.put("dimension", e.vector().length);
            out.put("pooling", e.pooling().name().toLowerCase(java.util.Locale.ROOT));
            out.put("model", model.name());
            Stats.put(out, e.stats());
            Json.print(out);
            return 0;
        }
    }
}
